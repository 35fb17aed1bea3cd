"""`manage.py migtool_history`: `migtool history` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("history")

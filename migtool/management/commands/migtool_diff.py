"""`manage.py migtool_diff`: `migtool diff` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("diff")

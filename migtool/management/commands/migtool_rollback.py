"""`manage.py migtool_rollback`: `migtool rollback` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("rollback")

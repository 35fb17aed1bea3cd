"""`manage.py migrate_safe`: `migtool migrate-safe` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("migrate-safe")

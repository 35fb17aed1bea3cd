"""`manage.py migtool_fleet`: `migtool fleet` and its subcommands (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("fleet")

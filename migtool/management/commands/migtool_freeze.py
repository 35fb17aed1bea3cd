"""`manage.py migtool_freeze`: `migtool freeze` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("freeze")

"""`manage.py migtool_verify`: `migtool verify` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("verify")

"""`manage.py migtool_releases`: `migtool releases` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("releases")

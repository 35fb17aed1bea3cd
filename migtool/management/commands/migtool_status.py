"""`manage.py migtool_status`: `migtool status` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("status")

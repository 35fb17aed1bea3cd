"""`manage.py migtool_doctor`: `migtool doctor` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("doctor")

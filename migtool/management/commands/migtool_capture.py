"""`manage.py migtool_capture`: `migtool capture` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("capture")

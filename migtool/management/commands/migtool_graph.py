"""`manage.py migtool_graph`: `migtool graph` (see migtool.django_adapter.management)."""

from migtool.django_adapter.management import management_command

Command = management_command("graph")

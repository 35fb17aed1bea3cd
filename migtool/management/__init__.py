"""Django management commands, found when ``"migtool"`` is in ``INSTALLED_APPS``."""

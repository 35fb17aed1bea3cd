"""Turn core values into Rich tables and JSON payloads.  Nothing here prints."""

"""Orders placed for catalog products."""

"""Products for sale."""

"""One module per command: parse options, call ``migtool.api``, render the result."""

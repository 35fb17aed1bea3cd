"""The pure graph-analysis core: standard library and ``migtool.errors`` only.

Nothing in this package imports Django, Click or Rich, touches a database or
does I/O, so every function here is deterministic and testable on hand-built
graphs.
"""

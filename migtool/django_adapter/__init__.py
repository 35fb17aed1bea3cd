"""The one layer that imports Django.

Everything Django raises is translated here into ``migtool.errors`` types, and
everything Django returns is turned into ``migtool.core`` values.
"""

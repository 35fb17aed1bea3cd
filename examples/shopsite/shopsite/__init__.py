"""Example project used to exercise migtool (see ../RELEASES.md)."""

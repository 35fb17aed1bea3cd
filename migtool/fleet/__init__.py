"""Fleets: one migtool command run over many targets (database aliases, PostgreSQL schemas).

Why a package of its own: a fleet run is orchestration (which targets, in what
order, how many at once, what to do when one fails) around the per-database
use cases in ``migtool.api``, which stay unchanged.  ``targets`` is pure (the
target value and how a fleet is named); the runner moves work between
processes and keeps each target's journal the source of truth.
"""

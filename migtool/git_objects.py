"""Files of a git commit as a checkout would write them, read with the ``git`` command.

Why: releases shipped before migtool was adopted exist only as git tags.
Freezing them needs the migration files of each tag, but a checkout would
touch the user's work tree and importing would run old code.  So this module
asks git for objects only: ``rev-parse`` for refs, ``ls-tree`` for a tree,
one ``cat-file --batch`` for many blobs.  Arguments are separate argv
elements after ``--end-of-options`` where git allows it, never a shell.

Checksums must match those of ``freeze`` on a checkout, which hashes the bytes
on disk.  A checkout converts some blobs (``core.autocrlf``, ``.gitattributes``
``eol``/``text``/``filter``/``ident``), so the files such settings could touch
are read through ``cat-file --filters``, git's own conversion, one process
each (``--batch --filters`` prints the unconverted size in git 2.39, so its
output cannot be split); every other file is the blob as is.  Attributes are
those of the current work tree, as for ``git cat-file --filters``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from migtool.core.source_graph import TreeEntry
from migtool.errors import GitError, InputError

_CONVERTING_ATTRIBUTES = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")


class GitRepository:
    """The git repository containing ``directory``."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("git") is None:
            raise GitError("The git command is not installed.", hint="Install git; freezing from git refs runs it.")
        self.directory = directory
        self.toplevel = Path(self._git("rev-parse", "--show-toplevel", what="find the repository").strip())
        self._converting: bool | None = None

    def _run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(self.directory), *args], input=input, capture_output=True, check=False)

    def _git(self, *args: str, what: str, input: bytes | None = None) -> str:
        result = self._run(*args, input=input)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(
                f"git could not {what} in {self.directory}: {message[-1] if message else 'no message'}.",
                hint="Run migtool inside the project's git repository (a clone with its history and tags).",
            )
        return result.stdout.decode()

    @property
    def shallow(self) -> bool:
        return self._git("rev-parse", "--is-shallow-repository", what="inspect the repository").strip() == "true"

    def _shallow_hint(self) -> str:
        if self.shallow:
            return "This is a shallow clone: run 'git fetch --tags --unshallow' first."
        return "List the refs with 'git tag' or 'git branch -a'; fetch missing tags with 'git fetch --tags'."

    def commit(self, ref: str) -> str:
        """Return the commit ``ref`` names (an annotated tag is peeled)."""
        result = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if result.returncode != 0 or ref.startswith("-"):
            raise InputError(f"No commit {ref!r} in the git repository {self.toplevel}.", hint=self._shallow_hint())
        return result.stdout.decode().strip()

    def tags(self, pattern: str) -> list[str]:
        """Return the tags matching the glob ``pattern``; none at all in a shallow clone is an error."""
        tags = self._git("tag", "--list", "--", pattern, what="list tags").split()
        if not tags:
            raise InputError(f"No git tag matches {pattern!r} in {self.toplevel}.", hint=self._shallow_hint())
        return tags

    def tree(self, commit: str) -> list[TreeEntry]:
        """Every file and folder of ``commit``'s tree, recursively, paths relative to the
        top level; folders have mode ``040000`` (their id changes when anything inside does)."""
        output = self._git("ls-tree", "-r", "-t", "-z", "--full-tree", commit, what=f"list the tree of {commit}")
        entries = []
        for record in output.split("\0"):
            if record:
                meta, _, path = record.partition("\t")
                mode, _kind, oid = meta.split(" ")
                entries.append(TreeEntry(path, mode, oid))
        return entries

    def read(self, entries: Sequence[TreeEntry]) -> dict[str, bytes]:
        """Return the bytes a checkout would write for each entry, by path.

        One ``cat-file --batch`` reads every blob; see the module docstring for
        the files git would convert.
        """
        if not entries:
            return {}
        requests = "".join(f"{e.oid}\n" for e in entries).encode()
        result = self._run("cat-file", "--batch", input=requests)
        if result.returncode != 0:
            raise GitError(f"git cat-file failed: {result.stderr.decode(errors='replace').strip()}.")
        contents: dict[str, bytes] = {}
        data, position = result.stdout, 0
        for entry in entries:
            end = data.index(b"\n", position)
            header = data[position:end].split(b" ")
            if len(header) != 3:
                raise GitError(f"git cat-file could not read {entry.path} ({data[position:end].decode()}).")
            size = int(header[2])
            contents[entry.path] = data[end + 1 : end + 1 + size]
            position = end + 2 + size
        for entry in self._converted(entries):
            contents[entry.path] = self._filtered(entry)
        return contents

    def _converted(self, entries: Iterable[TreeEntry]) -> list[TreeEntry]:
        """The entries a checkout might convert: all of them under ``core.autocrlf=true``,
        else those with a converting attribute set."""
        entries = list(entries)
        autocrlf = self._run("config", "--get", "core.autocrlf").stdout.decode().strip().lower()
        if autocrlf in ("true", "yes", "on", "1"):
            return entries
        paths = "".join(f"{e.path}\0" for e in entries).encode()
        output = self._git(
            "check-attr", "-z", "--stdin", *_CONVERTING_ATTRIBUTES, what="read .gitattributes", input=paths
        )
        fields = output.split("\0")
        touched = {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] != "unspecified"}
        return [e for e in entries if e.path in touched]

    def _filtered(self, entry: TreeEntry) -> bytes:
        result = self._run("cat-file", "--filters", f"--path={entry.path}", entry.oid)
        if result.returncode != 0:
            raise GitError(f"git cat-file --filters could not read {entry.path}.")
        return result.stdout

from __future__ import annotations

import click

from migtool import api
from migtool.cli.context import AppContext
from migtool.cli.options import format_option, project_options
from migtool.errors import InputError
from migtool.render.payloads import freeze_tags_to_dict, freeze_to_dict
from migtool.render.tables import freeze_table, freeze_tags_table


@click.command("freeze")
@click.option("--release", metavar="NAME", help="Release name, e.g. 2.0.3.")
@click.option("--force", is_flag=True, help="Overwrite an existing release file.")
@click.option("--git-ref", metavar="REF", help="Freeze the migrations as they are at this git tag, branch or commit.")
@click.option("--git-tags", metavar="PATTERN", help="Freeze every git tag matching this glob, e.g. 'v*'.")
@click.option("--name-from-tag", metavar="s/REGEX/REPL/", help="Release name from the tag name, e.g. 's/^v//'.")
@click.option(
    "--external",
    type=click.Choice(api.EXTERNAL_CHOICES),
    default="unknown",
    show_default=True,
    help="With git: apps outside the repository are 'unknown' (rollback leaves them alone), "
    "or recorded as installed today ('current').",
)
@click.option("--skip-unreadable", is_flag=True, help="With git: write the release without apps that cannot be read.")
@format_option
@project_options
@click.pass_obj
def freeze(
    app: AppContext,
    *,
    release: str | None,
    force: bool,
    git_ref: str | None,
    git_tags: str | None,
    name_from_tag: str | None,
    external: str,
    skip_unreadable: bool,
) -> None:
    """Snapshot every migration on disk as release NAME (no database needed).

    Writes releases/NAME.json: per app the leaf migrations, the full set of
    migrations, each squash's replaces and the sha256 of every file.  Commit it.

    With --git-ref, the migrations are read from git as they are at REF,
    without a checkout and without importing them; --git-tags does so for
    every matching tag.

    \b
      migtool freeze --release 2.0.3
      migtool freeze --release 2.0.3 --git-ref v2.0.3
      migtool freeze --git-tags 'v*' --name-from-tag 's/^v//'
    """
    git = git_ref is not None or git_tags is not None
    if git_tags is not None and (release is not None or git_ref is not None):
        raise InputError("--git-tags names the releases itself.", hint="Drop --release and --git-ref.")
    if git_tags is None and release is None:
        raise InputError("freeze needs --release NAME (or --git-tags PATTERN).", hint="migtool freeze --release 2.0.3")
    if name_from_tag is not None and git_tags is None:
        raise InputError("--name-from-tag only applies to --git-tags.", hint="Pass --git-tags PATTERN.")
    if not git and (skip_unreadable or external != "unknown"):
        raise InputError("--external and --skip-unreadable apply to freezing from git.", hint="Pass --git-ref REF.")
    project = app.project()
    if git_tags is not None:
        frozen = api.freeze_git_tags(
            project,
            git_tags,
            name_from_tag=name_from_tag,
            force=force,
            external=external,
            skip_unreadable=skip_unreadable,
        )
        app.emit(freeze_tags_to_dict(frozen), freeze_tags_table(frozen, ascii_only=app.ascii_only))
        written = sum(1 for f in frozen if f.snapshot is not None)
        app.say(
            f"Froze {written} release(s) from {len(frozen)} tag(s) matching {git_tags!r} -> {project.store.directory}"
        )
        return
    assert release is not None
    if git_ref is not None:
        result = api.freeze_from_git(
            project, release, git_ref, force=force, external=external, skip_unreadable=skip_unreadable
        )
    else:
        result = api.freeze_release(project, release, force=force)
    app.emit(freeze_to_dict(result), freeze_table(result, ascii_only=app.ascii_only))
    snapshot = result.snapshot
    origin = f" from git {git_ref} (commit {snapshot.source['commit'][:12]})" if snapshot.source else ""
    total = len(snapshot.keys())
    app.say(f"Froze release {release}{origin}: {total} migrations in {len(snapshot.apps)} apps -> {result.path}")
    if snapshot.external:
        app.say(f"Not frozen (outside the repository; rollback leaves them alone): {', '.join(snapshot.external)}.")
    for label, why in snapshot.unreadable.items():
        app.say(f"Not frozen (unreadable): {label}: {why}")

"""The use cases, as plain functions: the CLI is one client, tests and scripts another.

Each function takes a ``Project`` (the user's Django project, set up lazily),
does its work through the adapter and the pure core, and returns values for a
renderer.  Nothing here prints.  One module per role; this package names
every use case so callers write ``api.preview_rollback`` and never care which
module holds it.
"""

from migtool.api.capture import capture_sources
from migtool.api.fleet import (
    FleetOrder,
    SchemaSelection,
    fleet_command,
    fleet_status,
    new_fleet_run,
    read_each,
    run_target,
    select_targets,
    up_to_date_targets,
)
from migtool.api.git_freeze import EXTERNAL_CHOICES, TagFreeze, freeze_from_git, freeze_git_tags
from migtool.api.graph import draw_changes, draw_project
from migtool.api.journal import diagnose_project, run_details, run_history
from migtool.api.migrate import MigratePreview, execute_migrate, preview_migrate, refuse_if_unsafe
from migtool.api.project import NOW, Project
from migtool.api.rehearse import rehearse_migrate, rehearse_rollback
from migtool.api.releases import (
    FreezeResult,
    ReleaseSummary,
    database_state,
    diff_releases,
    freeze_release,
    list_releases,
)
from migtool.api.rollback import (
    RollbackPreview,
    execute_rollback,
    preview_rollback,
    preview_rollback_last,
    refuse_if_blocked,
    rollback_sql,
)
from migtool.api.running import exclusive, run_journaled
from migtool.api.verify import StepResult, VerifyReport, verify_releases

__all__ = [
    "EXTERNAL_CHOICES",
    "NOW",
    "FleetOrder",
    "FreezeResult",
    "MigratePreview",
    "Project",
    "ReleaseSummary",
    "RollbackPreview",
    "capture_sources",
    "SchemaSelection",
    "StepResult",
    "TagFreeze",
    "VerifyReport",
    "database_state",
    "diagnose_project",
    "diff_releases",
    "draw_changes",
    "draw_project",
    "execute_migrate",
    "execute_rollback",
    "exclusive",
    "fleet_command",
    "fleet_status",
    "freeze_from_git",
    "freeze_git_tags",
    "freeze_release",
    "list_releases",
    "new_fleet_run",
    "preview_migrate",
    "preview_rollback",
    "preview_rollback_last",
    "read_each",
    "refuse_if_blocked",
    "refuse_if_unsafe",
    "rehearse_migrate",
    "rehearse_rollback",
    "rollback_sql",
    "run_details",
    "run_history",
    "run_journaled",
    "run_target",
    "select_targets",
    "up_to_date_targets",
    "verify_releases",
]

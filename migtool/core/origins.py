"""Whose migrations are they: the project's own, or an installed distribution's.

Why this exists: a package upgrade (``pip install -U wagtail``) may rewrite the
package's own old migration files.  The project cannot "restore them from
version control", and the release that froze them has shipped, so judging them
like the project's own edits keeps ``doctor`` red for good.  migtool therefore
records, per app, the distribution its migrations came from (name and version,
at freeze time), and judges drift in such apps on its own terms
(``upstream-edited``).  A setting, ``MIGTOOL_DRIFT``, lets a project say how
each app or distribution is judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migtool.errors import ConfigurationError

OWN, WARNING, INFO, IGNORE = "own", "warning", "info", "ignore"
POLICIES = (OWN, WARNING, INFO, IGNORE)


@dataclass(frozen=True, order=True)
class Distribution:
    """An installed distribution (what ``pip`` installs), as ``name`` and ``version``."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Ownership:
    """Which apps' migrations come from installed distributions now, and the
    project's ``MIGTOOL_DRIFT`` policy: app label or distribution name to one of

    * ``"own"``: judge the app as the project's own (an installed copy of the
      project, or a vendored package);
    * ``"warning"`` / ``"info"``: report its drift findings at that severity;
    * ``"ignore"``: report no drift for it.

    The project's own apps may be downgraded or ignored in ``doctor`` too, but a
    rollback stays strict for them: only ``--allow-drift`` runs edited code.
    """

    installed: Mapping[str, Distribution] = field(default_factory=dict)
    policy: Mapping[str, str] = field(default_factory=dict)

    def policy_for(self, app: str) -> str | None:
        """The policy set for ``app``: by its label first, else by its distribution's name."""
        if app in self.policy:
            return self.policy[app]
        distribution = self.installed.get(app)
        return self.policy.get(distribution.name) if distribution else None

    def for_rollback(self) -> Ownership:
        """The same, without downgrades or exclusions: a rollback judges every app's drift."""
        return Ownership(self.installed, {key: policy for key, policy in self.policy.items() if policy == OWN})

    def upstream(self, app: str) -> Distribution | None:
        """The distribution whose files ``app``'s migrations are, unless the project owns them."""
        distribution = self.installed.get(app)
        return distribution if distribution is not None and self.policy_for(app) != OWN else None


def check_policy(value: object) -> dict[str, str]:
    """Validate the ``MIGTOOL_DRIFT`` setting (a dict of label or distribution name to a policy)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and v in POLICIES for k, v in value.items()):
        raise ConfigurationError(
            f"settings.MIGTOOL_DRIFT must map app labels or distribution names to one of "
            f"{', '.join(POLICIES)}; it is {value!r}.",
            hint='For example MIGTOOL_DRIFT = {"wagtailcore": "info", "taggit": "ignore", "myproject": "own"}.',
        )
    return dict(value)

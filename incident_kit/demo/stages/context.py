"""What a stage may use of the environment staging it: a small protocol, so stages never import it.

:class:`~incident_kit.demo.environment.DemoEnvironment` satisfies :class:`StageContext`; a stage
(and the helpers in :mod:`..procs`) are typed against this protocol only, so the environment ->
stages import goes one way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from ..faults import Fault
    from ..history import Story
    from ..pgcluster import PostgresCluster


class StageContext(Protocol):
    """The running demo as a stage sees it."""

    #: The demo's work directory (logs/, repo/, secrets/, the stage's own files).
    workdir: Path
    #: The throwaway PostgreSQL cluster (``psql``, ``port``, ``url``), None before it started.
    cluster: "PostgresCluster | None"
    #: Port of the shop service on 127.0.0.1, and its process (None before it started).
    http_port: int
    service: "subprocess.Popen[bytes] | None"
    #: The history variant written to disk, and the story of known answers (facts filled by the stage).
    fault: "Fault | None"
    story: "Story | None"
    #: Helper processes the stage started, stopped by pid when the demo stops.
    processes: list[subprocess.Popen[bytes]]
    #: The scenario parameters pointing at the demo, and the part the stage added.
    parameters: dict[str, Any]
    stage_parameters: dict[str, Any]

    @property
    def base_url(self) -> str:
        """Return the shop service's base URL."""

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Register ``fn`` to run when the demo stops."""


__all__ = ["StageContext"]

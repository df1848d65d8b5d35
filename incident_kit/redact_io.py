"""The write boundary: everything that leaves the kernel, the runner or the server is redacted.

* :func:`session_redactor` is this process's redactor: built-in rules, ``redaction.yaml``, and the
  exact values of the run's ``env:``/``file:`` references (the runner hands the kernel the
  *references*, never values, in ``INCIDENT_KIT_REDACT_REFS``) and of secret-named variables.
* :func:`clip` redacts, then cuts: titles, examples and table cells are made from redacted text,
  so a token cut in half (``ghp_`` + 16 characters) is never left behind.
* :func:`redact_run` redacts every file of a run directory in place, with the run's own parameters
  read back from its notebook: the runner calls it after writing, the server's resolution
  re-render calls it after re-rendering.
* :func:`redacting_path` makes papermill write the notebook redacted each time it saves, so the
  in-progress notebook of a run killed mid-way holds no secret either.
* :class:`RedactingFilter` redacts log records (server logs, stderr).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

from .redact import Redactor, redactor

REFS_ENV = "INCIDENT_KIT_REDACT_REFS"
_SCHEME = "incident-kit-redacted://"
_lock = threading.Lock()
_session: tuple[tuple[str, str], Redactor] | None = None
_writers: dict[str, Redactor] = {}


def session_redactor() -> Redactor:
    """Return this process's redactor (built once per ``INCIDENT_KIT_REDACT_REFS`` and working
    directory): built-in and configured rules plus the exact secret values in reach.
    Raises :class:`~incident_kit.errors.ConfigError` for a bad ``redaction.yaml``."""
    global _session
    key = (os.environ.get(REFS_ENV, ""), os.getcwd())
    with _lock:
        if _session is None or _session[0] != key:
            try:
                refs = json.loads(key[0]) if key[0] else []
            except ValueError:
                refs = []
            params = {f"ref_{i}": r for i, r in enumerate(refs) if isinstance(r, str)}
            _session = (key, redactor(parameters=params))
        return _session[1]


def references(parameters: Mapping[str, Any]) -> list[str]:
    """Return every ``env:``/``file:`` reference string inside ``parameters`` (nested too)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith(("env:", "file:")):
            out.append(value)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(dict(parameters))
    return sorted(set(out))


def clip(text: Any, limit: int, *, redactor: Redactor | None = None, ellipsis: str = "…") -> str:
    """Return ``str(text)`` redacted, then cut to at most ``limit`` characters (``ellipsis`` marks
    a cut); a cut never splits a ``[REDACTED:kind]`` label."""
    s, _ = (redactor or session_redactor()).text(str(text))
    if len(s) <= limit:
        return s
    cut = s[: max(0, limit - len(ellipsis))]
    i = cut.rfind("[REDACTED")
    if i >= 0 and "]" not in cut[i:]:
        cut = cut[:i]
    return cut + ellipsis


def run_parameters(run_dir: str | Path) -> dict[str, Any]:
    """Return the parameters papermill recorded in ``run_dir/notebook.ipynb`` (references as
    written, never resolved); ``{}`` when there is no readable notebook."""
    try:
        nb = json.loads((Path(run_dir) / "notebook.ipynb").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) if isinstance(nb, dict) else {}
    return params if isinstance(params, dict) else {}


def redact_run(run_dir: str | Path, redactor: Redactor | None = None, *,
               parameters: Mapping[str, Any] | None = None, skip: Iterable[str] = ()) -> int:
    """Redact every text, JSON and notebook file under ``run_dir`` in place; return the count.

    Without ``redactor`` one is built for the run: built-in and configured rules and the exact
    values of its references (``parameters``, default: those recorded in its notebook). This is
    the pass the runner applies to what it writes; call it after re-rendering a run's report.
    Raises OSError when a file cannot be rewritten.
    """
    scrub = redactor or _run_redactor(parameters if parameters is not None else run_parameters(run_dir))
    return scrub.directory(run_dir, skip=skip)


def _run_redactor(parameters: Mapping[str, Any]) -> Redactor:
    return redactor(parameters=dict(parameters))


class _RedactingHandler:
    """A papermill I/O handler: reads and writes local files, notebooks redacted on write."""

    def read(self, path: str) -> str:
        return Path(path.removeprefix(_SCHEME)).read_text(encoding="utf-8")

    def listdir(self, path: str) -> list[str]:
        return [str(p) for p in Path(path.removeprefix(_SCHEME)).iterdir()]

    def write(self, buf: str, path: str) -> None:
        real = Path(path.removeprefix(_SCHEME))
        scrub = _writers.get(str(real)) or session_redactor()
        try:
            nb = json.loads(buf)
        except ValueError:
            text, _ = scrub.text(buf)
        else:
            nb, _ = scrub.notebook(nb)
            text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        tmp = real.with_name(f".{real.name}.partial-tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, real)

    def pretty_path(self, path: str) -> str:
        return path.removeprefix(_SCHEME)


def redacting_path(dest: str | Path, redactor: Redactor) -> str:
    """Return a papermill output path for ``dest`` whose every save is redacted by ``redactor``
    (registered once per process; :func:`release_path` forgets it)."""
    from papermill.iorw import papermill_io

    with _lock:
        if not any(scheme == _SCHEME for scheme, _ in papermill_io._handlers):  # noqa: SLF001 - papermill has no lookup
            papermill_io.register(_SCHEME, _RedactingHandler())
        _writers[str(Path(dest))] = redactor
    return _SCHEME + str(Path(dest))


def release_path(dest: str | Path) -> None:
    """Forget the redactor :func:`redacting_path` registered for ``dest``."""
    with _lock:
        _writers.pop(str(Path(dest)), None)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and its arguments) in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is left to the handler
            return True
        clean, n = session_redactor().text(message)
        if n:
            record.msg, record.args = clean, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root logger),
    so no log line written to a file or stderr holds a credential."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


__all__ = ["install_log_redaction", "REFS_ENV", "session_redactor", "references", "clip", "run_parameters", "redact_run",
           "redacting_path", "release_path", "RedactingFilter"]

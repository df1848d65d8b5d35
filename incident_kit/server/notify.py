"""Slack-compatible notification when a run ends (any URL that accepts ``{"text": ...}``).

The webhook URL may be a secret reference (``env:NAME``/``file:/path``). A notification that
fails is reported as one line to the caller and never changes the run's outcome; the URL (which
often embeds a secret) never appears in that line.
"""

from __future__ import annotations

from typing import Any

from ..redact_io import session_redactor
from ..secrets import resolve

_EMOJI = {"ok": ":white_check_mark:", "degraded": ":warning:", "failed": ":x:", "timed_out": ":hourglass:",
          "interrupted": ":x:"}


def message(run: dict[str, Any], report_url: str | None) -> dict[str, Any]:
    """Return the JSON body for a finished run (headline, severity, state and report link), redacted."""
    sev = run.get("severity") or "no severity"
    headline = run.get("headline") or run.get("error") or "no headline"
    alert = (run.get("alert") or {}).get("name") or "alert"
    link = f" <{report_url}|report>" if report_url else ""
    text = f"{_EMOJI.get(run.get('state', ''), '')} [{sev}] {alert} / {run.get('scenario')}: {headline}{link}".strip()
    body = {
        "text": text,
        "run_id": run.get("run_id"), "scenario": run.get("scenario"), "state": run.get("state"),
        "severity": run.get("severity"), "headline": headline, "report_url": report_url,
    }
    return session_redactor().obj(body)[0]  # what leaves for the webhook passes the same redaction


def send(url: str, run: dict[str, Any], report_url: str | None, *, timeout: float = 5.0) -> str | None:
    """POST the notification; returns None on success, else a one-line reason (never raises)."""
    try:
        import httpx

        target = resolve(url, field="notify URL")
        r = httpx.post(str(target), json=message(run, report_url), timeout=timeout)
        if r.status_code >= 400:
            return f"notification webhook answered HTTP {r.status_code}"
        return None
    except Exception as exc:  # noqa: BLE001 - a failed notification never fails the run
        return f"notification failed: {type(exc).__name__}"


__all__ = ["message", "send"]

"""Communication drafts filled from a run's summary, after the runbooks' templates.

Initial notification, status update, resolution notice and status-page text: starting points a
person edits before sending. Unknowns are left as ``[brackets]`` to fill, never guessed.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd


def _hm(value: Any) -> str:
    if not value:
        return "[time]"
    try:
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, TypeError):
        return str(value)


def _duration_min(summary: Mapping[str, Any]) -> str:
    w = summary.get("window") or {}
    if not w.get("start"):
        return "[duration]"
    measured = (summary.get("impact") or {}).get("duration_min")
    if not w.get("end") and isinstance(measured, int | float):
        return f"{int(measured)} minutes"
    end = pd.Timestamp(w["end"]) if w.get("end") else pd.Timestamp(summary.get("finished_at") or pd.Timestamp.now(tz="UTC"))
    minutes = max(0, int((end - pd.Timestamp(w["start"])).total_seconds() // 60))
    return f"{minutes} minutes"


def _impact(summary: Mapping[str, Any]) -> str:
    imp = summary.get("impact") or {}
    rate, failed, total = imp.get("error_rate"), imp.get("requests_failed"), imp.get("requests_total")
    users = imp.get("users_affected")
    if rate is None:
        return "[impact]"
    text = f"{rate:.0%} of requests failing ({failed:,} of {total:,})" if failed is not None and total else f"{rate:.0%} of requests failing"
    return text + (f", {users:,} users affected" if users else "")


def _people(summary: Mapping[str, Any], kind: str) -> str:
    """Return what the responders wrote for ``kind`` (a postmortem's root cause, resolution), or ""."""
    lines = [line.strip() for f in summary.get("findings") or [] if f.get("kind") == kind
             for line in str(f.get("evidence") or "").split("\n") if line.strip()]
    return "; ".join(lines)


def _cause(summary: Mapping[str, Any]) -> str:
    established = _people(summary, "root_cause")
    if established:
        return established
    hyps = summary.get("hypotheses") or []
    return f"{hyps[0].get('cause')} (to be confirmed)" if hyps else "[root cause]"


def drafts(summary: Mapping[str, Any], service: str | None = None) -> dict[str, str]:
    """Return the four drafts (title -> plain text) for ``summary`` (summary.json content)."""
    sev = summary.get("severity") or "[severity]"
    what = service or summary.get("scenario") or "[service]"
    start = _hm((summary.get("window") or {}).get("start"))
    now = _hm(summary.get("finished_at"))
    headline = summary.get("headline") or "[what users see]"
    findings = [f.get("title", "") for f in (summary.get("findings") or [])[:3]]
    found = "\n".join(f"- {t}" for t in findings) or "- [what was found]"
    return {
        "Initial notification": (
            f"INCIDENT DETECTED\n\nSeverity: {sev}\nService: {what}\nImpact: {_impact(summary)}\n"
            f"Detected: {start}\nResponder: [@name]\n\nStatus: Investigating\n{headline}\n"
            "Next Update: [in 15 min]"
        ),
        "Status update": (
            f"STATUS UPDATE - {now}\n\nSeverity: {sev}\nDuration: {_duration_min(summary)}\n\n"
            f"Current Status: [Investigating / Mitigation in progress]\nFindings:\n{found}\n"
            f"Most likely cause: {_cause(summary)}\n\nImpact: {_impact(summary)}\nNext Update: [time]"
        ),
        "Resolution": (
            f"INCIDENT RESOLVED - [time]\n\nSeverity: {sev}\nTotal Duration: {_duration_min(summary)}\n"
            f"User Impact: {_impact(summary)}\n\nRoot Cause: {_cause(summary)}\nMitigation: {_people(summary, 'resolution') or '[what was done]'}\n\n"
            "Next Steps:\n- Postmortem scheduled for [date]\n- Action items to prevent recurrence"
        ),
        "Status page": (
            f"Investigating - {start}\nWe are investigating reports of errors affecting {what}. "
            "Some requests may fail. Our team is actively investigating.\n\n"
            "Identified - [time]\nWe have identified the cause and are implementing a fix.\n\n"
            "Resolved - [time]\nThis incident has been resolved. All systems operational."
        ),
    }


__all__ = ["drafts"]

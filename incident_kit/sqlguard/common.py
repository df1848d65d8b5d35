"""The one-line refusal every sqlguard check raises."""

from __future__ import annotations

from ..errors import MutationRefused


def short(sql: str, n: int = 60) -> str:
    """Return ``sql`` on one line, cut to ``n`` characters."""
    text = " ".join(str(sql).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def refusal(sql: str, why: str, target: str = "") -> MutationRefused:
    """Return the MutationRefused naming the statement and why it is not a plain read."""
    return MutationRefused("sqlguard", target, f"refused {short(sql)!r}: {why}; only a single plain read is allowed")


__all__ = ["refusal", "short"]

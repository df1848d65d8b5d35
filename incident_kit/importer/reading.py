"""Reading a runbook file: bytes to text, with bad encodings counted rather than fatal.

Runbooks come from wikis, exports and copy-paste. Two kinds of damage are handled:

* bytes that are not UTF-8 are decoded with U+FFFD replacement characters and counted;
* "mojibake" (UTF-8 read once as Windows-1252, e.g. ``ðŸš¨`` for 🚨) is repaired line by
  line when the round trip decodes cleanly, and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

#: A lead byte of a multi-byte UTF-8 sequence seen as Latin-1/Windows-1252, followed by a
#: continuation byte seen the same way: the signature of double-decoded UTF-8.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


@dataclass
class RunbookText:
    """A runbook's text and what had to be repaired to read it."""

    path: Path
    text: str
    replaced_bytes: int = 0
    repaired_lines: int = 0


def _as_cp1252_bytes(line: str) -> bytes | None:
    """Return ``line`` encoded back to the bytes a Windows-1252 reader saw, or None if impossible."""
    out = bytearray()
    for ch in line:
        code = ord(ch)
        if code < 0x100:
            out.append(code)
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _repair_run(match: re.Match[str]) -> str:
    """Return a run of non-ASCII characters decoded back to UTF-8 when that works, else unchanged."""
    run = match.group(0)
    raw = _as_cp1252_bytes(run)
    if raw is None:
        return run
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return run


def repair_mojibake(line: str) -> str | None:
    """Return ``line`` with double-decoded UTF-8 undone, or None when it is not mojibake.

    Each run of non-ASCII characters is repaired on its own (a multi-byte UTF-8 character never
    contains ASCII bytes), so real accents and emoji elsewhere on the line are left alone; text
    garbled more than once is repaired up to three times.
    """
    if not _MOJIBAKE.search(line):
        return None
    fixed = line
    for _ in range(3):
        again = _NON_ASCII_RUN.sub(_repair_run, fixed)
        if again == fixed:
            break
        fixed = again
    return fixed if fixed != line else None


def decode_runbook(data: bytes, path: Path) -> RunbookText:
    """Return the text of ``data``: UTF-8 (BOM dropped), bad bytes replaced and mojibake repaired.

    Raises :class:`ConfigError` when the data is binary (NUL bytes) or empty.
    """
    if b"\x00" in data[:8192]:
        raise ConfigError(f"runbook {path}: looks like a binary file; expected a Markdown text file")
    if not data.strip():
        raise ConfigError(f"runbook {path}: is empty; expected a Markdown runbook")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
        replaced = 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        replaced = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    lines = text.splitlines()
    repaired = 0
    for i, line in enumerate(lines):
        fixed = repair_mojibake(line)
        if fixed is None:
            continue
        lines[i] = fixed
        repaired += 1
    return RunbookText(path=path, text="\n".join(lines) + "\n", replaced_bytes=replaced, repaired_lines=repaired)


def read_runbook(path: str | Path) -> RunbookText:
    """Return the decoded text of the runbook at ``path``.

    Raises :class:`ConfigError` (one line, naming the file) when it is missing, a directory,
    unreadable, empty or binary.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"runbook {p}: not found; expected a Markdown file") from None
    except IsADirectoryError:
        raise ConfigError(f"runbook {p}: is a directory; expected a Markdown file") from None
    except OSError as exc:
        raise ConfigError(f"runbook {p}: cannot read it ({exc.strerror or exc})") from None
    return decode_runbook(data, p)


__all__ = ["RunbookText", "read_runbook", "decode_runbook", "repair_mojibake"]

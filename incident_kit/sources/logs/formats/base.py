"""What every parser shares: a block of whole lines in, :class:`Parsed` (an Arrow table of fields, the rejected
and continuation lines) out, and :func:`split_lines`.

Each parser returns a :class:`Parsed` whose rows carry the line numbers they came from, so rows
rejected later (no readable timestamp) can still be shown with their line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


MAX_SAMPLE = 20


@dataclass
class Parsed:
    """One block's result: ``table`` rows, and how to find the line (number, text) each row came from.

    ``locate()`` returns ``(line_numbers, texts)`` aligned with the rows; it is called only when
    a row is rejected after parsing (e.g. an unreadable timestamp), so fast paths stay fast.
    """

    table: pa.Table
    locate: Callable[[], tuple[np.ndarray, pa.Array | None]]
    rejected: int = 0
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)
    continuations: int = 0  # lines that continue the record above (stack traces), kept in its ``exception``
    # rows (table indices) of lines that carry no time: each takes the time of the record before it
    inherit: np.ndarray | None = None
    inherit_formats: tuple[str, ...] = ()

    def reject(self, line_no: int, text: str, reason: str) -> None:
        """Count one rejected line and keep it in the sample while the sample is short."""
        self.rejected += 1
        if len(self.rejected_sample) < MAX_SAMPLE:
            self.rejected_sample.append({"line": int(line_no), "text": text[:500], "reason": reason})

    def reject_lines(self, numbers: np.ndarray, lines: pa.Array, reason: str | Callable[[str], str]) -> None:
        """Count every line of ``lines`` as rejected; only those that fit in the sample are read (``reason(text)``)."""
        room = max(0, MAX_SAMPLE - len(self.rejected_sample))
        for line_no, text in zip(numbers[:room], lines.slice(0, room).to_pylist()):
            self.reject(int(line_no), text, reason(text) if callable(reason) else reason)
        self.rejected += max(0, len(lines) - room)

    def reject_rows(self, rows: np.ndarray, reason: str) -> None:
        """Reject table rows ``rows`` (indices), sampling the first ones with their lines."""
        room = max(0, MAX_SAMPLE - len(self.rejected_sample))
        if room and len(rows):
            numbers, texts = self.locate()
            for row in rows[:room]:
                row = int(row)
                text = (str(texts[row].as_py()) if texts is not None
                        else json.dumps(self.table.slice(row, 1).to_pylist()[0], default=str))
                self.rejected_sample.append({"line": int(numbers[row]), "text": text[:500], "reason": reason})
        self.rejected += len(rows)


def known_lines(numbers: np.ndarray, lines: pa.Array | None) -> Callable[[], tuple[np.ndarray, pa.Array | None]]:
    """Return a ``Parsed.locate`` for rows whose line numbers and texts are already known."""
    return lambda: (numbers, lines)


# ---------------------------------------------------------------- block -> lines

def split_lines(block: bytes, first_line: int) -> tuple[pa.Array, np.ndarray]:
    """Return the non-blank lines of ``block`` as a string array (no line ends) and their line numbers."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if len(block) and (len(ends) == 0 or ends[-1] != len(block) - 1):
        ends = np.append(ends, len(block) - 1 if block.endswith(b"\n") else len(block))
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = np.minimum(ends + 1, len(block))
    raw = pa.Array.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)])
    try:
        lines = raw.cast(pa.large_string())
    except pa.ArrowInvalid:  # not UTF-8: decode with replacement characters
        lines = pa.array([bytes(v).decode("utf-8", "replace") for v in raw.to_pylist()], pa.large_string())
    lines = pc.utf8_rtrim(lines, characters="\r\n")
    numbers = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    lengths = np.diff(offsets)
    maybe_blank = lengths <= 2
    if maybe_blank.any():
        blank = maybe_blank & (pc.utf8_length(lines).to_numpy(zero_copy_only=False) == 0)
        if blank.any():
            lines, numbers = lines.filter(pa.array(~blank)), numbers[~blank]
    return (lines.cast(pa.string()) if len(block) < (1 << 31) - 1 else lines), numbers


__all__ = ["Parsed", "MAX_SAMPLE", "split_lines", "known_lines"]

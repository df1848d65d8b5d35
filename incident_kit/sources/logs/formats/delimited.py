"""CSV with a header (the file's first line, passed on to later blocks), split by Arrow's CSV reader."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa

from .base import Parsed, known_lines, split_lines


def parse_csv(block: bytes, first_line: int, *, header: list[str] | None = None, delimiter: str = ",", **_: Any) -> Parsed:
    """Parse CSV with a header (taken from the file's first line, passed on to later blocks)."""
    import pyarrow.csv as pcsv

    bad: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        bad.append((int(row.number or 0), str(row.text)))
        return "skip"

    skip = 0 if header is not None else 1
    names = header
    if names is None:
        first = block.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        import csv

        names = next(csv.reader([first], delimiter=delimiter))
    table = pcsv.read_csv(
        io.BytesIO(block),
        read_options=pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 24),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(strings_can_be_null=True, timestamp_parsers=[]),
    )
    lines, numbers = split_lines(block, first_line)
    if skip:
        lines, numbers = lines.slice(1), numbers[1:]
    bad_numbers: list[int] = []
    if bad:
        texts = lines.to_pylist()
        wanted = {text for _, text in bad}
        keep = np.ones(len(numbers), dtype=bool)
        for i, text in enumerate(texts):
            if text in wanted and len(bad_numbers) < len(bad):
                keep[i] = False
                bad_numbers.append(int(numbers[i]))
        lines, numbers = lines.filter(pa.array(keep)), numbers[keep]
    if len(numbers) != table.num_rows:  # quoted newlines: numbers are approximate, texts re-serialised
        numbers, lines = np.arange(first_line + skip, first_line + skip + table.num_rows), None
    parsed = Parsed(table, known_lines(numbers, lines))
    for i, (_, text) in enumerate(bad):
        line_no = bad_numbers[i] if i < len(bad_numbers) else first_line
        parsed.reject(line_no, text, f"wrong number of fields (expected {len(names)})")
    return parsed


__all__ = ["parse_csv"]

"""Tables for people: how every scenario shows a DataFrame, in the notebook, the HTML report and report.md.

:func:`install` (called by the Investigation a notebook creates first) registers :func:`html` and
:func:`markdown` as IPython's formatters for DataFrames, so a frame that is a cell's last expression
is shown through this layer in JupyterLab and in the exported report alike: no index column,
column names in words, values by :mod:`.present`, long text cut with the full text in a ``title``
attribute, the "what is different" values with their field (``version = v1.8.0``) and a sparkline
per row when the frame carries its series (:mod:`.sparklines`). Everything is escaped: data never
becomes markup, and nothing here emits a script.
"""

from __future__ import annotations

import html as _html
import weakref
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import present, sparklines

MAX_ROWS = 30
CUT = {"query": 90, "signature": 90, "cause": 100, "evidence": 140, "text": 110, "value": 90, "message": 110}
CUT_DEFAULT = 70


@dataclass
class Context:
    """What a table is told against: the deploys seen so far and the incident start (of an Investigation)."""

    deploys: list[pd.Timestamp] = field(default_factory=list)
    investigation: Any = None

    def reference(self) -> present.Reference | None:
        """Return the last deploy before the incident started (else the last one, else the start), or None."""
        inv = self.investigation() if callable(self.investigation) else None
        start = getattr(inv, "start", None)
        if self.deploys:
            limit = pd.Timestamp(start) + pd.Timedelta(minutes=2) if start is not None else None
            before = [d for d in self.deploys if limit is None or d <= limit]
            return present.Reference(max(before or self.deploys), "the deploy")
        if start is not None:
            return present.Reference(pd.Timestamp(start), "the start")
        return None


CONTEXT = Context()


@dataclass
class Cell:
    """One cell as shown: ``text`` (cut), ``full`` (uncut, or None), ``kind`` (text|num|code|spark)."""

    text: str
    full: str | None = None
    kind: str = "text"
    spark: sparklines.Series | None = None


def _field_of(frame: pd.DataFrame, row: Any) -> str | None:
    """Return the field a "what is different" value belongs to (attrs ``row_field`` or a ``column`` column)."""
    fields = frame.attrs.get("row_field") if frame.attrs else None
    if isinstance(fields, dict) and row in fields:
        return str(fields[row])
    if "column" in frame.columns and frame.index.is_unique and row in frame.index:
        return str(frame.at[row, "column"])
    return None


def _with_field(name: str, text: str) -> str:
    unit = " ms" if name.endswith("_ms") else " s" if name.endswith("_s") else ""
    return f"{present.label(name)} = {text}{unit if text[-1:].isdigit() else ''}"


def rows(frame: pd.DataFrame, *, ref: present.Reference | None = None,
         max_rows: int = MAX_ROWS) -> tuple[list[str], list[list[Cell]], int]:
    """Return (headers, rows of cells, rows left out) of ``frame`` as people read it.

    An unnamed integer index is dropped; a meaningful index (named, or times, or labels) becomes
    the first column. A frame whose attrs carry ``row_series`` gains an "over time" sparkline column.
    """
    frame = frame.copy(deep=False) if frame.attrs.get("row_field") or "column" in frame.columns else frame
    idx = frame.index
    keep_index = not (isinstance(idx, pd.RangeIndex) or (idx.name is None and pd.api.types.is_integer_dtype(idx.dtype)))
    shown = frame.head(max_rows)
    left = max(0, len(frame) - max_rows)
    columns = [c for c in shown.columns if not (str(c) == "column" and "value" in shown.columns)]
    selection = frame.attrs.get("selection") if frame.attrs else None
    headers = ([present.label(idx.name or "")] if keep_index else []) + [
        present.label(" ".join(map(str, c)) if isinstance(c, tuple) else c, selection=selection) for c in columns]
    spark_at = None
    if isinstance(frame.attrs.get("row_series"), dict):
        spark_at = 1 if len(columns) else 0
        headers.insert(spark_at + (1 if keep_index else 0), "over time")
    with_date = _spans_days(shown)
    out: list[list[Cell]] = []
    for label in shown.index:
        cells: list[Cell] = []
        if keep_index:
            cells.append(Cell(present.value(idx.name or "", label, ref, with_date=with_date)))
        for c in columns:
            v = shown.at[label, c] if shown.index.is_unique else shown.loc[label, c].iloc[0]
            text = present.value(c, v, ref, with_date=with_date)
            if str(c) == "value":
                fld = _field_of(frame, label)
                text = _with_field(fld, text) if fld else text
            limit = CUT.get(str(c), CUT_DEFAULT)
            short = present.cut(text, limit)
            kind = "code" if present.is_code(c) else "num" if present.is_numeric(shown[c]) else (
                "when" if pd.api.types.is_datetime64_any_dtype(shown[c].dtype) else "text")
            cells.append(Cell(short, text if short != text else None, kind))
        if spark_at is not None:
            s = sparklines.series_for(frame.attrs, label)
            cells.insert(spark_at + (1 if keep_index else 0), Cell("", None, "spark", s))
        out.append(cells)
    return headers, out, left


def _spans_days(frame: pd.DataFrame) -> bool:
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(frame[c].dtype):
            days = pd.to_datetime(frame[c], utc=True).dropna().dt.floor("D").unique()
            if len(days) > 1:
                return True
    return False


def _mark(ref: present.Reference | None) -> tuple[Any, str]:
    if ref is None or ref.name != "the deploy":
        return None, "deploy"
    return ref.at, "deploy"


def html(frame: pd.DataFrame, *, ref: present.Reference | None = None, max_rows: int = MAX_ROWS) -> str:
    """Return ``frame`` as an HTML table for people (escaped; no index; no script)."""
    ref = ref if ref is not None else CONTEXT.reference()
    headers, body, left = rows(frame, ref=ref, max_rows=max_rows)
    e = _html.escape
    mark, mark_name = _mark(ref)
    parts = ['<table class="ik-table"><thead><tr>']
    parts += [f"<th>{e(h)}</th>" for h in headers]
    parts.append("</tr></thead><tbody>")
    for cells in body:
        parts.append("<tr>")
        for c in cells:
            if c.kind == "spark":
                parts.append(f'<td class="spark">{sparklines.img(c.spark, mark=mark, mark_name=mark_name) if c.spark else present.EMPTY}</td>')
                continue
            title = f' title="{e(c.full)}"' if c.full else ""
            inner = f"<code>{e(c.text)}</code>" if c.kind == "code" and c.text != present.EMPTY else e(c.text)
            style = (' style="text-align:right;white-space:nowrap"' if c.kind == "num" else
                     ' style="white-space:nowrap"' if c.kind == "code" and len(c.text) <= 24 else "")
            parts.append(f'<td class="{c.kind}"{style}{title}>{inner}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if left:
        parts.append(f'<p class="ik-more">and {left:,} more row{"s" if left != 1 else ""}</p>')
    if not len(frame):
        parts = [f'<p class="ik-empty">No rows{" (" + e(", ".join(headers)) + ")" if headers else ""}.</p>']
    return "".join(parts)


def md_escape(text: str) -> str:
    """Return ``text`` safe inside a GFM table cell: no raw HTML, no Markdown markup, no pipes."""
    s = _html.escape(" ".join(str(text).split()), quote=False)
    for ch in "\\`*_[]|#~":
        s = s.replace(ch, "\\" + ch)
    return s


def markdown(frame: pd.DataFrame, *, ref: present.Reference | None = None, max_rows: int = MAX_ROWS) -> str:
    """Return ``frame`` as a GitHub-flavoured Markdown table (sparklines as block characters)."""
    ref = ref if ref is not None else CONTEXT.reference()
    headers, body, left = rows(frame, ref=ref, max_rows=max_rows)
    if not len(frame):
        return "*No rows.*"
    mark, _ = _mark(ref)
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
             "| " + " | ".join("---:" if body and body[0][i].kind == "num" else "---" for i in range(len(headers))) + " |"]
    for cells in body:
        out = []
        for c in cells:
            if c.kind == "spark":
                out.append(f"`{sparklines.blocks(c.spark, mark=mark)}`" if c.spark else present.EMPTY)
            elif c.kind == "code" and c.text != present.EMPTY:
                out.append("`" + c.text.replace("`", "'").replace("|", "¦") + "`")
            else:
                out.append(md_escape(c.text))
        lines.append("| " + " | ".join(out) + " |")
    if left:
        lines.append(f"\n*and {left:,} more row{'s' if left != 1 else ''}*")
    return "\n".join(lines)


def observe(frame: pd.DataFrame) -> None:
    """Note the deploys in an events frame (``kind == "deploy"``) as the reference of later tables."""
    try:
        if {"ts", "kind"} <= set(frame.columns) and len(frame):
            ts = pd.to_datetime(frame.loc[frame["kind"].astype(str) == "deploy", "ts"], utc=True).dropna()
            CONTEXT.deploys = sorted(set(CONTEXT.deploys) | set(ts.tolist()))
    except (TypeError, ValueError, KeyError):
        pass


def install(investigation: Any = None) -> bool:
    """Show DataFrames through this layer in the running IPython kernel; returns False outside IPython.

    ``investigation`` (kept by weak reference) gives the incident start; frames it collects
    are observed for deploys. Safe to call more than once.
    """
    if investigation is not None:
        CONTEXT.investigation = weakref.ref(investigation)
        CONTEXT.deploys = []
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return False
    ip = get_ipython()
    if ip is None:
        return False
    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda f: html(f))
    formatters["text/markdown"].for_type(pd.DataFrame, lambda f: markdown(f))
    return True


__all__ = ["CONTEXT", "Cell", "Context", "html", "install", "markdown", "md_escape", "observe", "rows"]

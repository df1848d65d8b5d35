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
#: The plain cells of a table, beside its HTML in a notebook's outputs (read by report.md).
TABLE_MIME = "application/vnd.incident-kit.table+json"
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
    """Return the field a "what is different" value belongs to (attrs ``row_field``: row label -> field)."""
    fields = frame.attrs.get("row_field") if frame.attrs else None
    return str(fields[row]) if isinstance(fields, dict) and row in fields else None


def _with_field(name: str, text: str) -> str:
    unit = " ms" if name.endswith("_ms") else " s" if name.endswith("_s") else ""
    return f"{present.label(name)} = {text}{unit if text[-1:].isdigit() else ''}"


def rows(frame: pd.DataFrame, *, ref: present.Reference | None = None,
         max_rows: int = MAX_ROWS) -> tuple[list[str], list[list[Cell]], int]:
    """Return (headers, rows of cells, rows left out) of ``frame`` as people read it.

    An unnamed integer index is dropped; a meaningful index (named, times, labels, several levels)
    becomes the first columns. A frame whose attrs carry ``row_series`` gains an "over time"
    sparkline column after its first column.
    """
    labels = list(frame.index[:max_rows])
    left = max(0, len(frame) - max_rows)
    idx = frame.index
    keep_index = not (isinstance(idx, pd.RangeIndex) or (idx.nlevels == 1 and idx.name is None
                                                          and pd.api.types.is_integer_dtype(idx.dtype)))
    shown = frame.head(max_rows)
    if keep_index:
        names = [n if n is not None else ("label" if i == 0 else f"level {i + 1}") for i, n in enumerate(idx.names)]
        taken = {str(c) for c in shown.columns}
        names = [n if str(n) not in taken else f"{n} (index)" for n in names]
        shown = shown.set_axis(idx[:max_rows].set_names(names)).reset_index()
    merged = "value" in shown.columns and "column" in shown.columns
    positions = [i for i, c in enumerate(shown.columns) if not (merged and str(c) == "column")]
    selection = frame.attrs.get("selection") if frame.attrs else None
    headers = [present.label(" ".join(map(str, c)) if isinstance(c, tuple) else c, selection=selection)
               for c in (shown.columns[i] for i in positions)]
    spark_at = None
    if isinstance(frame.attrs.get("row_series"), dict) and not keep_index:
        spark_at = 1 if positions else 0
        headers.insert(spark_at, "over time")
    with_date = _spans_days(shown)
    dtypes = list(shown.dtypes)
    kinds = {col: "code" if present.is_code(shown.columns[col]) else "num" if present.is_numeric_dtype(dtypes[col])
             else "when" if pd.api.types.is_datetime64_any_dtype(dtypes[col]) else "text" for col in positions}
    values = {col: shown.iloc[:, col].tolist() for col in positions}
    out: list[list[Cell]] = []
    for row, label in enumerate(labels):
        cells: list[Cell] = []
        for col in positions:
            c = shown.columns[col]
            text = present.value(c, values[col][row], ref, with_date=with_date)
            if str(c) == "value":
                fld = _field_of(frame, label) if not merged else str(shown.at[shown.index[row], "column"])
                text = _with_field(fld, text) if fld and text != present.EMPTY else text
            text = _redacted(text)  # before the cut: half a secret would no longer be recognised
            short = present.cut(text, CUT.get(str(c), CUT_DEFAULT))
            cells.append(Cell(short, text if short != text else None, kinds[col]))
        if spark_at is not None:
            cells.insert(spark_at, Cell("", None, "spark", sparklines.series_for(frame.attrs, label)))
        out.append(cells)
    return headers, out, left


def _redacted(text: str) -> str:
    if len(text) < 8 or text == present.EMPTY:
        return text
    from ..redact import redact_text

    return redact_text(text)[0]


def _spans_days(frame: pd.DataFrame) -> bool:
    for col in range(frame.shape[1]):
        if pd.api.types.is_datetime64_any_dtype(frame.dtypes.iloc[col]):
            days = pd.to_datetime(frame.iloc[:, col], utc=True).dropna().dt.floor("D").unique()
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
            cls = c.kind + (" long" if c.kind == "code" and len(c.text) > 24 else "")
            parts.append(f'<td class="{cls}"{style}{title}>{inner}</td>')
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


def to_json(frame: pd.DataFrame, *, ref: present.Reference | None = None, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """Return ``frame`` as plain cells (``TABLE_MIME`` data): headers, rows of {text, full, kind}, rows left out.

    Notebooks carry this beside the HTML; report.md escapes it only after the runner's redaction
    (Markdown escapes such as a backslash before ``_`` would hide secrets from the redaction patterns).
    """
    ref = ref if ref is not None else CONTEXT.reference()
    headers, body, left = rows(frame, ref=ref, max_rows=max_rows)
    mark, _ = _mark(ref)
    out = [[{"text": sparklines.blocks(c.spark, mark=mark) if c.spark else present.EMPTY, "kind": "spark"}
            if c.kind == "spark" else {"text": c.text, "full": c.full, "kind": c.kind} for c in cells] for cells in body]
    return {"headers": headers, "rows": out, "left": left, "empty": not len(frame)}


def markdown_from(table: dict[str, Any]) -> str:
    """Return a ``to_json`` table as a GitHub-flavoured Markdown table (data escaped, sparklines as block characters)."""
    headers, body, left = table.get("headers") or [], table.get("rows") or [], int(table.get("left") or 0)
    if table.get("empty") or not headers:
        return "*No rows.*"
    kinds = [c.get("kind") for c in body[0]] if body else []
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
             "| " + " | ".join("---:" if i < len(kinds) and kinds[i] == "num" else "---" for i in range(len(headers))) + " |"]
    for cells in body:
        out = []
        for c in cells:
            text = str(c.get("text") or "")
            if c.get("kind") in ("spark", "code") and text and text != present.EMPTY:
                out.append("`" + text.replace("`", "'").replace("|", "¦") + "`")
            else:
                out.append(md_escape(text))
        lines.append("| " + " | ".join(out) + " |")
    if left:
        lines.append(f"\n*and {left:,} more row{'s' if left != 1 else ''}*")
    return "\n".join(lines)


def markdown(frame: pd.DataFrame, *, ref: present.Reference | None = None, max_rows: int = MAX_ROWS) -> str:
    """Return ``frame`` as a GitHub-flavoured Markdown table (sparklines as block characters)."""
    return markdown_from(to_json(frame, ref=ref, max_rows=max_rows))


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
    if TABLE_MIME not in formatters:
        formatters[TABLE_MIME] = _table_formatter()(parent=ip.display_formatter)
    formatters["text/html"].for_type(pd.DataFrame, _safe(html))
    formatters["text/html"].for_type(pd.Series, _safe(lambda s: html(_series_frame(s))))
    formatters[TABLE_MIME].for_type(pd.DataFrame, _safe(to_json, fallback=False))
    formatters[TABLE_MIME].for_type(pd.Series, _safe(lambda s: to_json(_series_frame(s)), fallback=False))
    return True


def _series_frame(s: pd.Series) -> pd.DataFrame:
    return s.to_frame(name=s.name if s.name is not None else "value")


def _safe(render: Any, *, fallback: bool = True) -> Any:
    """Wrap ``render`` so a frame it cannot show falls back to pandas' own table (HTML) or to nothing."""
    def show(obj: Any) -> Any:
        try:
            return render(obj)
        except Exception:  # noqa: BLE001 - a display must never fail a cell
            if not fallback:
                return None
            frame = obj if isinstance(obj, pd.DataFrame) else _series_frame(obj)
            return frame.head(MAX_ROWS).to_html(index=False, escape=True, border=0)
    return show


def _table_formatter() -> type:
    """Return the IPython formatter class of ``TABLE_MIME`` (a dict per table)."""
    from IPython.core.formatters import BaseFormatter
    from traitlets import ObjectName, Unicode

    class TableFormatter(BaseFormatter):
        format_type = Unicode(TABLE_MIME)
        _return_type = (dict,)
        print_method = ObjectName("_repr_ik_table_")

    return TableFormatter


__all__ = ["CONTEXT", "TABLE_MIME", "Cell", "Context", "html", "install", "markdown", "markdown_from", "md_escape",
           "observe", "rows", "to_json"]

"""``report.md``: the postmortem as Markdown for a team's repository (GitHub-flavoured tables).

Sections in the order of the runbooks' post-mortem templates; figures written as PNG files into
``figures/`` beside it and referenced relatively; every value from the data escaped, so a log
line can never become markup or raw HTML. ``parameters/postmortem_template.md`` (Jinja2, in the
working directory) replaces the layout; it receives the same values as the default template.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Mapping

import jinja2
import jinja2.sandbox

from ..errors import ConfigError
from . import view
from .tables import TABLE_MIME, markdown_from, md_escape

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "postmortem.md.j2"
TEAM_TEMPLATE = Path("parameters") / "postmortem_template.md"
FIGURES = "figures"
_CODE_SPAN = re.compile(r"(`+)(?:.*?)\1", re.S)
_UNESCAPE = re.compile(r"\\(.)")
_RAW_TAG = re.compile(r"(?<!\\)((?:\\\\)*)<")


def fence(text: str, info: str = "text") -> str:
    """Return ``text`` in a fenced code block whose fence is longer than any backtick run inside."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}{info}\n{text.rstrip()}\n{bar}"


def inert(md: str) -> str:
    """Return Markdown ``md`` with every ``<`` outside code spans written as ``&lt;`` (no raw HTML gets through)."""
    out, last = [], 0
    for m in _CODE_SPAN.finditer(md):
        out.append(_RAW_TAG.sub(r"\1&lt;", md[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_RAW_TAG.sub(r"\1&lt;", md[last:]))
    return "".join(out)


def github_anchor(title: str) -> str:
    """Return the anchor GitHub gives a heading ``title`` (lower case, punctuation dropped, spaces as ``-``)."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _checked(md: str, redactor: Any) -> str:
    """Return Markdown ``md``, or its text fully escaped after redaction when its unescaped text holds a
    secret (escapes such as a backslash before ``_`` would hide it from the patterns of the redaction)."""
    if redactor is None:
        return md
    plain = _UNESCAPE.sub(r"\1", md)
    redacted, n = redactor.text(plain)
    return md if not n else md_escape(redacted)


def _output(o: Mapping[str, Any], figure: list[int], dest: Path, section: str, redactor: Any = None) -> str | None:
    kind = o.get("output_type")
    if kind == "stream":
        return fence(_text(o.get("text"))) if o.get("name") == "stdout" and _text(o.get("text")).strip() else None
    if kind == "error":
        return fence(f"{o.get('ename', 'Error')}: {o.get('evalue', '')}")
    data = o.get("data") or {}
    for mime, ext in (("image/png", "png"), ("image/svg+xml", "svg")):
        if mime in data:
            figure[0] += 1
            name = f"figure-{figure[0]}.{ext}"
            (dest / FIGURES).mkdir(parents=True, exist_ok=True)
            raw = _text(data[mime])
            (dest / FIGURES / name).write_bytes(base64.b64decode(raw) if ext == "png" else raw.encode())
            return f"![Figure {figure[0]}: {md_escape(section or 'evidence')}]({FIGURES}/{name})"
    if TABLE_MIME in data and isinstance(data[TABLE_MIME], dict):
        return markdown_from(data[TABLE_MIME])
    if "text/markdown" in data:
        return _checked(inert(_text(data["text/markdown"]).strip()), redactor)
    if "text/plain" in data:
        text = _text(data["text/plain"]).strip()
        return fence(text) if text and not re.fullmatch(r"<[\w.]+ object[^>]*>|None", text) else None
    return None


def evidence(nb: Any, dest: Path, redactor: Any = None) -> list[dict[str, Any]]:
    """Return the notebook's evidence as sections (``title``, ``anchor``, ``blocks`` of Markdown); writes figures under ``dest``."""
    from .export import REMOVED_TAGS

    sections: list[dict[str, Any]] = [{"title": "", "anchor": "", "blocks": []}]
    figure = [0]
    for cell in nb.cells:
        if set(cell.get("metadata", {}).get("tags", [])) & REMOVED_TAGS:
            continue
        if cell.cell_type == "markdown":
            source = cell.source.strip()
            m = re.match(r"\s{0,3}#{1,6}\s+(.+?)\s*#*\s*(?:\n|$)", source)
            if m:
                title = m.group(1).strip()
                sections.append({"title": title, "anchor": github_anchor(title), "blocks": []})
                source = source[m.end():].strip()
            if source:
                sections[-1]["blocks"].append(inert(source))
            continue
        for o in cell.get("outputs", []):
            block = _output(o, figure, dest, sections[-1]["title"], redactor)
            if block:
                sections[-1]["blocks"].append(block)
    return [s for s in sections if s["title"] or s["blocks"]]


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.sandbox.SandboxedEnvironment(loader=loader, autoescape=False, keep_trailing_newline=True,
                                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["md"] = md_escape
    env.filters["fence"] = fence
    env.filters["anchor"] = github_anchor
    return env


def render(context: Mapping[str, Any], template: str | Path | None = None) -> str:
    """Return the postmortem Markdown from ``context`` with ``template`` (a path; default: the built-in one).

    Raises ConfigError naming the template file, line and reason when a team template cannot be used.
    """
    path = Path(template) if template else DEFAULT_TEMPLATE
    try:
        env = _environment(jinja2.FileSystemLoader(str(path.parent)))
        return env.get_template(path.name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}: line {exc.lineno}: {exc.message}") from None
    except (jinja2.TemplateError, OSError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{path}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None


def write_markdown(nb: Any, summary: Mapping[str, Any], dest: str | Path, drafts: Mapping[str, str] | None = None,
                   template: str | Path | None = None, redactor: Any = None) -> Path:
    """Write ``dest`` (report.md) and its figures beside it; returns ``dest``.

    ``template`` defaults to ``parameters/postmortem_template.md`` when that file exists; ``redactor``
    (the run's :class:`incident_kit.redact.Redactor`) checks Markdown outputs before they are kept.
    Raises ConfigError for a team template that cannot be rendered (nothing is written then),
    OSError when ``dest`` cannot be written.
    """
    from .export import REMOVED_TAGS

    dest = Path(dest)
    if template is None and TEAM_TEMPLATE.is_file():
        template = TEAM_TEMPLATE
    v = view.build(summary, nb, REMOVED_TAGS)
    sections = evidence(nb, dest.parent, redactor)
    by_title = {s["title"]: s["anchor"] for s in sections}
    for h in v["hypotheses"]:
        for link in h["links"]:
            link["anchor"] = by_title.get(link["title"], github_anchor(link["title"]))
    text = render({"v": v, "summary": summary, "drafts": dict(drafts or {}), "evidence": sections}, template)
    tmp = dest.with_suffix(".md.tmp")
    tmp.write_text(text.rstrip() + "\n", encoding="utf-8")
    tmp.replace(dest)
    return dest


__all__ = ["DEFAULT_TEMPLATE", "TEAM_TEMPLATE", "evidence", "fence", "github_anchor", "inert", "render", "write_markdown"]

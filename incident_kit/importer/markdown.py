"""Markdown structure of a runbook: prose, code blocks, headings and inline commands, in order.

The runbook is parsed with markdown-it-py (CommonMark plus tables); the source lines of each
block are kept verbatim so that prose, tables, checklists and links reach the notebook exactly
as written. Code blocks (fenced or indented, at any list depth) cut the prose around them.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import yaml

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable("table")


@dataclass
class Prose:
    """Markdown text kept as written, with the inline code spans found in it."""

    text: str
    headings: tuple[str, ...]
    inline_code: list[str] = field(default_factory=list)


@dataclass
class CodeBlock:
    """A fenced or indented code block: its language tag (lower case, may be empty) and content."""

    lang: str
    content: str
    source: str
    headings: tuple[str, ...]


@dataclass
class Heading:
    """A heading: level (1-6), its text, and the Markdown line as written."""

    level: int
    title: str
    source: str


Block = Prose | CodeBlock | Heading


def _dedent_prose(lines: list[str]) -> str:
    """Return prose lines as one Markdown text, dedented when they all start indented.

    Text cut out of a list item after a code block is indented; four spaces would turn it
    into a code block on its own, so the common indentation is removed.
    """
    text = "\n".join(lines).strip("\n")
    return textwrap.dedent(text)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, the Markdown after it) for a runbook starting with ``---`` YAML.

    Text without front matter, or whose front matter is not a YAML mapping, is returned whole
    with an empty mapping.
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text
    return (meta, text[m.end():]) if isinstance(meta, dict) else ({}, text)


def parse_blocks(text: str) -> list[Block]:
    """Return the runbook as a list of headings, prose and code blocks in document order.

    Every line of ``text`` ends up in exactly one block (blank runs are dropped), so nothing
    written in the runbook is lost.
    """
    lines = text.splitlines()
    tokens = _PARSER.parse(text)
    code_at: dict[int, tuple[int, str, str]] = {}  # start line -> (end line, lang, content)
    heading_at: dict[int, tuple[int, str]] = {}  # line -> (level, title)
    inline_at: dict[int, list[str]] = {}  # line -> inline code spans of the paragraph there
    for i, tok in enumerate(tokens):
        if tok.type in ("fence", "code_block") and tok.map:
            lang = (tok.info or "").strip().split(" ")[0].lower() if tok.type == "fence" else ""
            code_at[tok.map[0]] = (tok.map[1], lang, tok.content)
        elif tok.type == "heading_open" and tok.map:
            title = " ".join(tokens[i + 1].content.split()) if i + 1 < len(tokens) else ""
            heading_at[tok.map[0]] = (int(tok.tag[1:]), title)
        elif tok.type == "inline" and tok.map and tok.children:
            spans = [c.content for c in tok.children if c.type == "code_inline"]
            if spans:
                inline_at.setdefault(tok.map[0], []).extend(spans)

    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    prose: list[str] = []
    spans: list[str] = []

    def headings() -> tuple[str, ...]:
        return tuple(title for _, title in path)

    def flush() -> None:
        if any(line.strip() for line in prose):
            blocks.append(Prose(_dedent_prose(prose), headings(), list(spans)))
        prose.clear()
        spans.clear()

    n = 0
    while n < len(lines):
        if n in heading_at:
            flush()
            level, title = heading_at[n]
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, title))
            blocks.append(Heading(level, title, lines[n].strip()))
            n += 1
            continue
        if n in code_at:
            flush()
            end, lang, content = code_at[n]
            end = max(end, n + 1)
            source = textwrap.dedent("\n".join(lines[n:end]))
            blocks.append(CodeBlock(lang, content, source, headings()))
            n = end
            continue
        prose.append(lines[n])
        spans.extend(inline_at.get(n, []))
        n += 1
    flush()
    return blocks


def link_references(text: str) -> dict[str, str]:
    """Return the runbook's link reference definitions: lower-case label -> ``[label]: url "title"`` line.

    A notebook renders each Markdown cell on its own, so a cell using ``[text][label]`` needs
    the definition repeated in it (see :func:`references_used`).
    """
    env: dict[str, Any] = {}
    _PARSER.parse(text, env)
    out: dict[str, str] = {}
    for label, ref in env.get("references", {}).items():
        title = f' "{ref["title"]}"' if ref.get("title") else ""
        out[label.lower()] = f"[{label.lower()}]: {ref['href']}{title}"
    return out


def references_used(markdown: str, references: dict[str, str]) -> list[str]:
    """Return the definitions among ``references`` that ``markdown`` uses but does not define."""
    used = []
    for label, definition in references.items():
        pattern = rf"\[{re.escape(label)}\](?!:)"
        if re.search(pattern, markdown, flags=re.I) and not re.search(rf"^\s*\[{re.escape(label)}\]:", markdown,
                                                                         flags=re.I | re.M):
            used.append(definition)
    return used


def github_slug(title: str) -> str:
    """Return the anchor GitHub gives a heading (``## High Error Rate`` -> ``high-error-rate``)."""
    text = re.sub(r"[`*_~\[\]]", "", title.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def jupyter_anchor(title: str) -> str:
    """Return the anchor Jupyter and nbconvert give a heading: its text with spaces as ``-``."""
    return re.sub(r"[`*~]", "", title.strip()).replace(" ", "-")


def title_of(blocks: list[Block], default: str) -> str:
    """Return the text of the first level-1 heading, else of the first heading, else ``default``."""
    heads = [b for b in blocks if isinstance(b, Heading)]
    for h in heads:
        if h.level == 1:
            return h.title
    return heads[0].title if heads else default


__all__ = ["Prose", "CodeBlock", "Heading", "Block", "parse_blocks", "split_front_matter", "title_of",
           "link_references", "references_used", "github_slug", "jupyter_anchor"]

"""``incident-kit import-runbook``: a Markdown runbook becomes a parameterized scenario notebook.

:func:`import_runbook` reads the runbook (bad encodings repaired and counted), parses its
Markdown, classifies every command (call, manual action or text) and writes one notebook, or
one per incident section. :func:`cli_import` is the command line entry point; it prints the
import summary.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..redact import redact_notebook
from .markdown import Block, CodeBlock, Heading, link_references, parse_blocks, split_front_matter, title_of
from .notebook import Tally, build_notebook, notebook_json
from .reading import RunbookText, read_runbook

#: H2 sections whose H3 subsections are the incidents ("## Common Incident Scenarios").
_GROUP_OF_INCIDENTS = re.compile(r"(?i)\b(scenarios|incidents|playbooks|runbooks)\b")


@dataclass
class WrittenNotebook:
    """One notebook written by the importer and what its commands became."""

    path: Path
    scenario: str
    title: str
    tally: Tally
    parameters: list[str]


@dataclass
class ImportResult:
    """The outcome of one import: notebooks written, sections skipped, encoding repairs, time taken."""

    runbook: RunbookText
    notebooks: list[WrittenNotebook] = field(default_factory=list)
    skipped_sections: list[str] = field(default_factory=list)
    redacted: int = 0  # credentials found in the runbook and replaced by [REDACTED:kind]
    seconds: float = 0.0

    def total(self) -> Tally:
        """Return the tally summed over every notebook written."""
        out = Tally()
        for nb in self.notebooks:
            out.add(nb.tally)
        return out


def scenario_name(text: str) -> str:
    """Return a scenario name (lower case letters, digits and ``_``) made from ``text``."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")[:60].rstrip("_") or "runbook"


def _section_level(blocks: list[Block]) -> int:
    """Return the heading level that cuts a runbook into incidents.

    The shallowest level used more than once: ``##`` under a single ``#`` title, or ``#`` when
    a runbook puts each incident under its own top-level heading.
    """
    levels = [b.level for b in blocks if isinstance(b, Heading)]
    for level in sorted(set(levels)):
        if levels.count(level) > 1:
            return level
    return 2


def _sections(blocks: list[Block]) -> list[tuple[str, list[Block]]]:
    """Return the incident sections of a runbook: (title, blocks) for each section heading.

    A section named like a group ("Common Incident Scenarios") is cut at the next level of
    headings instead. Blocks before the first section heading are not a section.
    """
    level = _section_level(blocks)
    sections: list[tuple[str, list[Block]]] = []
    group = False
    for block in blocks:
        if isinstance(block, Heading) and block.level <= level:
            group = block.level == level and bool(_GROUP_OF_INCIDENTS.search(block.title))
            # a group heading is no incident itself: its subsections are ("" drops it)
            sections.append((block.title, [block]) if block.level == level and not group else ("", []))
        elif isinstance(block, Heading) and block.level == level + 1 and group:
            sections.append((block.title, [block]))
        elif sections:
            sections[-1][1].append(block)
    return [(t, b) for t, b in sections if t]


def _has_commands(blocks: list[Block]) -> bool:
    """Return True when a code block among ``blocks`` holds at least one command (not only comments)."""
    from .commands import Command, block_language, split_shell, split_sql

    for b in blocks:
        if isinstance(b, CodeBlock):
            kind = block_language(b.lang, b.content)
            items = split_sql(b.content) if kind == "sql" else split_shell(b.content) if kind == "shell" else []
            if any(isinstance(i, Command) for i in items):
                return True
    return False


def _intro(runbook: Path, title: str, part_of: str | None) -> str:
    """Return the notebook's introduction; its first sentence is what ``incident-kit list`` shows."""
    what = f"Section “{title}” of the runbook “{part_of}”" if part_of else f"The runbook “{title}”"
    return (f"{what} (`{runbook.name}`), imported by `incident-kit import-runbook`. Code cells run read-only "
            "incident_kit sources, each with the runbook's command in a comment; a source that is not configured "
            "says so and the notebook goes on. Commands that change a system are marked **manual action** and "
            "are never run; commands with no source are shown as text.")


def _write(nb: dict, path: Path) -> None:
    """Write ``nb`` to ``path`` (parents created); raises ConfigError naming the path when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook_json(nb), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"notebook {path}: cannot write it ({exc.strerror or exc})") from None


def import_runbook(runbook: str | Path, output: str | Path | None = None, *,
                   scenario_per_section: bool = False) -> ImportResult:
    """Import ``runbook`` and write its notebook(s); returns what was written and counted.

    ``output`` defaults to ``notebooks/<runbook name>.ipynb``; with ``scenario_per_section``
    each incident section is written beside it as ``<output stem>_<section>.ipynb`` (sections
    without commands are skipped). Raises :class:`ConfigError` (one line, naming the file) for
    an unreadable runbook, a runbook without content, or an output that cannot be written.
    """
    started = time.perf_counter()
    text = read_runbook(runbook)
    src = Path(runbook)
    out = Path(output) if output else Path("notebooks") / f"{scenario_name(src.stem)}.ipynb"
    if out.suffix != ".ipynb":
        raise ConfigError(f"output {out}: expected a path ending in .ipynb")
    meta, markdown = split_front_matter(text.text)
    blocks = parse_blocks(markdown)
    references = link_references(markdown)
    if not blocks:
        raise ConfigError(f"runbook {src}: no Markdown content found")
    title = " ".join(str(meta.get("title") or title_of(blocks, src.stem)).split())
    result = ImportResult(text)
    if not scenario_per_section:
        parts = [(title, None, out, blocks)]
    else:
        parts = []
        for sec_title, sec_blocks in _sections(blocks):
            if not _has_commands(sec_blocks):
                result.skipped_sections.append(sec_title)
                continue
            path = out.with_name(f"{scenario_name(out.stem)}_{scenario_name(sec_title)}.ipynb")
            parts.append((sec_title, title, path, sec_blocks))
        if not parts:
            raise ConfigError(f"runbook {src}: no section has commands; import it without --scenario-per-section")
    for part_title, part_of, path, part_blocks in parts:
        body = part_blocks[1:] if part_of is None and isinstance(part_blocks[0], Heading) and part_blocks[0].level == 1 else part_blocks
        if part_of is not None:
            body = part_blocks[1:]
        scenario = path.stem
        nb, tally, params = build_notebook(part_title, _intro(src, part_title, part_of), body, scenario, references)
        nb, redacted = redact_notebook(nb)  # a password pasted into a runbook is not copied on
        result.redacted += redacted
        _write(nb, path)
        result.notebooks.append(WrittenNotebook(path, scenario, part_title, tally, [p.name for p in params.extra()]))
    result.seconds = time.perf_counter() - started
    return result


def _counts(counter: dict[str, int], limit: int = 8) -> str:
    """Return "reason (n); ..." for the ``limit`` largest counts, then how many more there are."""
    items = sorted(((n, k) for k, n in counter.items() if n), key=lambda x: (-x[0], x[1]))
    shown = [f"{k} ({n})" for n, k in items[:limit]]
    if len(items) > limit:
        shown.append(f"{len(items) - limit} more")
    return "; ".join(shown)


def summary_text(result: ImportResult) -> str:
    """Return the human-readable import summary printed by the command line."""
    total = result.total()
    n_calls, n_manual, n_text = (sum(c.values()) for c in (total.calls, total.manual, total.text))
    lines = [f"imported {result.runbook.path} in {result.seconds:.2f} s:"]
    for nb in result.notebooks:
        t = nb.tally
        lines.append(f"  {nb.path}  ({sum(t.calls.values())} calls, {sum(t.manual.values())} manual, "
                     f"{sum(t.text.values())} text)")
    lines.append(f"{total.commands} commands: {n_calls} became calls, {n_manual} manual actions, {n_text} left as text")
    if n_calls:
        inline = f" — {total.inline_calls} of them from inline code in the text" if total.inline_calls else ""
        lines.append(f"  calls: {_counts(total.calls)}{inline}")
    if n_manual:
        lines.append(f"  manual actions (shown, never run): {_counts(total.manual)}")
    if n_text:
        lines.append(f"  left as text, why: {_counts(total.text)}")
    if total.other_blocks:
        lines.append(f"  code blocks kept as text (not commands): {_counts(total.other_blocks)}")
    params = sorted({p for nb in result.notebooks for p in nb.parameters})
    if params:
        lines.append(f"  parameters from the runbook: {', '.join(params)}")
    if result.skipped_sections:
        lines.append(f"  sections without commands, not written: {', '.join(result.skipped_sections)}")
    if result.redacted:
        lines.append(f"  credentials written in the runbook, redacted in the notebook: {result.redacted}")
    rb = result.runbook
    if rb.replaced_bytes or rb.repaired_lines:
        lines.append(f"  encoding: {rb.replaced_bytes} undecodable bytes replaced with U+FFFD, "
                     f"{rb.repaired_lines} garbled (double-encoded) lines repaired")
    return "\n".join(lines)


def cli_import(args: argparse.Namespace) -> int:
    """``incident-kit import-runbook RUNBOOK.md [-o OUT.ipynb] [--scenario-per-section]``; returns 0."""
    result = import_runbook(args.runbook, args.output, scenario_per_section=bool(args.scenario_per_section))
    print(summary_text(result))
    return 0


__all__ = ["import_runbook", "cli_import", "summary_text", "ImportResult", "WrittenNotebook", "scenario_name"]

"""Building the notebook cells of an imported runbook (nbformat v4.5, no outputs).

Cells are plain dicts in the nbformat v4 layout, written as nbformat writes them
(:func:`notebook_json`). nbformat itself is not imported here: its schema validator pulls in
``jsonschema`` format checkers whose import alone takes seconds, longer than the whole import
of a runbook. The tests validate every generated notebook with ``nbformat.validate``.

Markdown prose is kept as written; each command becomes one of:

* a short code cell ``x = inv.collect("label", ik.source.fn, ...)`` with the original command in
  a comment (the recorder shows "not available: why" when a source is not configured);
* a Markdown *manual action* cell showing a command that changes a system (never code);
* a Markdown cell showing commands that are only text, with the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hashlib
import json
import re

from .classify import Call, Step, classify, split_pipeline
from .commands import Command, Note, block_language, is_transcript, split_console, split_shell, split_sql
from .markdown import Block, CodeBlock, Heading, Prose, github_slug, jupyter_anchor, references_used
from .parameters import ANGLE, BRACKET, Parameter, ParameterSet, _is_placeholder

_URL = re.compile(r"https?://[^\s`'\"<>]*(?:<[A-Za-z][\w-]*>[^\s`'\"<>]*)*")
MANUAL_BANNER = "**⚠️ Manual action — changes a system, never run by this notebook**"


@dataclass
class Tally:
    """What happened to the commands of one notebook (the import summary)."""

    calls: Counter[str] = field(default_factory=Counter)
    manual: Counter[str] = field(default_factory=Counter)
    text: Counter[str] = field(default_factory=Counter)
    other_blocks: Counter[str] = field(default_factory=Counter)
    inline_calls: int = 0

    @property
    def commands(self) -> int:
        """Return the number of commands seen (calls + manual actions + text)."""
        return sum(self.calls.values()) + sum(self.manual.values()) + sum(self.text.values())

    def add(self, other: "Tally") -> None:
        """Add the counts of ``other`` to this tally."""
        for name in ("calls", "manual", "text", "other_blocks"):
            getattr(self, name).update(getattr(other, name))
        self.inline_calls += other.inline_calls


Cell = dict[str, Any]


def markdown_cell(source: str) -> Cell:
    """Return a v4 Markdown cell."""
    return {"cell_type": "markdown", "id": "", "metadata": {}, "source": source}


def code_cell(source: str, tags: list[str] | None = None) -> Cell:
    """Return a v4 code cell without outputs, tagged with ``tags``."""
    metadata: dict[str, Any] = {"tags": list(tags)} if tags else {}
    return {"cell_type": "code", "execution_count": None, "id": "", "metadata": metadata, "outputs": [],
            "source": source}


def notebook_json(nb: dict[str, Any]) -> str:
    """Return ``nb`` as nbformat writes it: sources split in lines, keys sorted, indent 1."""
    out = json.loads(json.dumps(nb))
    for cell in out["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    return json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _comment(text: str, prefix: str = "# ") -> list[str]:
    """Return ``text`` as comment lines starting with ``prefix``."""
    return [(prefix + line).rstrip() for line in text.splitlines()]


_PASSWORD_OPTION = re.compile(
    r"(?P<opt>(?:\bredis-cli\b[^\n|;&]*?\s-a\s+|\s--pass(?:word)?[= ]|\bmysql(?:admin|dump)?\b[^\n|;&]*?\s-p|"
    r"\bPGPASSWORD=|\bMYSQL_PWD=|\bREDISCLI_AUTH=))(?P<value>(?!\$|\[|<)[^\s'\"]+|'[^']*'|\"[^\"]*\")"
)


def mask_passwords(text: str) -> str:
    """Return a command with passwords given on its command line replaced by ``***``.

    Covers ``redis-cli -a PASS``, ``--password PASS``, ``mysql -pPASS`` and ``PGPASSWORD=...``;
    ``$VARS`` and placeholders stay (they are not secrets). Other credentials are caught by
    :mod:`incident_kit.redact` over the whole notebook.
    """
    return _PASSWORD_OPTION.sub(lambda m: m.group("opt") + "***", text)


def _original(cmd: Command) -> list[str]:
    """Return the comment lines showing the command as the runbook wrote it (passwords masked)."""
    lines = mask_passwords(cmd.text).splitlines()
    return [f"# $ {lines[0]}".rstrip(), *[f"#   {ln}".rstrip() for ln in lines[1:]]]


class CellWriter:
    """Accumulates the cells of one notebook and the tally of what each command became."""

    def __init__(self, params: ParameterSet, references: dict[str, str] | None = None) -> None:
        self.params = params
        self.references = references or {}
        self.anchors: dict[str, str] = {}  # GitHub-style heading anchors -> the notebook's
        self.cells: list[Cell] = []
        self.tally = Tally()
        self._names: Counter[str] = Counter()
        self._labels: Counter[str] = Counter()
        self._markdown: list[str] = []
        self._last_call: list[Step] | None = None  # the call cell just written, for merging queue keys

    # -- Markdown ---------------------------------------------------------------------------
    def markdown(self, text: str, *, new_cell: bool = False) -> None:
        """Append Markdown to the current Markdown cell (or start a new one)."""
        if new_cell:
            self.flush()
        self._markdown.append(text.strip("\n"))

    def flush(self) -> None:
        """Write the pending Markdown as one cell (with the link definitions its reference links need)."""
        if self._markdown:
            text = "\n\n".join(self._markdown)
            if self.anchors:  # [Table of contents](#high-error-rate) -> Jupyter's #High-Error-Rate
                text = re.sub(r"\]\(#([^)\s]+)\)", lambda m: f"](#{self.anchors.get(m.group(1), m.group(1))})", text)
            definitions = references_used(text, self.references)
            if definitions:
                text += "\n\n" + "\n".join(definitions)
            self.cells.append(markdown_cell(text))
            self._markdown = []

    # -- Code -------------------------------------------------------------------------------
    def call_cell(self, steps: list[Step], *, inline: bool = False) -> None:
        """Write one code cell for a call (several steps when they were merged, e.g. queue keys)."""
        self.flush()
        call = steps[0].call
        assert call is not None
        self._names[call.var] += 1
        var = f"{call.var}_{self._names[call.var]}"
        lines: list[str] = []
        for step in steps:
            lines += _comment("\n".join(step.command.comments))
            if step.command.lang == "sql" and not inline:
                lines.append("# SQL from the runbook (placeholders bound as parameters)")
            else:
                lines += _original(step.command)
        lines += [f"# note: {n}" for n in dict.fromkeys(call.notes)]
        self._labels[call.label] += 1  # the recorder keys sources by name: repeated checks get a number
        label = call.label if self._labels[call.label] == 1 else f"{call.label} ({self._labels[call.label]})"
        args = ", ".join([_label_source(label, call.label_param), call.func, *call.args,
                          *(f"{k}={v}" for k, v in call.kwargs)])
        lines.append(f"{var} = inv.collect({args})")
        lines += [line.replace("{v}", var) for line in call.after]
        lines.append(var)
        self.cells.append(code_cell("\n".join(lines)))
        self.tally.calls[call.func] += len(steps)
        if inline:
            self.tally.inline_calls += len(steps)

    # -- Code blocks ------------------------------------------------------------------------
    def code_block(self, block: CodeBlock) -> None:
        """Write the cells for one code block of the runbook."""
        kind = block_language(block.lang, block.content)
        if kind == "text":
            self.tally.other_blocks[block.lang or "untagged"] += 1
            self.markdown(block.source, new_cell=False)
            return
        if kind == "sql":
            items = split_sql(block.content)
        else:
            items = split_console(block.content) if is_transcript(block.lang, block.content) else split_shell(block.content)
        for note in items:  # placeholders in comments ("# https://sentry.io/organizations/[your-org]/")
            if isinstance(note, Note):
                self.params.scan("\n".join(note.lines))
        if not any(isinstance(i, Command) for i in items):
            self.markdown(block.source)
            self._links(items)
            return
        fence = "sql" if kind == "sql" else "bash"
        pending: list[Note | Step] = []
        mode = ""
        for item in items:
            step = classify(item, self.params) if isinstance(item, Command) else item
            this = step.outcome if isinstance(step, Step) else "text"
            if isinstance(step, Step) and step.outcome == "call":
                self._shown(pending, mode, fence)
                pending, mode = [], ""
                self._call_or_merge(step)
                continue
            if this != mode and pending:
                self._shown(pending, mode, fence)
                pending = []
            pending.append(step)
            mode = this
        self._shown(pending, mode, fence)
        self._last_call = None
        self._links(items)

    def _links(self, items: list[Note | Command]) -> None:
        """Write a cell showing the block's links that hold placeholders, filled in from the parameters.

        ``# https://sentry.io/organizations/[your-org]/issues/`` becomes a clickable link once
        ``your_org`` is set; links without placeholders are already readable in the Markdown.
        """
        lines = [line for item in items for line in (item.lines if isinstance(item, Note) else item.comments)]
        links = []
        for url in dict.fromkeys(u.rstrip(".,;)") for line in lines for u in _URL.findall(line)):
            body, found = url.replace("{", "{{").replace("}", "}}"), False
            for pattern in (BRACKET, ANGLE):
                for m in pattern.finditer(url):
                    if pattern is ANGLE or _is_placeholder(m.group(1)):
                        body, found = body.replace(m.group(0), "{" + self.params.placeholder(m.group(0)) + "}"), True
            if found:
                links.append(f"- {body}")
        if links:
            self.flush()
            text = "\n".join(links)
            self.cells.append(code_cell("# The runbook's links, placeholders filled in from the parameters\n"
                                        f"inv.say(f{text!r})"))

    def _call_or_merge(self, step: Step) -> None:
        """Write a call cell, merging ``LLEN`` of several queues into one ``ik.redis.queues`` call."""
        call = step.call
        last = self._last_call
        if (last and call and call.func == "ik.redis.queues" and last[0].call and last[0].call.func == call.func
                and last[0].call.args[0] == call.args[0] and self.cells and self.cells[-1]["cell_type"] == "code"):
            self.cells.pop()
            self._names[call.var] -= 1
            self._labels[last[0].call.label] -= 1
            self.tally.calls[call.func] -= len(last)
            keys = [*last[0].call.keys, *call.keys]
            merged = Call(call.func, [call.args[0], repr(keys)], var=call.var, label="redis: queue lengths", keys=keys)
            steps = [*last, step]
            steps[0] = Step(last[0].command, "call", last[0].reason, merged)
            self.call_cell(steps)
            self._last_call = steps
            return
        self.call_cell([step])
        self._last_call = [step]

    def _shown(self, pending: list[Note | Step], mode: str, fence: str) -> None:
        """Write notes and commands that are not calls as a Markdown cell (manual actions marked)."""
        if not pending:
            return
        self._last_call = None
        body: list[str] = []
        reasons: list[str] = []
        for item in pending:
            if body and (isinstance(item, Note) and not item.output or isinstance(item, Step) and item.command.comments):
                body.append("")  # a new comment group: keep the runbook's blank line
            if isinstance(item, Note):
                body += item.lines if item.output else _comment("\n".join(item.lines), "-- " if fence == "sql" else "# ")
                continue
            body += _comment("\n".join(item.command.comments), "-- " if fence == "sql" else "# ")
            body.append(mask_passwords(item.command.text))
            reasons.append(item.reason)
            counter = self.tally.manual if item.outcome == "manual" else self.tally.text
            counter[item.reason] += 1
        code = "```" + fence + "\n" + "\n".join(body) + "\n```"
        why = "; ".join(dict.fromkeys(reasons))
        steps = [item for item in pending if isinstance(item, Step)]
        if mode == "manual" and len(set(reasons)) <= 1:
            self.markdown(f"{MANUAL_BANNER} ({why}). Run it yourself only when it is safe:\n\n{code}", new_cell=True)
            self.flush()
        elif mode == "manual":
            each = "\n".join(f"- `{_inline(s.command.one_line)}`: {s.reason}" for s in steps)
            self.markdown(f"{MANUAL_BANNER}. Run these yourself only when it is safe:\n\n{code}\n\n{each}",
                          new_cell=True)
            self.flush()
        elif reasons:
            self.markdown(f"{code}\n\n*Shown, not run: {why}. Run it in a terminal if you need it.*")
        else:
            self.markdown(code)

    # -- Prose ------------------------------------------------------------------------------
    def prose(self, block: Prose) -> None:
        """Write prose as written, then a call cell for each inline command a source can run."""
        self.markdown(block.text)
        for span in block.inline_code:
            segments = split_pipeline(span)
            if not segments or not _looks_like_command(span):
                continue
            step = classify(Command(span, "shell", []), self.params)
            if step.outcome == "call":
                step.command.comments = ["inline in the runbook's text"]
                self.call_cell([step], inline=True)
            else:
                self.tally.text[f"inline in the text; {step.reason}"] += 1


def _quote(text: str) -> str:
    """Return ``text`` safe inside a double-quoted f-string (quotes and braces neutralised)."""
    return text.replace("\\", "/").replace('"', "'").replace("{", "(").replace("}", ")")


def _inline(command: str, limit: int = 60) -> str:
    """Return ``command`` shortened for an inline code span (backticks removed)."""
    text = " ".join(command.replace("`", "'").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_like_command(span: str) -> bool:
    """Return True when an inline code span is a shell command rather than a name or a value."""
    from .commands import _KNOWN_PROGRAMS

    return " " in span.strip() and bool(_KNOWN_PROGRAMS.match(span))


def parameters_source(params: ParameterSet) -> str:
    """Return the source of the parameters cell (shared names first, then the runbook's own)."""
    lines = ["# Parameters (papermill). Secrets are references such as \"env:DATABASE_URL\", never values."]

    def line(p: Parameter) -> str:
        text = f"{p.name} = {p.default!r}"
        return f"{text}  # {p.help}" if p.help else text

    lines += [line(p) for name, p in params.params.items() if p not in params.extra()]
    extra = params.extra()
    if extra:
        lines += ["", "# From the runbook's placeholders and commands"]
        lines += [line(p) for p in extra]
    return "\n".join(lines)


def _label_source(label: str, label_param: tuple[str, str] | None) -> str:
    """Return the source of a label: a literal, or an f-string naming the parameter that replaced the runbook's host."""
    if not label_param or label_param[0] not in label:
        return repr(label)
    before, _, after = label.partition(label_param[0])
    def esc(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")
    return "f" + repr(f"{esc(before)}{{{label_param[1]}}}{esc(after)}")


def build_notebook(title: str, intro: str, blocks: list[Block], scenario: str,
                   references: dict[str, str] | None = None) -> tuple[dict[str, Any], Tally, ParameterSet]:
    """Return (notebook, tally, parameters) for ``blocks`` of a runbook.

    The notebook has a title cell, a parameters cell (tag ``parameters``), a setup cell creating
    the recorder ``inv``, then the runbook's content in order.
    """
    params = ParameterSet()
    writer = CellWriter(params, references)
    writer.anchors = {github_slug(b.title): jupyter_anchor(b.title) for b in blocks if isinstance(b, Heading)}
    for block in blocks:
        if isinstance(block, Heading):
            writer.markdown(block.source, new_cell=True)
        elif isinstance(block, Prose):
            writer.prose(block)
        else:
            writer.code_block(block)
    writer.flush()
    tally = writer.tally
    if tally.calls:
        writer.cells.append(code_cell(
            "# For the report: how many of the runbook's checks answered\n"
            "answered = [s for s in inv.sources if s[\"status\"] in (\"ok\", \"empty\")]\n"
            f"inv.headline(f\"{{len(answered)}} of {{len(inv.sources)}} checks of the runbook {_quote(title)} answered\")"))
    intro += (f"\n\nThis notebook: {sum(tally.calls.values())} commands became calls, {sum(tally.manual.values())} are "
              f"manual actions, {sum(tally.text.values())} are shown as text.")
    hosts = params.contacted_hosts()
    if hosts:
        by_host: dict[str, list[str]] = {}
        for host, name in hosts:
            by_host.setdefault(host, []).append(f"`{name}`")
        listed = ", ".join(f"`{host}` ({', '.join(names)})" for host, names in by_host.items())
        intro += (f"\n\nHosts it contacts unless you change these parameters: {listed}. "
                  "`incident-kit run --offline` contacts nothing beyond this machine.")
    setup = ("import incident_kit as ik\n\n"
             f"inv = ik.Investigation({scenario!r}, output_dir=output_dir, start=start, end=end)")
    head = [
        markdown_cell(f"# {title}\n\n{intro}"),
        code_cell(parameters_source(params), ["parameters"]),
        code_cell(setup, ["report-hide"]),
    ]
    cells = head + writer.cells
    for index, cell in enumerate(cells):  # stable ids: re-importing gives the same notebook
        cell["id"] = hashlib.sha1(f"{scenario}:{index}:{cell['source']}".encode()).hexdigest()[:12]
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "incident_kit": {"imported": True, "scenario": scenario},
    }
    nb = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return nb, writer.tally, params


__all__ = ["Tally", "CellWriter", "build_notebook", "notebook_json", "parameters_source", "MANUAL_BANNER"]

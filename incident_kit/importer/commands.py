"""Cutting a code block into commands: shell lines, SQL statements and the comments between them.

A block becomes a list of :class:`Item`: comment groups (notes for the reader) and commands,
each command carrying the comment lines written just above it. Backslash continuations are
joined; SQL written inside a shell block (``SELECT ...;`` under ``# In database:``) becomes a
SQL command of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHELL_LANGS = {"bash", "sh", "shell", "zsh", "console", "shell-session", "terminal", "ksh", "fish"}
SQL_LANGS = {"sql", "psql", "postgres", "postgresql", "pgsql", "plpgsql", "mysql"}

_SQL_START = re.compile(
    r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|GRANT|REVOKE|VACUUM|"
    r"ANALYZE|EXPLAIN|SHOW|SET|RESET|BEGIN|COMMIT|ROLLBACK|REINDEX|CLUSTER|LOCK|COPY|CALL|DO)\b"
)
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")
_PROMPT = re.compile(r"^\s*(?:\$|>|#\s*$)\s+")
_KNOWN_PROGRAMS = re.compile(
    r"^\s*(?:sudo\s+)?(?:curl|wget|psql|redis-cli|tail|grep|egrep|cat|less|head|df|du|free|ps|top|htop|"
    r"git|kubectl|docker|systemctl|journalctl|railway|gh|aws|doctl|heroku|gcloud|az|fly|flyctl|"
    r"vercel|kill|pkill|killall|rm|ls|echo|export|npm|bun|yarn|pnpm|pip|python3?|node|dig|"
    r"nslookup|nc|openssl|iostat|vmstat|uptime|sleep|systemctl|service)\b"
)


@dataclass
class Command:
    """One command as written (continuations kept), its language and the comments above it."""

    text: str
    lang: str  # "shell" or "sql"
    comments: list[str] = field(default_factory=list)
    heredoc: str | None = None  # body of a here-document (``psql <<SQL ... SQL``), not part of one_line

    @property
    def one_line(self) -> str:
        """Return the command on one line (continuations joined, here-document body left out)."""
        text = self.text
        if self.heredoc is not None:
            lines = text.splitlines()
            text = "\n".join(lines[: len(lines) - len(self.heredoc.splitlines()) - 1])
        return " ".join(part.strip() for part in re.split(r"\\\n", text))


@dataclass
class Note:
    """Comment lines that introduce nothing runnable (kept for the reader)."""

    lines: list[str]
    output: bool = False  # lines a command printed in a transcript, shown as they are (not comments)


Item = Command | Note


def block_language(lang: str, content: str) -> str:
    """Return "shell", "sql" or "text" for a code block from its tag (or, untagged, its content)."""
    if lang in SHELL_LANGS:
        return "shell"
    if lang in SQL_LANGS:
        return "sql"
    if lang:
        return "text"
    runnable = [ln for ln in content.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if runnable and all(_KNOWN_PROGRAMS.match(_PROMPT.sub("", ln)) or ln.startswith((" ", "\t")) for ln in runnable):
        return "shell"
    if runnable and _SQL_START.match(runnable[0]):
        return "sql"
    return "text"


def _strip_comment(line: str, marker: str) -> str:
    return line.strip()[len(marker):].strip()


def split_sql(content: str) -> list[Item]:
    """Return the SQL statements of ``content`` (ending at ``;`` or at the end), with their ``--`` comments."""
    items: list[Item] = []
    comments: list[str] = []
    statement: list[str] = []
    for line in content.splitlines():
        stripped = line.strip()
        if not statement and stripped.startswith("--"):
            comments.append(_strip_comment(stripped, "--"))
            continue
        if not stripped:
            if not statement and comments:
                items.append(Note(comments))
                comments = []
            continue
        statement.append(line.rstrip())
        if _ends_statement(stripped):
            items.append(Command("\n".join(statement), "sql", comments))
            statement, comments = [], []
    if statement:
        items.append(Command("\n".join(statement), "sql", comments))
    elif comments:
        items.append(Note(comments))
    return items


def _ends_statement(line: str) -> bool:
    """Return True when a SQL line ends its statement (``;`` outside a trailing comment)."""
    return line.split("--")[0].rstrip().endswith(";")


def split_console(content: str) -> list[Item]:
    """Return the commands of a terminal transcript: ``$ cmd`` lines are commands, the rest is output.

    Output lines are kept (as notes) so the block still reads as in the runbook.
    """
    items: list[Item] = []
    output: list[str] = []
    for line in content.splitlines():
        m = re.match(r"^\s*(?:[\w@.-]+[:~\w/]*)?\$ (.*)$", line)
        if m and m.group(1).strip():
            if output:
                items.append(Note(output, output=True))
                output = []
            items += [i for i in split_shell(m.group(1)) if isinstance(i, Command)]
        elif line.strip():
            output.append(line.rstrip())
    if output:
        items.append(Note(output, output=True))
    return items


def is_transcript(lang: str, content: str) -> bool:
    """Return True for a terminal transcript (``console`` block, or ``$ `` prompts with output between)."""
    lines = [ln for ln in content.splitlines() if ln.strip()]
    prompt = re.compile(r"^\s*(?:[\w@.-]+[:~\w/]*)?\$ ")
    if not any(prompt.match(ln) for ln in lines):
        return False
    if lang in ("console", "shell-session", "terminal"):
        return True
    others = [ln for ln in lines if not prompt.match(ln) and not ln.lstrip().startswith("#")]
    return any(not _KNOWN_PROGRAMS.match(ln) for ln in others)  # lines that are not commands: output


def split_shell(content: str) -> list[Item]:
    """Return the commands and comment groups of a shell block, in order.

    Comment lines directly above a command (no blank line between) become its ``comments``;
    other comment runs become :class:`Note` items. SQL statements found among shell lines
    become ``sql`` commands.
    """
    items: list[Item] = []
    comments: list[str] = []
    lines = content.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = _PROMPT.sub("", raw) if raw.lstrip().startswith(("$ ", "> ")) else raw
        stripped = line.strip()
        if not stripped:
            if comments:
                items.append(Note(comments))
                comments = []
            i += 1
            continue
        if stripped.startswith("#"):
            comments.append(_strip_comment(stripped, "#"))
            i += 1
            continue
        if _SQL_START.match(line):
            statement = [line.rstrip()]
            while not _ends_statement(statement[-1].strip()) and i + 1 < len(lines) and lines[i + 1].strip():
                i += 1
                statement.append(lines[i].rstrip())
            items.append(Command("\n".join(statement), "sql", comments))
        else:
            text = [line.rstrip()]
            while text[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                text.append(lines[i].rstrip())
            heredoc = _HEREDOC.search(text[-1])
            body: list[str] = []
            if heredoc:
                while i + 1 < len(lines) and lines[i + 1].strip() != heredoc.group(1):
                    i += 1
                    body.append(lines[i])
                i += 1 if i + 1 < len(lines) else 0
                text += [*body, heredoc.group(1)]
            items.append(Command("\n".join(text).strip(), "shell", comments,
                                 "\n".join(body) if heredoc else None))
        comments = []
        i += 1
    if comments:
        items.append(Note(comments))
    return items


__all__ = ["Command", "Note", "Item", "block_language", "split_sql", "split_shell", "split_console", "is_transcript", "SHELL_LANGS", "SQL_LANGS"]

"""Deciding what each runbook command becomes: a notebook call, a manual action, or text.

:func:`classify` looks at one :class:`~.commands.Command`. A command becomes a *call* only when
it reads and an ``ik.*`` source performs the same read (``curl`` -> ``ik.probes.http``,
``psql -c "SELECT ..."`` -> ``ik.db.query``, ``redis-cli LLEN`` -> ``ik.redis.queues``, ``tail |
grep`` on logs -> ``ik.logs.read``, ``df``/``free``/``ps`` -> ``ik.host``, ``git log`` ->
``ik.deploys.git``). Anything that changes a system is a *manual* action; anything else
(vendor CLIs, unknown programs, commands that print secrets) stays *text*, with the reason.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Literal

from . import rules
from .commands import Command
from .parameters import ANGLE, ParameterSet

Outcome = Literal["call", "manual", "text"]
_OPERATORS = {"|", "||", "&&", ";", "&", "|&", ";;"}
_REDIRECTS = {">", ">>", "&>", ">|", "&>>"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Call:
    """A notebook call: ``func(*args, **kwargs)`` run through ``inv.collect`` as ``label``."""

    func: str
    args: list[str]
    kwargs: list[tuple[str, str]] = field(default_factory=list)
    var: str = "frame"
    label: str = ""
    after: list[str] = field(default_factory=list)  # lines applied to the frame, "{v}" is its variable
    notes: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # queue keys, so consecutive LLENs merge into one call
    #: (text in ``label``, parameter): the label names the parameter's value at run time, not the runbook's host
    label_param: tuple[str, str] | None = None


@dataclass
class Step:
    """What one command became, and why."""

    command: Command
    outcome: Outcome
    reason: str
    call: Call | None = None


def _manual(cmd: Command, why: str) -> Step:
    return Step(cmd, "manual", why)


def _text(cmd: Command, why: str) -> Step:
    return Step(cmd, "text", why)


def split_pipeline(line: str) -> list[list[str]] | None:
    """Return the simple commands of a shell line as argument lists (operators dropped).

    Redirection operators stay as tokens. Returns None when the line cannot be tokenized.
    """
    line = ANGLE.sub(lambda m: f"__{m.group(1)}__", line)  # <run-id> is a placeholder, not a redirection
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    segments: list[list[str]] = [[]]
    for tok in tokens:
        if tok in _OPERATORS:
            segments.append([])
        else:
            segments[-1].append(tok)
    return [s for s in segments if s]


def _program(argv: list[str]) -> tuple[str, list[str]]:
    """Return (program name, its arguments) with ``sudo``/``env``/``time`` and ``VAR=x`` prefixes removed."""
    i = 0
    while i < len(argv) and (argv[i] in ("sudo", "time", "nohup", "command", "exec") or _ASSIGNMENT.match(argv[i])):
        i += 1
        while argv[i - 1] == "sudo" and i < len(argv) and argv[i].startswith("-"):
            i += 1
    if i >= len(argv):
        return "", []
    return argv[i].rsplit("/", 1)[-1], argv[i + 1:]


def mutation_reason(argv: list[str]) -> str | None:
    """Return why the simple command ``argv`` changes a system, or None when it does not."""
    if argv and all(_ASSIGNMENT.match(a) for a in argv):
        return "sets a variable"
    prog, args = _program(argv)
    words = [a for i, a in enumerate(args)  # option values (``--type run``) are not verbs
             if not a.startswith("-") and not (i and args[i - 1].startswith("-") and "=" not in args[i - 1]
                                              and prog in rules.VENDOR_CLIS)]
    first = words[0].lower() if words else ""
    if any(t in _REDIRECTS for t in args):
        target = args[[i for i, t in enumerate(args) if t in _REDIRECTS][0] + 1:][:1]
        if target != ["/dev/null"]:
            return "writes to a file"
    if prog in _WRAPPERS:  # xargs rm, watch kubectl delete, timeout 5 systemctl restart x
        inner = _unwrap(prog, args)
        return mutation_reason(inner) if inner else None
    if prog == "find":
        if "-delete" in args:
            return "deletes files"
        for i, a in enumerate(args):
            if a in ("-exec", "-execdir", "-ok", "-okdir"):
                inner = args[i + 1:]
                inner = inner[: next((j for j, t in enumerate(inner) if t in (";", "+", "\\;")), len(inner))]
                why = mutation_reason(inner)
                if why:
                    return why
        return None
    if prog in ("ssh", "gcloud-ssh"):  # the remote command: any argument after the host
        remote = [seg for w in words[1:] for seg in (split_pipeline(w) or [])] + (split_pipeline(" ".join(words[1:])) or [])
        return next((f"on another host: {r}" for r in map(mutation_reason, remote) if r), None)
    if prog in _SHELLS:  # sh -c "...", or a pipeline fed into a shell
        script = _option(args, ("-c",))
        if script is not None:
            return next((r for r in map(mutation_reason, split_pipeline(script) or [["?"]]) if r), None)
        return None if words else "runs the shell commands it is given"
    if prog in rules.INTERPRETERS:
        action = next((p for w in words for p in re.split(r"[-_:/.\s]", w.lower()) if p in _SCRIPT_ACTIONS), None)
        return f"runs a script that looks like it changes data ({action})" if action else None
    if prog == "vercel" and not words:
        return "vercel deploys"
    if prog in ("scp", "rsync", "sftp"):
        return "copies files to or from another host"
    if prog == "sed":
        return "edits files in place" if any(a.startswith("-i") or a == "--in-place" for a in args) else None
    if prog in rules.MUTATING_PROGRAMS:
        return rules.MUTATING_PROGRAMS[prog]
    if prog in ("systemctl", "service", "launchctl", "supervisorctl", "rc-service"):
        verbs = [w.lower() for w in words if w.lower() in rules.SERVICE_MUTATING_VERBS]
        return f"{prog} {verbs[0]} changes a service" if verbs else None
    if prog == "git":
        skip = {i + 1 for i, a in enumerate(args) if a in ("-C", "-c", "--git-dir", "--work-tree")}
        words = [a for i, a in enumerate(args) if not a.startswith("-") and i not in skip]
        first = words[0].lower() if words else ""
        if first and first not in rules.GIT_READ_VERBS:
            return f"git {first} changes a repository"
        if first in ("branch", "tag", "remote") and (len(words) > 1 or any(a in ("-d", "-D", "-m", "-f") for a in args)):
            return f"git {first} changes a repository"
        return None
    if prog in rules.PACKAGE_MANAGERS:
        return "runs a project script or installs packages (may start or change services)"
    if prog in rules.VENDOR_CLIS:
        return _vendor_mutation(prog, args, words)
    if prog == "curl" or prog == "wget" or prog in ("http", "https"):
        return _http_mutation(args)
    return None


_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish"}
_SCRIPT_ACTIONS = rules.VENDOR_MUTATING_VERBS | {"migrate", "migration", "backfill", "seed", "fix", "repair", "cleanup",
                                                 "clean", "purge", "wipe", "drop", "truncate", "flush", "rotate"}
_WRAPPERS = {"xargs", "watch", "timeout", "nice", "ionice", "env", "stdbuf", "parallel", "flock", "chronic",
             "caffeinate", "unbuffer"}
_URL_ACTION = re.compile(
    r"(?i)[/?&=_.:-](restart|shutdown|flush|purge|delete|remove|reset|kill|reload|deploy|rollback|clear|drop|"
    r"scale|trigger|invalidate|terminate|stop|start|enable|disable|rotate|revoke|truncate|wipe|evict|drain|"
    r"pause|resume|execute|sync|migrate|refresh|rebuild|reindex|retry|replay|cancel|approve)\b"
)


def _unwrap(prog: str, args: list[str]) -> list[str]:
    """Return the command a wrapper runs (``xargs -n1 rm`` -> ``rm``), without the wrapper's options."""
    i = 0
    while i < len(args) and (args[i].startswith("-") or (prog == "timeout" and i == 0) or
                             (prog in ("xargs", "watch", "parallel") and i and args[i - 1] in ("-n", "-I", "-P", "-L", "-d", "-s"))):
        i += 1
    if prog == "timeout" and i < len(args) and re.fullmatch(r"\d+[smhd]?", args[i]):
        i += 1
    if prog == "env":
        while i < len(args) and _ASSIGNMENT.match(args[i]):
            i += 1
    return args[i:]


def _vendor_mutation(prog: str, args: list[str], words: list[str]) -> str | None:
    """Return why a vendor CLI call changes something (``railway rollback``), else None.

    Every word counts, split at ``-`` and ``:`` (``create-deployment``, ``ps:restart``), except a
    first word that names a thing (``gh run list``). Erring towards "changes" is safe: such a
    command is shown as a manual action instead of as text, and neither is ever run.
    """
    lowered = [w.lower() for w in words]
    method = _option(args, ("-X", "--method", "--request"))
    if method and method.upper() not in ("GET", "HEAD"):
        return f"{prog} sends a {method.upper()} request"
    if lowered[:1] and (prog, lowered[0]) in rules.VENDOR_NOUNS:
        if len(lowered) > 1 and lowered[1] in rules.VENDOR_READ_VERBS:
            return None
        lowered = lowered[1:]
    for word in lowered:
        for piece in (word, *re.split(r"[-:]", word)):
            if piece in rules.VENDOR_MUTATING_VERBS:
                return f"{prog} {word} changes the platform"
    return None


def _http_mutation(args: list[str]) -> str | None:
    """Return why a curl/wget call may change the service, else None.

    A write method or a body changes it; so may a GET whose URL names an action
    (``/admin/cache/flush``, ``?action=restart``): probing it would perform the action.
    """
    for a in args:
        if "/" in a and not a.startswith("-"):
            action = _URL_ACTION.search(a.split("://", 1)[-1].partition("/")[2] if "://" in a else a)
            if action:
                return f"the URL names an action ({action.group(1).lower()})"
    method = _option(args, ("-X", "--request", "--method"))
    if method and method.upper() not in ("GET", "HEAD", "OPTIONS"):
        return f"sends a {method.upper()} request"
    body = ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form", "-T",
            "--upload-file", "--post-data", "--post-file", "--json")
    if ("-G" in args or "--get" in args) and not any(a in ("-F", "--form", "-T", "--upload-file", "--json") for a in args):
        return None  # -G sends the data as the query string of a GET
    if any(a in body or a.startswith(tuple(b + "=" for b in body)) for a in args):
        return "sends a request body (a write)"
    return None


def _option(args: list[str], names: tuple[str, ...]) -> str | None:
    """Return the value of the first option in ``names`` (``-X POST``, ``-XPOST``, ``--request=POST``)."""
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "=") or (len(n) == 2 and a.startswith(n) and len(a) > 2):
                return a[len(n):].lstrip("=")
    return None


def classify(cmd: Command, params: ParameterSet) -> Step:
    """Return the :class:`Step` for ``cmd``: a call, a manual action or text, with its reason.

    Placeholders and environment variables found in the command are registered in ``params``.
    Never raises for odd input: what cannot be understood stays text.
    """
    params.scan(cmd.text)
    if cmd.lang == "sql":
        from .translate import sql_call

        return sql_call(cmd, cmd.text, params, via="")
    line = cmd.one_line
    if cmd.heredoc is not None:
        return _heredoc(cmd, line, params)
    if "$(" in line or "`" in line or "<<" in line:
        inner = re.findall(r"\$\(([^)]*)\)|`([^`]*)`", line)
        for parts in inner:
            segs = split_pipeline(" ".join(parts)) or []
            why = next((r for r in (mutation_reason(s) for s in segs) if r), None)
            if why:
                return _manual(cmd, why)
    segments = split_pipeline(line)
    if segments is None:
        return _text(cmd, "could not be parsed as a shell command")
    if not segments:
        return _text(cmd, "empty command")
    for seg in segments:
        why = mutation_reason(seg)
        if why:
            return _manual(cmd, why)
    if "$(" in line or "`" in line or "<<" in line:
        return _text(cmd, "uses command substitution or a here-document; not translated")
    from .translate import translate_shell

    return translate_shell(cmd, segments, params)


def _heredoc(cmd: Command, line: str, params: ParameterSet) -> Step:
    """Return the step for a command fed a here-document: its SQL for psql/mysql, else text or manual."""
    segments = split_pipeline(line.split("<<")[0]) or []
    for seg in segments:
        why = mutation_reason(seg)
        if why:
            return _manual(cmd, why)
    prog = _program(segments[0])[0] if segments else ""
    if prog in ("psql", "mysql"):
        from .translate import sql_call

        return sql_call(cmd, cmd.heredoc or "", params, via=f"{prog} here-document",
                        dialect="mysql" if prog == "mysql" else "postgres")
    return _text(cmd, "a here-document feeds the command; not translated")


__all__ = ["Call", "Step", "Outcome", "classify", "mutation_reason", "split_pipeline"]

"""Turning read-only commands into ``ik.*`` calls (what :func:`.classify.classify` delegates to).

Each translator takes the parsed pipeline of a command that has already been checked not to
change anything, and returns a :class:`~.classify.Step`: a call when a source does the same
read, otherwise text with the reason the command is only shown.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from .. import sqlguard
from . import rules
from .classify import Call, Step, _option, _program
from .commands import Command
from .filters import count_arg, pipeline_tail, positional, py_literal
from .parameters import ANGLE, BRACKET, ENV_VAR, ParameterSet, _is_placeholder

_LOG_FILE = re.compile(r"(\.log(\.\d+)?(\.gz)?$|\.jsonl?$|(^|/)logs?(/|$)|^/var/log/)")
_DNS_RECORDS = {"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR"}


def _short(text: str, n: int = 70) -> str:
    """Return ``text`` on one line, cut to ``n`` characters with an ellipsis."""
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1] + "…"


def _expression(text: str, params: ParameterSet) -> str:
    """Return a Python expression for ``text``, with placeholders as f-string fields."""
    fields: list[tuple[str, str]] = []
    for m in ENV_VAR.finditer(text):
        if m.group(1).isupper():
            fields.append((m.group(0), params.env(m.group(1))))
    for m in BRACKET.finditer(text):
        if _is_placeholder(m.group(1)):
            fields.append((m.group(0), params.placeholder(m.group(0))))
    for m in ANGLE.finditer(text):
        fields.append((m.group(0), params.placeholder(m.group(0))))
    if not fields:
        return repr(text)
    body = text.replace("{", "{{").replace("}", "}}")
    for token, name in fields:
        body = body.replace(token, "{" + name + "}")
    return "f" + repr(body)


def sql_call(cmd: Command, sql: str, params: ParameterSet, *, via: str, url: str = "database_url",
             dialect: str = "postgres") -> Step:
    """Return a ``ik.db.query`` call for a read-only statement, else a manual action.

    Placeholders become bound parameters: ``'[USER_ID]'`` -> ``:user_id`` with ``user_id=user_id``.
    """
    binds: list[str] = []

    def bind(match: re.Match[str]) -> str:
        name = params.placeholder(match.group("ph"))
        if name not in binds:
            binds.append(name)
        return f":{name}"

    pattern = r"'?(?P<ph>\[[A-Za-z][A-Za-z0-9_\-]*\]|<[A-Za-z][A-Za-z0-9_\-]*>)'?"
    bound = re.sub(pattern, bind, sql).strip().rstrip(";").strip()
    if not bound:
        return Step(cmd, "text", "empty SQL")
    if bound.startswith("\\"):
        return Step(cmd, "text", f"psql meta-command {bound.split()[0]}; not translated")
    if not sqlguard.is_read_only(bound, dialect, binds):
        why = _sql_refusal(bound, dialect, binds)
        return Step(cmd, "manual", why)
    literal = f'"""\n{bound}\n"""' if "\n" in bound else py_literal(bound)
    call = Call("ik.db.query", [url, literal], [(b, b) for b in binds], var="query",
                label=f"query: {_short(cmd.comments[0] if cmd.comments else bound, 60)}")
    if via:
        call.notes.append(f"run through {via}; the statement is sent read-only")
    return Step(cmd, "call", "read-only SQL", call)


def _sql_refusal(sql: str, dialect: str, binds: list[str] | None = None) -> str:
    """Return the short reason sqlguard gives for refusing ``sql`` (``binds``: its ``:name`` parameters)."""
    try:
        sqlguard.check(sql, dialect, params=binds or ())
    except Exception as exc:  # noqa: BLE001 - MutationRefused, its reason is what we want
        reason = getattr(exc, "reason", str(exc))
        detail = re.sub(r"^refused (?:'[^']*'|\"[^\"]*\"): ", "", reason.split("; only")[0])
        return f"SQL: {detail}"
    return "SQL that is not a plain read"


def _curl(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return an ``ik.probes.http`` call for the URL of a read-only curl/wget (origin as a parameter)."""
    url = next((a for a in positional(args, {"-H", "--header", "-o", "--output", "-u", "--user", "-A", "-e", "-m",
                                              "--max-time", "-w", "--write-out", "--connect-timeout", "-b", "-c",
                                              "-x", "--proxy", "--retry", "-X", "--request", "--cacert", "--cert",
                                              "--resolve", "-O"}) if "://" in a or re.match(r"[\w.-]+(:\d+)?/", a)), None)
    url = url or _option(args, ("--url",))
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    if url.startswith("$") or "://$" in url:
        return Step(cmd, "text", "the URL comes from an environment variable; set it as a probe target instead")
    promql = _prometheus_query(url, args)
    if promql is not None:
        return _prometheus(cmd, url, promql, params)
    name, path = params.origin(url)
    path_expr = _expression(path, params)  # a literal, or an f-string when the path holds placeholders
    if not path:
        target = name
    elif path_expr.startswith("f"):
        target = f"f{path_expr[1]}{{{name}}}{path_expr[2:]}"  # f"{app_url}/orders/{order_id}"
    else:
        target = f"{name} + {path_expr}"
    method = "HEAD" if ("-I" in args or "--head" in args) else None
    arg = f'{{"url": {target}, "method": "HEAD"}}' if method else target
    call = Call("ik.probes.http", [f"[{arg}]"], var="probe", label=f"probe: {_short(url, 60)}",
                label_param=(url[:len(url) - len(path)], name))
    if _option(args, ("-H", "--header")):
        call.notes.append("request headers (credentials) are not sent by the probe")
    call.notes += [n for n in pipeline_tail(rest, frame_kind="probes")[1] if "jq" not in n]
    return Step(cmd, "call", "HTTP check", call)


def _prometheus_query(url: str, args: list[str]) -> str | None:
    """Return the PromQL of a curl to ``/api/v1/query[_range]`` (in the URL or ``--data-urlencode``), else None."""
    parts = urlsplit(url)
    if not parts.path.rstrip("/").endswith(("/api/v1/query", "/api/v1/query_range")):
        return None
    found = parse_qs(parts.query).get("query")
    if found:
        return found[0]
    for i, a in enumerate(args[:-1]):
        if a in ("--data-urlencode", "-d", "--data") and args[i + 1].startswith("query="):
            return args[i + 1][len("query="):]
    return None


def _prometheus(cmd: Command, url: str, promql: str, params: ParameterSet) -> Step:
    """Return an ``ik.prometheus.query``/``query_range`` call; the server's origin becomes ``prometheus_url``."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if params.params["prometheus_url"].default in (None, ""):
        params.params["prometheus_url"].default = origin
        params.params["prometheus_url"].help = "Prometheus the runbook queries"
    if parts.path.rstrip("/").endswith("query_range"):
        call = Call("ik.prometheus.query_range", ["prometheus_url", py_literal(promql), "start or '-1h'", "end"],
                    var="metrics", label=f"prometheus: {_short(promql, 50)}",
                    notes=["the runbook's range is replaced by the incident window (last hour by default)"])
    else:
        call = Call("ik.prometheus.query", ["prometheus_url", py_literal(promql)], var="metrics",
                    label=f"prometheus: {_short(promql, 50)}")
    return Step(cmd, "call", "PromQL query", call)


def _psql(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return an ``ik.db.query`` call for ``psql -c SQL`` when the SQL reads, else a manual action."""
    sql = _option(args, ("-c", "--command"))
    if not sql:
        return Step(cmd, "text", "interactive psql session or script")
    statements = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-c", "--command")]
    if len(statements) > 1:  # judged one by one: one write makes the whole command a manual action
        refused = [_sql_refusal(sq, "postgres") for sq in statements if not sqlguard.is_read_only(sq, "postgres")]
        return Step(cmd, "manual", refused[0]) if refused else Step(cmd, "text", "several -c statements in one psql call")
    url_arg = _option(args, ("-d", "--dbname")) or next(iter(positional(args, {"-c", "--command", "-U", "-h", "-p", "-f", "-v", "-o"})), "")
    m = ENV_VAR.fullmatch(url_arg or "")
    url = params.env(m.group(1)) if m and m.group(1).isupper() else "database_url"
    dialect = "mysql" if prog == "mysql" else "postgres"
    return sql_call(cmd, sql, params, via=prog, url=url, dialect=dialect)


def _mysql(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return an ``ik.db.query`` call for ``mysql -e SQL`` when the SQL reads, else a manual action."""
    sql = _option(args, ("-e", "--execute"))
    if not sql:
        return Step(cmd, "text", "interactive mysql session")
    return sql_call(cmd, sql, params, via="mysql", dialect="mysql")


def _redis(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step:
    """Return ``ik.redis.info``/``ik.redis.queues`` for PING/INFO/LLEN..., text or manual for the rest."""
    url_arg = _option(args, ("-u",)) or ""
    m = ENV_VAR.fullmatch(url_arg)
    url = params.env(m.group(1)) if m and m.group(1).isupper() else "redis_url"
    words = positional(args, {"-u", "-h", "-p", "-a", "-n", "--user", "--pass", "-r", "-i", "--cacert", "--cert", "--key"})
    if not words:
        return Step(cmd, "text", "interactive redis-cli session")
    verb, sub = words[0].upper(), (words[1].upper() if len(words) > 1 else "")
    if verb in rules.REDIS_INFO:
        section = [repr(words[1].lower())] if verb == "INFO" and len(words) > 1 else []
        return Step(cmd, "call", "Redis check", Call("ik.redis.info", [url, *section], var="redis",
                                                      label=f"redis: {verb} {sub}".strip()))
    if verb in rules.REDIS_LENGTHS and len(words) > 1:
        return Step(cmd, "call", "queue length", Call("ik.redis.queues", [url, repr([words[1]])], var="queues",
                                                       label=f"redis: {verb} {words[1]}", keys=[words[1]]))
    if verb in rules.REDIS_READ_ONLY and (verb, sub) not in rules.REDIS_MUTATING_SUBCOMMANDS:
        return Step(cmd, "text", f"Redis {verb} reads, but no incident_kit call returns it")
    shown = f"{verb} {sub}" if (verb, sub) in rules.REDIS_MUTATING_SUBCOMMANDS else verb
    return Step(cmd, "manual", f"Redis {shown} may change data")


def _logs(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return an ``ik.logs.read`` call (grep/head/tail applied to the frame) for commands on log files."""
    grep = prog in ("grep", "egrep", "fgrep", "zgrep")
    skip = {"-e", "-m", "-A", "-B", "-C", "-f", "--regexp"} if grep else {"-n", "--lines", "-c", "--bytes"}
    operands = positional(args, skip)
    pattern_stage: list[list[str]] = []
    if grep:
        if not operands:
            return None
        pattern_stage = [[prog, *args]]
        has_e = _option(args, ("-e", "--regexp")) is not None
        operands = operands if has_e else operands[1:]
    files = [p for p in operands if _LOG_FILE.search(p)]
    if not files or len(files) != len(operands):
        return None
    for f in files:
        params.add_log_path(f)
    tail_stage = [[prog, *args]] if prog in ("tail", "head") and _option(args, ("-n", "--lines")) else []
    after, notes = pipeline_tail(pattern_stage + tail_stage + rest, frame_kind="logs")
    if prog == "tail" and ("-f" in args or "-F" in args or "--follow" in args):
        notes.insert(0, "reads the incident window instead of following the file")
    notes.insert(0, f"reads every file of `logs` (the runbook reads {', '.join(files)})")
    call = Call("ik.logs.read", ["logs"], [("format", "log_format"), ("start", "start"), ("end", "end")],
                var="logs", label=f"logs: {_short(cmd.one_line, 60)}", after=after, notes=notes)
    return Step(cmd, "call", "log read", call)


def _host(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return ``ik.host.disk``/``stats``/``processes`` for df, free/vmstat/uptime/iostat, ps/top."""
    if prog == "df":
        path = next(iter(positional(args, {"-t", "-x", "-B", "--output"})), "/")
        call = Call("ik.host.disk", [repr(path)], var="disk", label=f"host: disk {path}")
    elif prog in ("ps", "top", "htop"):
        greps = [argv for argv in rest if _program(argv)[0] in ("grep", "egrep", "fgrep")]
        after, notes = pipeline_tail(greps, frame_kind="processes")
        kwargs: list[tuple[str, str]] = []
        heads = [count_arg(_program(argv)[1]) for argv in rest if _program(argv)[0] == "head"]
        if greps:
            kwargs.append(("n", "10_000"))  # every process, then the runbook's grep
        elif heads:
            kwargs.append(("n", str(heads[0])))
        if re.search(r"--sort[= ]-?%?(mem|rss)|-o\s+%?mem|\bsort -k ?4", cmd.one_line):
            kwargs.append(("sort", "'memory'"))
        call = Call("ik.host.processes", [], kwargs, var="processes", label="host: processes", after=after, notes=notes)
        if prog != "ps":
            call.notes.insert(0, f"a snapshot of processes instead of the live `{prog}` view")
    else:
        call = Call("ik.host.stats", [], var="host", label=f"host: {prog}")
        if prog not in ("free",):
            call.notes.append(f"host CPU, memory and disk figures in place of `{prog}`")
    call.notes.append("the host is the one running this notebook")
    return Step(cmd, "call", "host check", call)


def _git(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return ``ik.deploys.git`` for ``git log``; other read-only git commands stay text."""
    repo = _option(args, ("-C",))
    skip = {i + 1 for i, a in enumerate(args) if a in ("-C", "-c", "--git-dir", "--work-tree")}
    words = [a for i, a in enumerate(args) if not a.startswith("-") and i not in skip]
    if words[:1] != ["log"]:
        return Step(cmd, "text", f"read-only git {words[0] if words else ''}; no incident_kit source".replace("  ", " "))
    call = Call("ik.deploys.git", ["git_repo", "start", "end"], var="commits", label="deploys: git log")
    if repo:
        call.notes.append(f"reads `git_repo` (the runbook reads {repo})")
    if any(a.startswith(("--since", "--until", "--after", "--before", "-n", "-1")) or re.fullmatch(r"-\d+", a) for a in args):
        call.notes.append("the runbook's range is replaced by the incident window (start, end)")
    return Step(cmd, "call", "commit history", call)


def _network(cmd: Command, prog: str, args: list[str], rest: list[list[str]], params: ParameterSet) -> Step | None:
    """Return ``ik.probes.dns``/``tcp``/``tls`` for dig/nslookup/host, nc/telnet, openssl s_client."""
    pos = positional(args, {"-t", "-p", "-w", "-connect", "-servername", "-q"})
    if prog in ("dig", "nslookup", "host"):
        name = next((p for p in pos if not p.startswith("@") and "." in p), None)
        if not name:
            return None
        kwargs = [("record", repr(p.upper())) for p in pos if p.upper() in _DNS_RECORDS and p.upper() != "A"][:1]
        kwargs += [("server", repr(p[1:])) for p in pos if p.startswith("@")][:1]
        param = params.host(name)
        return Step(cmd, "call", "DNS check", Call("ik.probes.dns", [f"[{param}]"], kwargs, var="dns",
                                                   label=f"dns: {name}", label_param=(name, param)))
    if prog == "openssl":
        target = _option(args, ("-connect",))
        if pos[:1] == ["s_client"] and target:
            return _host_port_check(cmd, "tls", target, params)
        return None
    if len(pos) >= 2 and pos[-1].isdigit():
        return _host_port_check(cmd, "tcp", f"{pos[-2]}:{pos[-1]}", params)
    return None


def _host_port_check(cmd: Command, kind: str, target: str, params: ParameterSet) -> Step:
    """Return a TCP or TLS check of ``host:port`` whose host is a notebook parameter."""
    host, sep, port = target.rpartition(":")
    if not sep or not host:
        host, port = target, ""
    param = params.host(host)
    expr = f"f'{{{param}}}:{port}'" if port else param
    what = "TLS check" if kind == "tls" else "TCP check"
    return Step(cmd, "call", what, Call(f"ik.probes.{kind}", [f"[{expr}]"], var=kind, label=f"{kind}: {target}",
                                        label_param=(host, param)))


Translator = Callable[[Command, str, list[str], list[list[str]], ParameterSet], "Step | None"]
TRANSLATORS: dict[str, Translator] = {
    "curl": _curl, "wget": _curl, "psql": _psql, "mysql": _mysql, "redis-cli": _redis,
    "tail": _logs, "head": _logs, "cat": _logs, "less": _logs, "more": _logs, "zcat": _logs,
    "grep": _logs, "egrep": _logs, "fgrep": _logs, "zgrep": _logs,
    "df": _host, "free": _host, "vmstat": _host, "uptime": _host, "iostat": _host, "ps": _host, "top": _host,
    "htop": _host, "git": _git, "dig": _network, "nslookup": _network, "host": _network, "nc": _network,
    "telnet": _network, "openssl": _network,
}


def translate_shell(cmd: Command, segments: list[list[str]], params: ParameterSet) -> Step:
    """Return the step for a read-only shell pipeline: a call when a source fits, else text."""
    prog, args = _program(segments[0])
    translator = TRANSLATORS.get(prog)
    step = translator(cmd, prog, args, segments[1:], params) if translator else None
    if step is not None:
        return step
    if prog in rules.VENDOR_CLIS:
        return Step(cmd, "text", f"{prog} CLI: no incident_kit source")
    if prog in rules.INTERPRETERS:
        return Step(cmd, "text", "runs a project script whose effects are unknown")
    if prog in rules.READ_ONLY_NO_SOURCE:
        return Step(cmd, "text", f"{rules.READ_ONLY_NO_SOURCE[prog]}: no incident_kit source")
    return Step(cmd, "text", f"`{prog}` is not a command incident_kit knows; not run")


__all__ = ["translate_shell", "sql_call", "TRANSLATORS"]

"""PostgreSQL statements judged on PostgreSQL's own parser (pglast = libpg_query) and its catalog.

Two steps. :func:`parse` (no server) reads the statement with the server's grammar and refuses
anything but one ``SELECT``/``VALUES``/``TABLE``/``WITH``, ``SHOW`` or ``EXPLAIN`` (``EXPLAIN
ANALYZE`` only of a read) with no ``INSERT``/``UPDATE``/``DELETE``/``MERGE`` anywhere, no ``INTO``
and no ``FOR UPDATE``/``SHARE``; it returns every function, operator, relation and type named.
:func:`verify` then allows what PostgreSQL declares harmless: every function called, every
operator's function, every cast's function, the definitions of views and the row-security
policies of tables read must be ``IMMUTABLE`` or ``STABLE`` (``VOLATILE`` only when reviewed in
:mod:`.pgpolicy`). A user-defined function must be a non-volatile SQL function whose body passes
the same check (other languages cannot be read, so they are refused). The facts come from a
:class:`Catalog` (``pg_proc``, ``pg_operator``, ``pg_class``, ``pg_cast`` of the connected
server); without one, the built-in volatile names of PostgreSQL 15 stand in.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Protocol, Sequence

from .generic import REFUSED_FUNCTIONS, REFUSED_PREFIXES, refusal
from .pgpolicy import ALLOWED_EXTENSION_FUNCTIONS, ALLOWED_VOLATILE, BUILTIN_VOLATILE, SQL_RUNNERS, XID_ASSIGNERS

_WRITES = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})
_PLANNABLE = frozenset({"SelectStmt", *_WRITES, "CreateTableAsStmt"})
_NOT_OPERATORS = frozenset({"AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_NOT_BETWEEN_SYM"})
_FALSE = frozenset({"false", "off", "0", "no"})
MAX_DEPTH = 6


class Routine(NamedTuple):
    """One ``pg_proc`` row as the guard needs it (``support``: an aggregate's support function oids)."""

    oid: int
    name: str
    schema: str
    volatility: str
    language: str
    kind: str
    builtin: bool
    extension: str | None
    body: str | None
    support: tuple[int, ...] = ()
    wrapped: str = ""  # language internal: volatilities of the built-ins with the same C function


class Catalog(Protocol):
    """What the guard asks the connected server (read-only catalog queries; see sources.pgcatalog)."""

    def builtin_functions(self) -> Mapping[str, Sequence[tuple[int, int, str]]]:
        """Built-in name -> (fewest args, most args or -1 for variadic, volatility) per overload."""

    def builtin_volatile_operators(self) -> frozenset[str]:
        """Names of built-in operators whose function is volatile."""

    def functions_by_oid(self, oids: Sequence[int]) -> list[Routine]:
        """Functions with these oids."""

    def user_objects(self, functions: Sequence[str], operators: Sequence[str], relations: Sequence[str],
                     types: Sequence[str]) -> "UserObjects":
        """User-defined (and extension) objects with these names, in any schema (one round trip)."""


class UserObjects(NamedTuple):
    """What a statement's names are in the server beyond the built-ins."""

    functions: list[Routine]
    operators: list[tuple[str, int]]  # (operator, function oid)
    relations: list[tuple[str, list[str]]]  # (relation, statements reading it runs: view definition, RLS quals)
    types: list[tuple[str, list[int], list[str]]]  # (type, cast/input function oids, domain CHECKs as statements)


@dataclass(frozen=True)
class Parsed:
    """A statement that is a read by its shape, and the names it uses."""

    text: str
    functions: frozenset[tuple[str | None, str, int]]  # (schema, name, number of arguments)
    operators: frozenset[str]
    relations: frozenset[str]
    types: frozenset[str]


def _names(items: Iterable[dict]) -> list[str]:
    return [i["String"]["sval"] for i in items if "String" in i]


class _Collector:
    def __init__(self) -> None:
        self.functions: set[tuple[str | None, str, int]] = set()
        self.operators: set[str] = set()
        self.relations: set[str] = set()
        self.types: set[str] = set()
        self.writes: list[str] = []
        self.into = False
        self.locking = False

    def walk(self, root: object) -> "_Collector":
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
                continue
            if not isinstance(node, dict):
                continue
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    if key[0].isupper() or key == "typeName":
                        self._see(key, value)
                    stack.append(value)
        return self

    def _see(self, kind: str, v: object) -> None:  # noqa: C901 - one branch per node kind
        if not isinstance(v, dict):
            return
        if kind == "FuncCall":
            names = _names(v.get("funcname", []))
            if names:
                self.functions.add((names[-2] if len(names) > 1 else None, names[-1], len(v.get("args", []))))
        elif kind == "A_Expr" and v.get("kind") not in _NOT_OPERATORS:
            self.operators.update(_names(v.get("name", []))[-1:])
        elif kind == "SortBy":
            self.operators.update(_names(v.get("useOp", []))[-1:])
        elif kind == "SubLink":
            self.operators.update(_names(v.get("operName", []))[-1:])
        elif kind == "RangeVar":
            self.relations.add(v.get("relname", ""))
        elif kind == "typeName":
            self.types.update(_names(v.get("names", []))[-1:])
        elif kind in _WRITES:
            self.writes.append(kind)
        elif kind == "SelectStmt":
            self.into = self.into or "intoClause" in v
            self.locking = self.locking or "lockingClause" in v


def _analyze(explain: dict) -> bool:
    for option in explain.get("options", []):
        d = option.get("DefElem", {})
        if d.get("defname") == "analyze":
            arg = d.get("arg", {})
            value = str(next(iter(next(iter(arg.values()), {}).values()), "true")) if arg else "true"
            return value.lower() not in _FALSE
    return False


def bind(sql: str, names: Iterable[str]) -> tuple[str, str]:
    """Return ``sql`` with its ``:name`` parameters (of ``names``, outside literals and comments) as
    ``$n`` for the parser, and as SQLAlchemy ``text()`` with every other colon escaped."""
    from pglast import parser

    wanted = set(names)
    tokens = parser.scan(sql)  # offsets count characters
    for_parser, for_text, last, n = [], [], 0, 0
    for tok, nxt in zip(tokens, tokens[1:]):
        if tok.name == "ASCII_58" and nxt.start == tok.end + 1 and sql[nxt.start:nxt.end + 1] in wanted:
            n += 1
            for_parser.append(sql[last:tok.start] + f"${n}")
            for_text.append(sql[last:tok.start].replace(":", "\\:") + ":" + sql[nxt.start:nxt.end + 1])
            last = nxt.end + 1
    for_parser.append(sql[last:])
    for_text.append(sql[last:].replace(":", "\\:"))
    return "".join(for_parser), "".join(for_text)


@functools.lru_cache(maxsize=4096)
def parse(sql: str, binds: tuple[str, ...] = ()) -> Parsed:
    """Return the names a single read uses (``binds``: the ``:name`` parameters given); raises
    MutationRefused for any other statement."""
    from pglast import parser

    if not isinstance(sql, str) or not sql.strip():
        raise refusal(str(sql), "the statement is empty")
    text = sql.strip().rstrip(";").strip()
    if binds:
        sql, text = bind(text, binds)
    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except parser.ParseError as exc:
        raise refusal(sql, f"PostgreSQL cannot parse it ({' '.join(str(exc).split())[:100]})") from None
    statements = [s["stmt"] for s in tree.get("stmts", []) if s.get("stmt")]
    if len(statements) != 1:
        raise refusal(sql, f"it holds {len(statements)} statements")
    (kind, body), = statements[0].items()
    if kind == "VariableShowStmt":
        return Parsed(text, frozenset(), frozenset(), frozenset(), frozenset())
    plan_only = False
    if kind == "ExplainStmt":
        (inner, _), = body["query"].items()
        plan_only = not _analyze(body)
        if inner not in (_PLANNABLE if plan_only else {"SelectStmt"}):
            raise refusal(sql, f"EXPLAIN {'ANALYZE ' if not plan_only else ''}runs {_verb(inner)}, not a read")
    elif kind != "SelectStmt":
        raise refusal(sql, f"{_verb(kind)} is not a read")
    seen = _Collector().walk(statements[0])
    if not plan_only:
        if seen.writes:
            raise refusal(sql, f"it contains {_verb(seen.writes[0])}")
        if seen.into:
            raise refusal(sql, "SELECT ... INTO writes a table")
        if seen.locking:
            raise refusal(sql, "a locking clause (FOR UPDATE/FOR SHARE) takes row locks")
    return Parsed(text, frozenset(seen.functions), frozenset(seen.operators), frozenset(seen.relations),
                  frozenset(seen.types))


def _verb(node_kind: str) -> str:
    words = {"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE",
             "VariableSetStmt": "SET", "TransactionStmt": "a transaction command", "CreateTableAsStmt": "CREATE TABLE AS",
             "CopyStmt": "COPY", "DoStmt": "DO", "CallStmt": "CALL", "VacuumStmt": "VACUUM/ANALYZE",
             "LockStmt": "LOCK", "TruncateStmt": "TRUNCATE", "GrantStmt": "GRANT/REVOKE", "DropStmt": "DROP",
             "AlterSystemStmt": "ALTER SYSTEM", "RefreshMatViewStmt": "REFRESH", "PrepareStmt": "PREPARE",
             "ExecuteStmt": "EXECUTE", "DeclareCursorStmt": "DECLARE", "NotifyStmt": "NOTIFY"}
    if node_kind in words:
        return words[node_kind]
    name = node_kind.removesuffix("Stmt")
    return "".join(" " + c if c.isupper() and i else c for i, c in enumerate(name)).upper()


def verify(parsed: Parsed, catalog: Catalog | None, sql: str, depth: int = 0) -> None:
    """Raise MutationRefused when ``parsed`` calls something that may change the server."""
    if depth > MAX_DEPTH:
        raise refusal(sql, "views or functions nest too deeply to be checked")
    for schema, name, _ in sorted(parsed.functions, key=str):
        if name in SQL_RUNNERS:
            raise refusal(sql, f"{name}() runs SQL the guard cannot see")
        if name in XID_ASSIGNERS:
            raise refusal(sql, f"{name}() assigns a transaction id")
        offline = name in BUILTIN_VOLATILE or name in REFUSED_FUNCTIONS or name.startswith(REFUSED_PREFIXES)
        if catalog is None and offline and name not in ALLOWED_VOLATILE:
            raise refusal(sql, f"function {name}() is VOLATILE: it may change the server")
    if catalog is None:
        return
    builtins = catalog.builtin_functions()
    for schema, name, nargs in sorted(parsed.functions, key=str):
        if schema not in (None, "pg_catalog") or name in ALLOWED_VOLATILE:
            continue
        overloads = builtins.get(name, ())
        fitting = [v for lo, hi, v in overloads if lo <= nargs and (hi < 0 or nargs <= hi)] or [v for *_, v in overloads]
        if "v" in fitting:
            raise refusal(sql, f"function {name}() is VOLATILE: it may change the server")
    volatile_ops = catalog.builtin_volatile_operators() & parsed.operators
    if volatile_ops:
        raise refusal(sql, f"operator {min(volatile_ops)} runs a VOLATILE function")
    found = catalog.user_objects(sorted({name for _, name, _ in parsed.functions}), sorted(parsed.operators),
                                 sorted(parsed.relations), sorted(parsed.types))
    for routine in found.functions:
        _routine(routine, catalog, sql, depth)
    for operator, oid in found.operators:
        for routine in catalog.functions_by_oid([oid]):
            _routine(routine, catalog, sql, depth, what=f"operator {operator} calls ")
    for relation, statements in found.relations:
        for statement in statements:
            _nested(statement, catalog, sql, depth, f"reading {relation} runs")
    for typename, oids, checks in found.types:
        for routine in catalog.functions_by_oid(oids) if oids else []:
            _routine(routine, catalog, sql, depth, what=f"the cast to {typename} calls ")
        for statement in checks:
            _nested(statement, catalog, sql, depth, f"the domain {typename} runs")


def _nested(statement: str, catalog: Catalog, sql: str, depth: int, what: str) -> None:
    try:
        verify(parse(statement), catalog, statement, depth + 1)
    except Exception as exc:  # noqa: BLE001 - a refusal (or unparsable definition) of what the statement runs
        reason = getattr(exc, "reason", str(exc)).split(": ", 1)[-1].split("; only a single")[0]
        raise refusal(sql, f"{what} {reason}") from None


def _routine(r: Routine, catalog: Catalog, sql: str, depth: int, what: str = "") -> None:
    label = f"{what}{'function' if not what else ''} {r.schema}.{r.name}()".strip()
    if r.builtin:
        if r.volatility == "v" and r.name not in ALLOWED_VOLATILE:
            raise refusal(sql, f"{label} is VOLATILE: it may change the server")
        return
    if r.extension and (r.extension, r.name) in ALLOWED_EXTENSION_FUNCTIONS:
        return
    if r.volatility == "v":
        raise refusal(sql, f"{label} is VOLATILE: it may change the server")
    if r.extension:  # installed by an administrator from a package: its declaration is trusted like a built-in's
        return
    if r.kind == "a":
        for support in catalog.functions_by_oid(list(r.support)) if r.support else []:
            _routine(support, catalog, sql, depth, what=f"aggregate {r.name}() calls ")
        return
    if r.language == "internal" and r.wrapped and "v" not in r.wrapped:
        return  # another name for a built-in C function that is not volatile
    if r.language != "sql" or not r.body:
        raise refusal(sql, f"{label} is written in {r.language}, which the guard cannot check")
    from pglast import parser

    try:
        bodies = [s for s in parser.split(r.body) if s.strip()]
    except parser.ParseError:
        raise refusal(sql, f"{label} has a body PostgreSQL cannot parse") from None
    for statement in bodies:
        _nested(statement, catalog, sql, depth, f"{label} runs")


__all__ = ["Catalog", "MAX_DEPTH", "Parsed", "Routine", "UserObjects", "bind", "parse", "verify"]

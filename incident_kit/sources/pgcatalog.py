"""What a PostgreSQL server declares about its functions, operators, views and types, for sqlguard.

:class:`PgCatalog` answers :class:`incident_kit.sqlguard.Catalog` with read-only catalog queries
on a :class:`~incident_kit.sources.db.ReadOnlySession`'s connection, inside the transaction the
checked statement will run in. Built-in functions and operators (oid below 16384, fixed for a
server version) are read once per server and cached; user-defined objects are looked up by the
names each statement uses, every time, so a function created or replaced since is never judged
on an old answer.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence

from ..sqlguard import Routine

FIRST_USER_OID = 16384
_CACHE: dict[tuple[str, int], tuple[dict[str, list[tuple[int, int, str]]], frozenset[str]]] = {}
_LOCK = threading.Lock()

_BUILTINS_SQL = """
SELECT p.proname, p.pronargs - p.pronargdefaults, CASE WHEN p.provariadic <> 0 THEN -1 ELSE p.pronargs END,
       p.provolatile::text
FROM pg_catalog.pg_proc p WHERE p.oid < 16384
"""
_VOLATILE_OPERATORS_SQL = """
SELECT DISTINCT o.oprname FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
WHERE o.oid < 16384 AND p.provolatile = 'v'
"""
_ROUTINES_SQL = """
SELECT p.oid::int8, p.proname, n.nspname, p.provolatile::text, l.lanname, p.prokind::text, p.oid < 16384,
       (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
          AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e' LIMIT 1),
       {body},
       (SELECT ARRAY[a.aggtransfn::oid, a.aggfinalfn::oid, a.aggcombinefn::oid, a.aggserialfn::oid,
                     a.aggdeserialfn::oid, a.aggmtransfn::oid, a.aggminvtransfn::oid, a.aggmfinalfn::oid]::int8[]
        FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid)
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE {where}
"""
_BODY_14 = "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid) ELSE p.prosrc END"
_OPERATORS_SQL = """
SELECT o.oprname, o.oprcode::oid::int8 FROM pg_catalog.pg_operator o
WHERE o.oid >= 16384 AND o.oprname = ANY(:names) AND o.oprcode <> 0
"""
_RELATIONS_SQL = """
SELECT c.relname, CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END,
       ARRAY(SELECT pg_catalog.pg_get_expr(p.polqual, p.polrelid) FROM pg_catalog.pg_policy p
             WHERE p.polrelid = c.oid AND p.polqual IS NOT NULL)
FROM pg_catalog.pg_class c
WHERE c.oid >= 16384 AND c.relname = ANY(:names) AND (c.relkind = 'v' OR c.relrowsecurity)
"""
_TYPES_SQL = """
SELECT t.typname,
       ARRAY(SELECT c.castfunc::int8 FROM pg_catalog.pg_cast c
             WHERE c.casttarget = t.oid AND c.castfunc <> 0 AND c.oid >= 16384)
       || CASE WHEN t.oid >= 16384 AND t.typinput::oid >= 16384 THEN ARRAY[t.typinput::oid::int8] ELSE '{}' END,
       ARRAY(SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
             WHERE k.contypid = t.oid AND k.contype = 'c')
FROM pg_catalog.pg_type t WHERE t.typname = ANY(:names)
"""


def _sql_body(body: str | None) -> str | None:
    """Return a SQL function's body as statements (``RETURN x`` and ``BEGIN ATOMIC`` unwrapped)."""
    if not body:
        return body
    text = body.strip()
    head = text[:12].upper()
    if head.startswith("RETURN"):
        return "SELECT " + text[6:]
    if head.startswith("BEGIN ATOMIC"):
        inner = text[12:].rstrip()
        return inner[:-3] if inner.upper().endswith("END") else inner
    return body


class PgCatalog:
    """The connected server's catalog as sqlguard asks it; ``run(sql, params)`` returns rows."""

    def __init__(self, run: Any, server: str) -> None:
        self._run = run
        self._server = server
        self._version: int | None = None

    def _builtins(self) -> tuple[dict[str, list[tuple[int, int, str]]], frozenset[str]]:
        if self._version is None:
            self._version = int(self._run("SELECT current_setting('server_version_num')::int", {})[0][0])
        key = (self._server, self._version)
        with _LOCK:
            cached = _CACHE.get(key)
        if cached is None:
            functions: dict[str, list[tuple[int, int, str]]] = {}
            for name, lo, hi, volatility in self._run(_BUILTINS_SQL, {}):
                functions.setdefault(name, []).append((int(lo), int(hi), volatility))
            operators = frozenset(r[0] for r in self._run(_VOLATILE_OPERATORS_SQL, {}))
            cached = (functions, operators)
            with _LOCK:
                _CACHE[key] = cached
        return cached

    def builtin_functions(self) -> Mapping[str, Sequence[tuple[int, int, str]]]:
        """Return built-in name -> (fewest args, most args or -1, volatility) per overload (cached)."""
        return self._builtins()[0]

    def builtin_volatile_operators(self) -> frozenset[str]:
        """Return the names of built-in operators backed by a volatile function (cached)."""
        return self._builtins()[1]

    def _routines(self, where: str, params: dict[str, Any]) -> list[Routine]:
        self._builtins()
        body = _BODY_14 if (self._version or 0) >= 140000 else "p.prosrc"
        rows = self._run(_ROUTINES_SQL.format(body=body, where=where), params)
        return [Routine(int(oid), name, schema, vol, lang, kind, bool(builtin), ext,
                        _sql_body(src) if lang == "sql" else src, tuple(int(o) for o in (support or ()) if o))
                for oid, name, schema, vol, lang, kind, builtin, ext, src, support in rows]

    def user_functions(self, names: Sequence[str]) -> list[Routine]:
        """Return user-defined and extension functions named ``names`` in any schema."""
        return self._routines("p.oid >= 16384 AND p.proname = ANY(:names)", {"names": list(names)})

    def functions_by_oid(self, oids: Sequence[int]) -> list[Routine]:
        """Return the functions with these oids."""
        return self._routines("p.oid = ANY(CAST(:oids AS int8[])::oid[])", {"oids": [int(o) for o in oids]})

    def user_operators(self, names: Sequence[str]) -> list[tuple[str, int]]:
        """Return (name, function oid) of user-defined operators named ``names``."""
        return [(r[0], int(r[1])) for r in self._run(_OPERATORS_SQL, {"names": list(names)})]

    def user_relations(self, names: Sequence[str]) -> list[tuple[str, list[str]]]:
        """Return (relation, statements reading it runs): user views' definitions, row-security quals."""
        out = []
        for name, viewdef, quals in self._run(_RELATIONS_SQL, {"names": list(names)}):
            statements = ([viewdef] if viewdef else []) + [f"SELECT {q}" for q in quals or ()]
            out.append((name, statements))
        return out

    def user_types(self, names: Sequence[str]) -> list[tuple[str, list[int], list[str]]]:
        """Return (type, user cast/input function oids, domain CHECK expressions as statements)."""
        out = []
        for name, oids, checks in self._run(_TYPES_SQL, {"names": list(names)}):
            statements = [f"SELECT {c.strip()[5:].strip().removesuffix('NOT VALID')}" for c in checks or ()
                          if c.strip().upper().startswith("CHECK")]
            if oids or statements:
                out.append((name, [int(o) for o in oids or ()], statements))
        return out


__all__ = ["FIRST_USER_OID", "PgCatalog"]

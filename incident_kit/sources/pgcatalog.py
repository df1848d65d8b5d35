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

from ..sqlguard import Routine, UserObjects

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
_ROUTINE = """
json_build_array(p.oid::int8, p.proname, n.nspname, p.provolatile::text, l.lanname, p.prokind::text, p.oid < 16384,
       (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
          AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e' LIMIT 1),
       {body},
       (SELECT ARRAY[a.aggtransfn::oid, a.aggfinalfn::oid, a.aggcombinefn::oid, a.aggserialfn::oid,
                     a.aggdeserialfn::oid, a.aggmtransfn::oid, a.aggminvtransfn::oid, a.aggmfinalfn::oid]::int8[]
        FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid),
       CASE WHEN l.lanname = 'internal' AND p.oid >= 16384 THEN
         (SELECT string_agg(DISTINCT b.provolatile::text, '') FROM pg_catalog.pg_proc b
          WHERE b.oid < 16384 AND b.prosrc = p.prosrc) END)
"""
_FROM_PROC = """pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     JOIN pg_catalog.pg_language l ON l.oid = p.prolang"""
_BODY_14 = "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid) ELSE p.prosrc END"
_BY_OID_SQL = "SELECT {routine} FROM " + _FROM_PROC + " WHERE p.oid = ANY(CAST(:oids AS int8[])::oid[])"
_USER_SQL = """
SELECT
 (SELECT coalesce(json_agg({routine}), '[]') FROM """ + _FROM_PROC + """
  WHERE p.oid >= 16384 AND p.proname = ANY(:functions)),
 (SELECT coalesce(json_agg(json_build_array(o.oprname, o.oprcode::oid::int8)), '[]') FROM pg_catalog.pg_operator o
  WHERE o.oid >= 16384 AND o.oprname = ANY(:operators) AND o.oprcode <> 0),
 (SELECT coalesce(json_agg(json_build_array(c.relname, CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END,
          ARRAY(SELECT pg_catalog.pg_get_expr(p.polqual, p.polrelid) FROM pg_catalog.pg_policy p
                WHERE p.polrelid = c.oid AND p.polqual IS NOT NULL))), '[]')
  FROM pg_catalog.pg_class c
  WHERE c.oid >= 16384 AND c.relname = ANY(:relations) AND (c.relkind = 'v' OR c.relrowsecurity)),
 (SELECT coalesce(json_agg(json_build_array(t.typname,
          ARRAY(SELECT c.castfunc::int8 FROM pg_catalog.pg_cast c
                WHERE c.casttarget = t.oid AND c.castfunc <> 0 AND c.oid >= 16384)
          || CASE WHEN t.oid >= 16384 AND t.typinput::oid >= 16384 THEN ARRAY[t.typinput::oid::int8] ELSE '{{}}' END,
          ARRAY(SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
                WHERE k.contypid = t.oid AND k.contype = 'c'))), '[]')
  FROM pg_catalog.pg_type t WHERE t.typname = ANY(:types))
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

    def __init__(self, run: Any, server: str, version: int | None = None) -> None:
        self._run = run
        self._server = server
        self._version = version

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

    def _routine_sql(self) -> str:
        self._builtins()
        return _ROUTINE.format(body=_BODY_14 if (self._version or 0) >= 140000 else "p.prosrc")

    def functions_by_oid(self, oids: Sequence[int]) -> list[Routine]:
        """Return the functions with these oids."""
        rows = self._run(_BY_OID_SQL.format(routine=self._routine_sql()), {"oids": [int(o) for o in oids]})
        return [_routine(r[0]) for r in rows]

    def user_objects(self, functions: Sequence[str], operators: Sequence[str], relations: Sequence[str],
                     types: Sequence[str]) -> UserObjects:
        """Return the user-defined and extension objects with these names, in one query."""
        if not (functions or operators or relations or types):
            return UserObjects([], [], [], [])
        params = {"functions": list(functions), "operators": list(operators), "relations": list(relations),
                  "types": list(types)}
        found_f, found_o, found_r, found_t = self._run(_USER_SQL.format(routine=self._routine_sql()), params)[0]
        rels = [(name, ([viewdef] if viewdef else []) + [f"SELECT {q}" for q in quals or ()])
                for name, viewdef, quals in found_r]
        kinds = []
        for name, oids, checks in found_t:
            statements = [f"SELECT {c.strip()[5:].strip().removesuffix('NOT VALID')}" for c in checks or ()
                          if c.strip().upper().startswith("CHECK")]
            if oids or statements:
                kinds.append((name, [int(o) for o in oids or ()], statements))
        return UserObjects([_routine(r) for r in found_f], [(o, int(f)) for o, f in found_o], rels, kinds)


def _routine(row: Sequence[Any]) -> Routine:
    oid, name, schema, vol, lang, kind, builtin, ext, src, support, wrapped = row
    return Routine(int(oid), name, schema, vol, lang, kind, bool(builtin), ext,
                   _sql_body(src) if lang == "sql" else src, tuple(int(o) for o in (support or ()) if o),
                   wrapped or "")


__all__ = ["FIRST_USER_OID", "PgCatalog"]

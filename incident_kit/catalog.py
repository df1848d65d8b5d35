"""The scenario catalog: where scenario notebooks are found and what parameters they take.

Lookup order: ``./notebooks/`` (a team's own, editable copies), then the notebooks shipped in
the installed package, then (for a source checkout) the repository's ``notebooks/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def search_path() -> list[Path]:
    """Return the notebook directories searched, in order (existing ones only)."""
    dirs = [Path.cwd() / "notebooks", _PACKAGE_DIR / "notebooks", _PACKAGE_DIR.parent / "notebooks"]
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def scenarios() -> dict[str, Path]:
    """Return every scenario name mapped to the notebook that wins the lookup order."""
    found: dict[str, Path] = {}
    for d in search_path():
        for nb in sorted(d.glob("*.ipynb")):
            found.setdefault(nb.stem, nb)
    return found


def find(name: str) -> Path:
    """Return the notebook for scenario ``name`` (or ``name`` itself when it is a path to a .ipynb).

    Raises :class:`ConfigError` listing the available scenarios when there is none of that name.
    """
    if name.endswith(".ipynb") or "/" in name:
        p = Path(name)
        if not p.is_file():
            raise ConfigError(f"notebook {name}: not found")
        return p
    available = scenarios()
    if name not in available:
        raise ConfigError(f"unknown scenario {name!r}; available: {', '.join(sorted(available)) or 'none'}")
    return available[name]


def describe(path: Path) -> str:
    """Return the first sentence after the title of the notebook's first Markdown cell."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(unreadable notebook)"
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            text = "".join(cell.get("source", ""))
            paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
            if paragraphs:
                first = paragraphs[0]
                return first.split(". ")[0].rstrip(".") + "."
            return text.strip().lstrip("# ").splitlines()[0] if text.strip() else ""
    return ""


def parameters(name: str) -> dict[str, dict[str, Any]]:
    """Return the scenario's parameters: name -> {"default", "type", "help"} (from its parameters cell).

    Raises :class:`ConfigError` for an unknown scenario.
    """
    import papermill

    path = find(name)
    out: dict[str, dict[str, Any]] = {}
    for pname, info in papermill.inspect_notebook(str(path)).items():
        out[pname] = {"default": info.get("default"), "type": info.get("inferred_type_name"), "help": info.get("help", "")}
    return out


def cli_list(args: argparse.Namespace) -> int:
    """``incident-kit list [--params SCENARIO]``: shipped scenarios in the registry's order with when to
    use them, then a team's own notebooks with their first sentence; returns the exit code."""
    if args.params:
        params = parameters(args.params)
        width = max((len(n) for n in params), default=4)
        for pname, info in params.items():
            helptext = f"  # {info['help']}" if info["help"] else ""
            print(f"{pname:<{width}}  = {info['default']}{helptext}")
        return 0
    from . import scenarios as registry

    found = scenarios()
    shipped = registry.names()
    ordered = [n for n in shipped if n in found] + sorted(n for n in found if n not in shipped)
    width = max((len(n) for n in ordered), default=4)
    for sname in ordered:
        text = f"use when {registry.get(sname).use_when}" if sname in shipped else describe(found[sname])
        print(f"{sname:<{width}}  {text}")
    return 0

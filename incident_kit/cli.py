"""The ``incident-kit`` command line: argument parsing and one-line errors.

Each subcommand is implemented in the module that owns the concern and imported only when
that subcommand runs, so ``incident-kit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from . import __version__
from .errors import IncidentKitError

# subcommand -> "module:function"; each function takes the parsed args and returns an exit code.
HANDLERS: dict[str, str] = {
    "demo": "incident_kit.demo.environment:cli_demo",
    "run": "incident_kit.runner:cli_run",
    "list": "incident_kit.catalog:cli_list",
    "check": "incident_kit.check:cli_check",
    "serve": "incident_kit.server:cli_serve",
    "import-runbook": "incident_kit.importer:cli_import",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as argparse does but shorter
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the whole CLI."""
    p = _Parser(prog="incident-kit", description="Executable incident runbooks: investigate, then report.")
    p.add_argument("--version", action="version", version=f"incident-kit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="stage the bundled demo incident, investigate it, write the report")
    d.add_argument("--scenario", default="high_error_rate", help="scenario to stage and run (default: high_error_rate)")
    d.add_argument("--out", default="reports", help="reports directory (default: ./reports)")
    d.add_argument("--keep", action="store_true", help="leave the demo services running until Ctrl-C")

    r = sub.add_parser("run", help="execute a scenario notebook and write its report")
    r.add_argument("scenario", help="scenario name (see `incident-kit list`) or path to a .ipynb")
    r.add_argument("-f", "--parameters-file", action="append", default=[], metavar="FILE.yaml",
                   help="papermill parameter file; repeatable, later files win")
    r.add_argument("-p", "--parameter", action="append", nargs=2, default=[], metavar=("NAME", "VALUE"),
                   help="one parameter; repeatable; wins over files")
    r.add_argument("--alert", metavar="PAYLOAD.json", help="alert payload (Alertmanager, Grafana or generic JSON)")
    r.add_argument("--out", default="reports", help="reports directory (default: ./reports)")
    r.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--format", choices=("html", "md", "both"), default="both",
                   help="report.html, report.md (Markdown postmortem) or both (default)")
    r.add_argument("--offline", action="store_true",
                   help="reach nothing beyond this machine: probes, HTTP sources and DNS refuse other hosts "
                        "(also INCIDENT_KIT_OFFLINE=1)")

    ls = sub.add_parser("list", help="list scenarios, or one scenario's parameters")
    ls.add_argument("--params", metavar="SCENARIO", help="show the parameters of SCENARIO")

    c = sub.add_parser("check", help="reach every configured source and say what works")
    c.add_argument("-f", "--parameters-file", action="append", default=[], metavar="FILE.yaml")
    c.add_argument("-p", "--parameter", action="append", nargs=2, default=[], metavar=("NAME", "VALUE"))
    c.add_argument("--timeout", type=float, default=5.0, help="per-source timeout in seconds (default 5)")

    s = sub.add_parser("serve", help="receive alert webhooks and run the matching scenario")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8787)
    s.add_argument("-c", "--routes", default="parameters/routes.yaml", help="routes file (default: parameters/routes.yaml)")
    s.add_argument("--out", default="reports", help="reports directory (default: ./reports)")
    s.add_argument("--ledger", default=None, help="SQLAlchemy URL of the run ledger (default: sqlite in --out)")
    s.add_argument("--workers", type=int, default=2, help="concurrent runs (default 2)")
    s.add_argument("--queue", default="local", help="'local' or a redis:// URL for a huey task queue")

    i = sub.add_parser("import-runbook", help="turn a Markdown runbook into a scenario notebook")
    i.add_argument("runbook", metavar="RUNBOOK.md")
    i.add_argument("-o", "--output", metavar="notebooks/NAME.ipynb", help="notebook to write (default: notebooks/<runbook name>.ipynb)")
    i.add_argument("--scenario-per-section", action="store_true", help="one notebook per incident section")
    return p


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    module, func = HANDLERS[command].split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(_handler(args.command)(args) or 0)
    except IncidentKitError as exc:
        print(f"incident-kit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("incident-kit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

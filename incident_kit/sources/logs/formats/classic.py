"""The line formats of :data:`.lines.LINE_FORMATS` (access logs, syslog, Apache error, HDFS) and the record
formats of :mod:`.base` and :mod:`.logfmt` (JSON lines, journald, logfmt, CSV), declared in the registry."""

from __future__ import annotations

from functools import partial

from .access import parse_access
from .delimited import parse_csv
from .jsonlines import parse_journald, parse_json
from .lines import LINE_FORMATS, parse_lines
from .logfmt import parse_logfmt
from .registry import Format, python_pattern, register, share_matching


def _declare(name: str, rank: int, *aliases: str, sniffed: bool = True) -> Format:
    lf = LINE_FORMATS[name]
    sniff = partial(share_matching, python_pattern(lf.pattern), multiline=False) if sniffed else None
    parse = parse_access if name in ("combined", "apache") else parse_lines
    return register(Format(name, partial(parse, line_format=lf), sniff, rank, description=lf.description), *aliases)


COMBINED = _declare("combined", 20, "nginx", "common", "clf", "access")
APACHE = _declare("apache", 21, "apache_combined", "apache_common", sniffed=False)
SYSLOG = _declare("syslog", 20, "rfc3164")
SYSLOG5424 = _declare("syslog5424", 15, "rfc5424")
APACHE_ERROR = _declare("apache_error", 10, "apache_error_log")
HDFS = _declare("hdfs", 10)
# sniffed by :mod:`..sniff` itself (they need parsing, not a pattern)
JSON = register(Format("json", parse_json, None, 30, description="JSON lines"), "jsonl", "ndjson")
JOURNALD = register(Format("journald", parse_journald, None, 30, description="journalctl -o json"), "journal")
LOGFMT = register(Format("logfmt", parse_logfmt, None, 40, description="logfmt key=value pairs"))
CSV = register(Format("csv", parse_csv, None, 40, description="CSV with a header"))

__all__ = ["COMBINED", "APACHE", "SYSLOG", "SYSLOG5424", "APACHE_ERROR", "HDFS", "JSON", "JOURNALD", "LOGFMT", "CSV"]

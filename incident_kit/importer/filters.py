"""Pipeline stages after a read (``| grep``, ``| head``, ``| tail``) as pandas lines on the frame.

``grep`` is translated with its own syntax (basic regular expressions unless ``-E``/``-F``,
``-i``, ``-v``); on logs it searches the level, status, path and message columns, since grep
saw the whole line, and an alternative such as ``5xx`` also matches HTTP statuses 500-599.
Lines use ``{v}`` for the frame's variable name.
"""

from __future__ import annotations

import re

from .classify import _option, _program


def positional(args: list[str], with_value: set[str]) -> list[str]:
    """Return the non-option arguments, skipping the values of options in ``with_value``."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in with_value:
            skip = True
        elif not a.startswith("-") or a == "-":
            out.append(a)
    return out


def py_literal(text: str) -> str:
    """Return a Python string literal for ``text`` (raw when it holds backslashes)."""
    if "\\" in text and not text.endswith("\\") and '"' not in text:
        return f'r"{text}"'
    return repr(text)


def pipeline_tail(rest: list[list[str]], *, frame_kind: str) -> tuple[list[str], list[str]]:
    """Return (lines applied to the frame, notes) for the filter stages after the first command."""
    after: list[str] = []
    notes: list[str] = []
    for argv in rest:
        prog, args = _program(argv)
        if prog in ("grep", "egrep", "fgrep") and frame_kind in ("logs", "processes"):
            pattern = (_option(args, ("-e", "--regexp")) or (positional(args, {"-e", "-m", "-A", "-B", "-C"}) or [""])[0])
            after.append(grep_line(pattern, args, prog, frame_kind))
        elif prog in ("head", "tail") and frame_kind == "logs":
            n = count_arg(args)
            after.append(f"{{v}} = {{v}}.{prog}({n})")
        else:
            notes.append(f"`{' '.join(argv)}` (later in the command line) is not translated: the frame is shown whole")
    return after, notes


def count_arg(args: list[str]) -> int:
    """Return N of ``head -N`` / ``tail -n N`` (10 by default)."""
    value = _option(args, ("-n", "--lines")) or next((a[1:] for a in args if re.fullmatch(r"-\d+", a)), "10")
    return int(value.lstrip("+")) if value.lstrip("+").isdigit() else 10


def _short_flags(args: list[str]) -> set[str]:
    """Return the single-letter options given (``-iE`` -> {"i", "E"}); long options are spelt out."""
    letters = {ch for a in args if a.startswith("-") and not a.startswith("--") for ch in a[1:]}
    long_names = {"--ignore-case": "i", "--invert-match": "v", "--extended-regexp": "E", "--fixed-strings": "F"}
    return letters | {letter for name, letter in long_names.items() if name in args}


def _bre_to_python(pattern: str) -> str:
    """Return a basic (grep) regular expression in Python syntax: ``a\\|b`` -> ``a|b``, ``(`` -> ``\\(``."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "|(){}+?" else ch + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch in "|(){}+?" else ch)
        i += 1
    return "".join(out)


_STATUS_CLASS = re.compile(r"^\s*([1-5])(?:xx|XX|\\d\\d|\[0-9\]\[0-9\]|\.\.)\s*$")


def grep_line(pattern: str, args: list[str], prog: str, frame_kind: str) -> str:
    """Return the pandas line(s) that keep (or, with -v, drop) the rows whose text matches ``pattern``.

    On logs, grep saw the whole line, so the level, status, path and message columns are all
    searched, and an alternative such as ``5xx`` also matches HTTP statuses 500-599.
    """
    flags = _short_flags(args)
    if prog == "fgrep" or "F" in flags:
        regex = re.escape(pattern)
    elif prog == "egrep" or "E" in flags:
        regex = pattern
    else:
        regex = _bre_to_python(pattern)
    case = "False" if "i" in flags else "True"
    negate = "~" if "v" in flags else ""
    if frame_kind != "logs":  # a source that failed returns a frame without columns: filter only what is there
        return (f"{{v}} = {{v}}[{negate}{{v}}['cmdline'].str.contains({py_literal(regex)}, case={case}, regex=True, na=False)]"
                " if len({v}) else {v}")
    alternatives = regex.split("|")
    classes = [m.group(1) for m in map(_STATUS_CLASS.match, alternatives) if m]
    terms = [f"hit('{column}')" for column in ("level", "status", "path", "message")]
    terms += [f"{{v}}['status'].between({c}00, {c}99).fillna(False)" for c in classes]
    lines = [f"hit = lambda column: {{v}}[column].astype('string').str.contains({py_literal(regex)}, case={case}, "
             "regex=True, na=False)"]
    lines.append(f"{{v}} = {{v}}[{negate}({' | '.join(terms)})]")
    return "\n".join(lines)


__all__ = ["pipeline_tail", "count_arg", "positional", "py_literal", "grep_line"]

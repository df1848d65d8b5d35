"""The command line as PRODUCT.md fixes it: --help everywhere, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["demo", "run", "list", "check", "serve", "import-runbook"]


def ik_process(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `python -m incident_kit` process."""
    return subprocess.run([sys.executable, "-m", "incident_kit", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def ik(capsys):
    """Run the CLI in this process (same code path as the console script); returns a CompletedProcess."""
    from incident_kit.cli import main

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's --help/--version/usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return call


def test_help_and_version():
    top = ik_process("--help")
    assert top.returncode == 0
    for cmd in COMMANDS:
        assert cmd in top.stdout
    assert ik_process("--version").stdout.startswith("incident-kit ")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_subcommand_has_help(ik, cmd):
    proc = ik(cmd, "--help")
    assert proc.returncode == 0 and "usage: incident-kit " + cmd in proc.stdout


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_bad_parameter_file_is_one_line(ik, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("logs: [unclosed\n")
    line = one_line_error(ik("run", "high_error_rate", "-f", str(bad)))
    assert str(bad) in line and "line" in line


def test_parameter_file_that_is_not_a_mapping(ik, tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    assert "expected a mapping" in one_line_error(ik("run", "high_error_rate", "-f", str(bad)))


def test_missing_parameter_file_and_unknown_names(ik):
    assert "not found" in one_line_error(ik("run", "high_error_rate", "-f", "/nonexistent/p.yaml"))
    assert "unknown parameter 'nope'" in one_line_error(ik("run", "high_error_rate", "-p", "nope", "1"))
    assert "unknown scenario 'no_such'" in one_line_error(ik("run", "no_such"))


def test_errors_in_a_real_process_are_one_line_too(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("logs: [unclosed\n")
    assert str(bad) in one_line_error(ik_process("run", "high_error_rate", "-f", str(bad)))


def test_usage_errors_exit_2(ik):
    proc = ik("run")
    assert proc.returncode == 2 and "the following arguments are required" in proc.stderr


def test_list_names_the_scenarios_and_their_parameters(ik):
    out = ik("list").stdout
    assert "high_error_rate" in out
    params = ik("list", "--params", "high_error_rate").stdout
    assert "database_url" in params and "output_dir" in params

"""The root command: help and version work without importing TensorFlow."""

import subprocess
import sys

from click.testing import CliRunner

from neep.cli.main import cli


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Estimate entropy production" in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "neep, version" in result.output


def test_unknown_command_is_one_line_error():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_help_does_not_import_tensorflow():
    # `neep --help` must stay fast: TensorFlow costs seconds to import.
    code = (
        "import sys; from click.testing import CliRunner; from neep.cli.main import cli;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

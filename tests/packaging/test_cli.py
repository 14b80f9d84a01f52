"""The `theus` console script and the installed metadata (one version, the entry point)."""

from __future__ import annotations

import importlib.metadata
import pathlib
import sys

import pytest

import theus
from theus.__main__ import main
from packaging_helpers import ok, run

SCRIPT = pathlib.Path(sys.executable).parent / "theus"


def test_console_script_is_installed_beside_the_interpreter():
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: the console script was not installed"


@pytest.mark.parametrize("cmd", [[SCRIPT], [sys.executable, "-m", "theus"]], ids=["script", "python -m"])
def test_version_prints_the_package_version(cmd):
    assert ok(run([*cmd, "--version"])) == f"theus {theus.__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage(flag):
    out = ok(run([SCRIPT, flag]))
    assert out.startswith("usage: theus ")
    assert "--version" in out and "TheusEngine" in out


def test_no_arguments_prints_the_usage_and_succeeds(capsys):
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("usage: theus ")


@pytest.mark.parametrize("argv", [["--bogus"], ["run", "flow.yaml"], ["--version=2"]])
def test_unknown_arguments_exit_2_with_the_usage(argv):
    result = run([SCRIPT, *argv])
    assert result.returncode == 2
    assert result.stderr.startswith("usage: theus ") and "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_version_source():
    from theus import _version

    assert theus.__version__ == _version.__version__ == importlib.metadata.version("theus")
    assert theus.__version__.count(".") == 2


def test_metadata():
    meta = importlib.metadata.metadata("theus")
    assert meta["Name"] == "theus"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert any(c.startswith("Programming Language :: Python :: 3.10") for c in meta.get_all("Classifier"))
    assert {"test", "notebook", "numpy"} <= set(meta.get_all("Provides-Extra"))
    assert meta["Summary"] and "theus" in meta["Description"]


def test_entry_point():
    (ep,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "theus"]
    assert ep.value == "theus.__main__:main"
    assert ep.load() is main


def test_typing_files_are_installed():
    where = pathlib.Path(theus.__file__).parent
    assert (where / "py.typed").is_file() and (where / "_core.pyi").is_file()

"""Helpers for the packaging tests: a copy of the source tree, fresh venvs, subprocess runs."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Not part of a clean checkout: build products, venvs, caches.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".pytest_cache", ".hypothesis")


def copy_source(dest: pathlib.Path) -> pathlib.Path:
    """A copy of the source tree as a clean checkout has it."""
    shutil.copytree(ROOT, dest, ignore=_NOT_SOURCE)
    return dest


def path_without_go() -> str:
    """A PATH with the usual system directories and no Go toolchain on it."""
    dirs = [d for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin") if os.path.isdir(d)]
    path = os.pathsep.join(dirs)
    assert shutil.which("go", path=path) is None, f"go is installed in a system directory ({shutil.which('go', path=path)})"
    return path


# Variables that change what a build finds or does; the module proxy and cache settings stay.
_BUILD_VARS = ("GO", "GOFLAGS", "GOROOT", "GOTOOLCHAIN", "CC", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
_BUILD_PREFIXES = ("CGO_", "THEUS_", "PYTHON")


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment minus what points a build at a Go, a compiler or a venv, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in _BUILD_VARS and not k.startswith(_BUILD_PREFIXES)}
    env.update(overrides)
    return env


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: pathlib.Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Runs `cmd`, returning its result with stdout and stderr as text."""
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a run that must have succeeded (its output is shown when it did not)."""
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def make_venv(where: pathlib.Path) -> pathlib.Path:
    """A fresh plain venv (no system site-packages); returns its python."""
    ok(run([sys.executable, "-m", "venv", where]))
    return where / "bin" / "python"


# A program run by an installed theus: import, a commit, a process through the engine.
SMOKE = """
import sys, theus
s = theus.State({"domain": {"x": 0}})
assert s.compare_and_swap(0, {"domain.x": 1}) == 1 and s.get("domain.x") == 1

@theus.process(inputs=["domain.n"], outputs=["domain.n"])
def inc(ctx):
    return ctx.domain.n + 1

e = theus.TheusEngine({"domain": {"n": 41}})
e.execute(inc)
assert e.state.domain.n == 42 and e.state.version == 1
print(theus.__version__, theus.__file__)
"""

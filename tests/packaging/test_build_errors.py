"""Building from source without what it needs stops with one line naming it, not a traceback.

Each case runs the user's route (`pip wheel` of a source tree) with one piece taken away: Go
(not on PATH, too old, unusable), the C compiler, the Python headers (THEUS_PYTHON_INCLUDE
points the build at an empty directory), or a `go build` that fails.
"""

from __future__ import annotations

import os
import pathlib
import stat
import sys

import pytest

from packaging_helpers import clean_env, copy_source, path_without_go, run


def fake_go(where: pathlib.Path, goversion: str) -> str:
    """A `go` that answers `go env GOVERSION` with `goversion` and `go env CC` with gcc."""
    script = where / "fake-go"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "env GOVERSION" ]; then echo "{goversion}"; exit 0; fi\n'
        'if [ "$1 $2" = "env CC" ]; then echo gcc; exit 0; fi\n'
        "echo 'fake go: unexpected arguments' >&2; exit 2\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> pathlib.Path:
    return copy_source(tmp_path_factory.mktemp("src") / "theus")


def no_go(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(PATH=path_without_go())


def old_go(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(PATH=path_without_go(), GO=fake_go(tmp, "go1.21.5"))


def garbled_go(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(PATH=path_without_go(), GO=fake_go(tmp, "devel +a1b2c3"))


def go_not_runnable(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(PATH=path_without_go(), GO=str(tmp / "no-such-dir" / "go"))


def no_headers(tmp: pathlib.Path) -> dict[str, str]:
    (tmp / "include").mkdir()
    return clean_env(THEUS_PYTHON_INCLUDE=str(tmp / "include"))


def no_c_compiler(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(CC="theus-no-such-cc")


def no_go_no_headers(tmp: pathlib.Path) -> dict[str, str]:
    env = no_headers(tmp)
    env["PATH"] = path_without_go()
    return env


def go_build_fails(tmp: pathlib.Path) -> dict[str, str]:
    return clean_env(GOFLAGS="-mod=vendor")  # there is no vendor/ directory


VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

CASES = [
    # (environment, fragments the one line must contain)
    (no_go, ["building from source needs Go >= 1.26", "not on PATH", "https://go.dev/dl", "GO=", "binary wheel"]),
    (old_go, ["needs Go >= 1.26", "is go1.21.5", "https://go.dev/dl"]),
    (garbled_go, ["needs Go >= 1.26", "version", "cannot be read", "https://go.dev/dl"]),
    (go_not_runnable, ["needs Go >= 1.26", "cannot be run", "https://go.dev/dl"]),
    (no_headers, [f"the Python {VERSION} headers", "Python.h does not exist", f"apt-get install python{VERSION}-dev"]),
    (no_c_compiler, ["a C compiler", "theus-no-such-cc", "apt-get install gcc"]),
    (no_go_no_headers, ["needs Go >= 1.26", f"the Python {VERSION} headers", "apt-get install"]),
    (go_build_fails, ["`go build` of theus._core failed", "GOPROXY"]),
]


@pytest.mark.parametrize("make_env, fragments", CASES, ids=[c[0].__name__ for c in CASES])
def test_missing_build_piece_is_one_clear_line(tree, tmp_path, make_env, fragments):
    env = make_env(tmp_path)
    env["HOME"] = os.environ.get("HOME", "/root")
    result = run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", tmp_path / "out", tree], env=env, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("theus: ")]
    assert len(lines) == 1, f"expected one line starting 'theus: ', got {lines}\n{output}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in output, output
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True

"""The Go build hook of theus: theus._core is one Go c-shared library built by `go build`.

Everything else about the package (name, version, metadata, files) lives in pyproject.toml.
Building from source needs Go >= 1.26, a C compiler and this interpreter's headers; when one
of them is missing the build stops with one line naming it and how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
GO_MIN = (1, 26)
GO_MIN_TEXT = "%d.%d" % GO_MIN

# C flags for the cgo code in capi/ and pyproxy/ (the include directory is added per build).
# C warnings: -Wunused-parameter is off because cgo's own generated C trips it. The project's
# builds (make) set THEUS_WERROR=1 so any warning fails them; a user's build from the sdist with
# a newer compiler warns instead of failing.
CGO_CFLAGS = ["-O2", "-g0", "-Wall", "-Wextra", "-Wno-unused-parameter"]
if os.environ.get("THEUS_WERROR") == "1":
    CGO_CFLAGS.append("-Werror")

# -s -w strip the symbol table and DWARF; the version script exports only PyInit__core.
GO_LDFLAGS = ["-s", "-w", f"-extldflags=-Wl,--version-script={ROOT / 'capi' / 'exports.map'}"]


def find_go() -> tuple[str | None, str | None]:
    """The go command to build with ($GO, else `go` on PATH) or what is wrong."""
    go = os.environ.get("GO") or shutil.which("go")
    if go is None:
        return None, f"Go >= {GO_MIN_TEXT}, which is not on PATH (install it from https://go.dev/dl, then put `go` on PATH or set GO=/path/to/go)"
    return go, None


def go_version_problem(go: str, env: dict[str, str]) -> str | None:
    try:
        out = subprocess.run([go, "env", "GOVERSION"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Go >= {GO_MIN_TEXT}, but {go} cannot be run ({e}); install Go from https://go.dev/dl"
    found = re.match(r"go(\d+)\.(\d+)", out.stdout.strip())
    if out.returncode != 0 or found is None:
        return f"Go >= {GO_MIN_TEXT}, but the version of {go} cannot be read; install Go from https://go.dev/dl"
    if (int(found[1]), int(found[2])) < GO_MIN:
        return f"Go >= {GO_MIN_TEXT}, but {go} is {out.stdout.strip()} (install a newer Go from https://go.dev/dl, then put it on PATH or set GO=/path/to/go)"
    return None


def c_compiler_problem(go: str, env: dict[str, str]) -> str | None:
    cc = subprocess.run([go, "env", "CC"], cwd=ROOT, env=env, capture_output=True, text=True).stdout.split()
    if cc and shutil.which(cc[0]) is not None:
        return None
    return f"a C compiler for cgo, but `{cc[0] if cc else 'gcc'}` was not found (Debian/Ubuntu: apt-get install gcc; or set CC)"


def python_include() -> tuple[Path, str | None]:
    """This interpreter's header directory (THEUS_PYTHON_INCLUDE overrides it) and a problem, if any."""
    include = Path(os.environ.get("THEUS_PYTHON_INCLUDE") or sysconfig.get_paths()["include"])
    if (include / "Python.h").is_file():
        return include, None
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return include, (
        f"the Python {version} headers, but {include / 'Python.h'} does not exist "
        f"(Debian/Ubuntu: apt-get install python{version}-dev; Fedora: dnf install python3-devel)"
    )


def toolchain(env: dict[str, str]) -> tuple[str, Path]:
    """The go command and the include directory, or SystemExit with one line naming all that is missing."""
    go, go_problem = find_go()
    include, include_problem = python_include()
    if go is None:
        problems = [go_problem]
    else:
        version_problem = go_version_problem(go, env)
        problems = [version_problem] if version_problem else [c_compiler_problem(go, env)]
    problems = [p for p in [*problems, include_problem] if p]
    if problems:
        raise SystemExit("theus: building from source needs " + "; and ".join(problems) + " (a binary wheel needs none of these)")
    return go, include


class GoBuildExt(build_ext):
    """Builds each extension with `go build -buildmode=c-shared` against this interpreter's headers."""

    def build_extension(self, ext: Extension) -> None:
        env = dict(os.environ, CGO_ENABLED="1")
        go, include = toolchain(env)
        env["CGO_CFLAGS"] = " ".join([f"-I{include}", *CGO_CFLAGS])
        out = Path(self.get_ext_fullpath(ext.name)).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", f"-ldflags={' '.join(GO_LDFLAGS)}", "-o", str(out), "./capi"]
        self.announce(" ".join(cmd), level=2)
        if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
            raise SystemExit(
                "theus: `go build` of theus._core failed (its output is above); "
                "it fetches the Go modules listed in go.sum from the Go module proxy (see GOPROXY)"
            )
        header = out.with_suffix(".h")  # go writes a C header beside the library; not shipped
        if header.exists():
            header.unlink()


setup(
    ext_modules=[Extension("theus._core", sources=[])],
    cmdclass={"build_ext": GoBuildExt},
)

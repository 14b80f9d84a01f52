"""Build theus: the extension module theus._core is one Go c-shared library built by `go build`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def find_go() -> str:
    go = os.environ.get("GO") or shutil.which("go")
    if go is None and Path("/usr/local/go/bin/go").exists():
        go = "/usr/local/go/bin/go"
    if go is None:
        raise RuntimeError("theus needs the Go toolchain (>= 1.26) to build: put `go` on PATH or set GO")
    return go


class GoBuildExt(build_ext):
    """Builds each extension with `go build -buildmode=c-shared` against this interpreter's headers."""

    def build_extension(self, ext: Extension) -> None:
        out = Path(self.get_ext_fullpath(ext.name)).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        include = sysconfig.get_paths()["include"]
        env["CGO_ENABLED"] = "1"
        env["CGO_CFLAGS"] = f"-I{include} -O2 -g0 -Wall -Wextra -Wno-unused-parameter -Werror"
        ldflags = f"-s -w -extldflags=-Wl,--version-script={ROOT / 'capi' / 'exports.map'}"
        cmd = [find_go(), "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", f"-ldflags={ldflags}", "-o", str(out), "./capi"]
        self.announce(" ".join(cmd), level=2)
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        header = out.with_suffix(".h")  # go writes a C header beside the library; not shipped
        if header.exists():
            header.unlink()


setup(
    name="theus",
    version="0.1.0",
    description="A process-oriented state kernel for Python with a Go core",
    python_requires=">=3.10",
    package_dir={"": "python"},
    packages=["theus"],
    package_data={"theus": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("theus._core", sources=[])],
    cmdclass={"build_ext": GoBuildExt},
    zip_safe=False,
)

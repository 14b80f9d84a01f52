"""The built distributions: the sdist holds what a build needs, the manylinux wheel installs and
runs without Go, and `pip install .` and `pip install <sdist>` work in fresh plain venvs.

`make wheel-check` builds them with build isolation (THEUS_DIST_DIR): `python -m build` makes
the sdist and the wheel from that sdist; `auditwheel repair` tags the wheel manylinux.
"""

from __future__ import annotations

import io
import pathlib
import re
import shutil
import sys
import tarfile
import zipfile

import pytest
from elftools.elf.elffile import ELFFile

from packaging_helpers import ROOT, SMOKE, clean_env, copy_source, make_venv, ok, path_without_go, run

pytestmark = pytest.mark.dist

# Sources of the extension: every file `go build ./capi` may read.
BUILD_INPUTS = ("capi", "kernel", "flux", "pyproxy", "heavy")
SOURCE_SUFFIXES = (".go", ".c", ".h", ".map", ".s")


def repo_build_inputs() -> set[str]:
    found = {"go.mod", "go.sum", "setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"}
    for top in BUILD_INPUTS:
        for f in (ROOT / top).rglob("*"):
            if f.is_file() and f.suffix in SOURCE_SUFFIXES and "testdata" not in f.parts:
                found.add(f.relative_to(ROOT).as_posix())
    for f in (ROOT / "python" / "theus").iterdir():
        if f.suffix in (".py", ".pyi", ".typed"):
            found.add(f.relative_to(ROOT).as_posix())
    return found


def sdist_members(sdist: pathlib.Path) -> set[str]:
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    prefix = names[0].split("/")[0] + "/"
    return {n[len(prefix):] for n in names if n.startswith(prefix)}


def test_sdist_holds_every_build_input(sdist):
    wanted = repo_build_inputs()
    assert "capi/exports.map" in wanted and any(w.startswith("kernel/") for w in wanted)
    missing = wanted - sdist_members(sdist)
    assert not missing, f"the sdist lacks {sorted(missing)} (add them to MANIFEST.in)"


def test_sdist_holds_no_build_products(sdist):
    members = sdist_members(sdist)
    assert "PKG-INFO" in members
    assert not [m for m in members if m.endswith((".so", ".pyc", "_core.h")) or m.startswith((".venv/", "build/"))]


def wheel_names(whl: pathlib.Path) -> set[str]:
    with zipfile.ZipFile(whl) as z:
        return set(z.namelist())


def the_so(whl: pathlib.Path) -> bytes:
    with zipfile.ZipFile(whl) as z:
        (name,) = [n for n in z.namelist() if re.fullmatch(r"theus/_core\.cpython-[^/]+\.so", n)]
        return z.read(name)


def test_wheel_is_tagged_manylinux_as_auditwheel_reports(wheel):
    tag = re.fullmatch(r"theus-[^-]+-cp3\d+-cp3\d+-(manylinux_2_(\d+)_(x86_64|aarch64))\.whl", wheel.name)
    assert tag, f"{wheel.name} is not a manylinux wheel"
    assert int(tag[2]) >= 17
    shown = ok(run([pathlib.Path(sys.executable).parent / "auditwheel", "show", wheel]))
    consistent = re.search(r'consistent with\s+the following platform tag:\s+"([^"]+)"', shown)
    assert consistent, shown
    assert consistent[1] == tag[1], shown
    assert "external shared libraries" not in shown or "libpython" not in shown, shown


def test_wheel_contents(wheel):
    names = wheel_names(wheel)
    for wanted in ("theus/__init__.py", "theus/__main__.py", "theus/_version.py", "theus/_core.pyi", "theus/py.typed"):
        assert wanted in names
    dist_info = {n.split("/")[0] for n in names if ".dist-info/" in n}
    (info,) = dist_info
    assert f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if n.endswith((".go", ".c", ".h", ".pyc"))]
    assert not [n for n in names if n.startswith("theus.libs/")], "auditwheel grafted libraries into the wheel"
    with zipfile.ZipFile(wheel) as z:
        assert "theus = theus.__main__:main" in z.read(f"{info}/entry_points.txt").decode()


def test_extension_is_stripped_and_exports_only_its_init(wheel):
    elf = ELFFile(io.BytesIO(the_so(wheel)))
    sections = {s.name for s in elf.iter_sections()}
    assert ".dynsym" in sections
    assert ".symtab" not in sections and not [s for s in sections if s.startswith((".debug", ".zdebug"))]
    exported = {
        sym.name
        for sym in elf.get_section_by_name(".dynsym").iter_symbols()
        if sym["st_shndx"] != "SHN_UNDEF" and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and sym.name
    }
    assert exported == {"PyInit__core"}
    needed = {tag.needed for tag in elf.get_section_by_name(".dynamic").iter_tags() if tag.entry.d_tag == "DT_NEEDED"}
    assert not [n for n in needed if "python" in n], f"the extension links libpython: {needed}"


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> pathlib.Path:
    """A fresh venv with the repaired wheel installed from the file alone (no index, no Go)."""
    py = make_venv(tmp_path_factory.mktemp("wheel") / "venv")
    ok(run([py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], env=clean_env(PATH=path_without_go())))
    return py


def test_wheel_imports_and_commits_without_go(wheel_venv, tmp_path):
    env = clean_env(PATH=f"{wheel_venv.parent}:{path_without_go()}")
    out = ok(run([wheel_venv, "-c", SMOKE], env=env, cwd=tmp_path))
    version, where = out.split()
    assert pathlib.Path(where).is_relative_to(wheel_venv.parent.parent)
    assert version == ok(run([wheel_venv, "-c", "import theus; print(theus.__version__)"], env=env, cwd=tmp_path)).strip()


def test_wheel_console_script(wheel_venv, tmp_path):
    env = clean_env(PATH=f"{wheel_venv.parent}:{path_without_go()}")
    assert shutil.which("theus", path=env["PATH"]) == str(wheel_venv.parent / "theus")
    version = ok(run(["theus", "--version"], env=env, cwd=tmp_path))
    assert re.fullmatch(r"theus \d+\.\d+\.\d+\S*\n", version)
    assert ok(run(["theus", "--help"], env=env, cwd=tmp_path)).startswith("usage: theus ")


def install_and_smoke(target: str | pathlib.Path, cwd: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Installs `target` with plain `pip install` (build isolation, build requirements from PyPI,
    Go from PATH) into a fresh venv, then runs SMOKE there without Go."""
    go = shutil.which("go")
    assert go, "building from source needs go on PATH"
    py = make_venv(tmp_path / "venv")
    build_path = f"{py.parent}:{pathlib.Path(go).parent}:{path_without_go()}"
    ok(run([py, "-m", "pip", "install", "-q", target], env=clean_env(PATH=build_path), cwd=cwd))
    out = ok(run([py, "-c", SMOKE], env=clean_env(PATH=f"{py.parent}:{path_without_go()}"), cwd=tmp_path))
    assert pathlib.Path(out.split()[1]).is_relative_to(tmp_path / "venv")


def test_pip_install_dot_in_a_fresh_venv(tmp_path):
    install_and_smoke(".", copy_source(tmp_path / "theus"), tmp_path)


def test_pip_install_sdist_in_a_fresh_venv(sdist, tmp_path):
    install_and_smoke(sdist, tmp_path, tmp_path)

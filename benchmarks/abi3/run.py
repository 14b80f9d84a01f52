"""Prices the stable ABI for theus's read path: builds benchmarks/abi3/view.c twice (full API
and Py_LIMITED_API=0x030A0000) with gcc and prints the cost of each read beside its full-API
baseline. Run: `.venv/bin/python benchmarks/abi3/run.py` (needs gcc and the Python headers)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import sysconfig
import tempfile
import timeit

HERE = pathlib.Path(__file__).resolve().parent


def build(out: pathlib.Path, name: str, limited: bool) -> None:
    suffix = ".abi3.so" if limited else sysconfig.get_config_var("EXT_SUFFIX")
    flags = ["-DPy_LIMITED_API=0x030A0000"] if limited else []
    include = sysconfig.get_paths()["include"]
    cmd = ["gcc", "-shared", "-fPIC", "-O2", "-Wall", f"-I{include}", f"-DMODNAME={name}", *flags, "-o", str(out / f"{name}{suffix}"), str(HERE / "view.c")]
    subprocess.run(cmd, check=True)


def per_op(stmt: str, ns: dict, number: int) -> float:
    return min(timeit.repeat(stmt, globals=ns, number=number, repeat=7)) / number * 1e9


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp)
        build(out, "vfull", limited=False)
        build(out, "vabi3", limited=True)
        sys.path.insert(0, tmp)
        import vabi3
        import vfull

        data = {"k": 1, "sub": {"x": 1}, "lst": list(range(10))}
        items = tuple([{}, [], 1, "a"] * 250)
        rows = []
        for label, stmt in [
            ('v["k"]    scalar', 'v["k"]'),
            ("v.k       attribute (methods win over keys)", "v.k"),
            ('v["sub"]  nested view (alloc + dealloc)', 'v["sub"]'),
            ("lv[3]     list view item", "lv[3]"),
            ("v.get     method through getattro", "v.get"),
        ]:
            full, abi3 = (per_op(stmt, {"v": m.make(data), "lv": m.make(data["lst"])}, 1_000_000) for m in (vfull, vabi3))
            rows.append((label, full, abi3))
        for label, fn in [("tuple item accessor, per item", "tuple_walk"), ("PyDict_Check + PyList_Check, per item", "flags_walk")]:
            full, abi3 = (per_op("f(t)", {"f": getattr(m, fn), "t": items}, 100) / (1000 * len(items)) for m in (vfull, vabi3))
            rows.append((label, full, abi3))
    print(f"{'read':46s} {'full API ns':>12s} {'abi3 ns':>9s} {'ratio':>6s}")
    for label, full, abi3 in rows:
        print(f"{label:46s} {full:12.2f} {abi3:9.2f} {abi3 / full:6.2f}")


if __name__ == "__main__":
    main()

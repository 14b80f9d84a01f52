"""make bench-peers' table: a peer lacking an operation and a peer whose subprocess failed
both show in the table with the reason, without installing any peer."""

from __future__ import annotations

import pathlib
import sys

import pytest

PEERS_DIR = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "peers"
sys.path.insert(0, str(PEERS_DIR))

import run_peers  # noqa: E402
import table  # noqa: E402


def _result(**seconds):
    ops = {op: {"s": s, "how": f"timed {op}"} for op, s in seconds.items()}
    return {"version": "1.0", "python": "3.11.0", "ops": ops}


def _row(text: str, label: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_ratio_missing_operation_and_failed_peer():
    ours = _result(read=2e-6, update_10=3e-6)
    burr = _result(read=1e-6)
    burr["ops"]["update_10"] = {"na": "no such thing | here"}
    results = {"theus": ours, "burr": burr, "langgraph": {"error": "exit 1: ImportError: langgraph"}}
    text = table.build_table(results)
    labels = dict(table.OPS)
    names = [n for n, _ in table.PEERS]
    read = _row(text, labels["read"])
    assert read[1] == "2 µs"
    assert read[2 + names.index("burr")] == "1 µs → **2x**"
    upd = _row(text, labels["update_10"])
    # the peer's reason, with the cell separator it contained made harmless
    assert upd[2 + names.index("burr")] == "n/a: no such thing / here"
    assert upd[2 + names.index("langgraph")] == "failed: exit 1: ImportError: langgraph"
    # a peer never run, and an operation nobody measured
    assert read[2 + names.index("immutables")] == "failed: not run"
    assert _row(text, labels["step"])[1] == "n/a: not measured"
    assert len(read) == 2 + len(table.PEERS)
    described = table.describe(results)
    assert "`timed read`" in described and "LangGraph: failed: exit 1" in described


def test_no_ratio_without_our_figure():
    results = {"theus": {"error": "exit 2: boom"}, "pyrsistent": _result(read=5e-8)}
    read = _row(table.build_table(results), dict(table.OPS)["read"])
    assert read[1] == "failed: exit 2: boom"
    assert read[2 + [n for n, _ in table.PEERS].index("pyrsistent")] == "50 ns (no theus figure)"


@pytest.mark.parametrize("seconds, text", [(2.5e-9, "2.5 ns"), (1.234e-4, "123 µs"), (0.5, "500 ms"), (12.0, "12 s")])
def test_fmt_time(seconds, text):
    assert table.fmt_time(seconds) == text


@pytest.mark.parametrize("ratio, text", [(41.3, "41x"), (3.87, "3.9x"), (0.84, "0.84x"), (0.052, "1/19"),
                                         (1.2e-5, "1/83,000")])
def test_fmt_ratio(ratio, text):
    assert table.fmt_ratio(ratio) == text


def test_failed_subprocess_is_a_result(tmp_path):
    # a missing interpreter, a crashing one and one that writes no result
    assert run_peers.measure("burr", str(tmp_path / "nope"), tmp_path) == {
        "error": f"no interpreter at {tmp_path / 'nope'}"}
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\necho 'ModuleNotFoundError: burr' >&2\nexit 3\n")
    crash.chmod(0o755)
    assert run_peers.measure("burr", str(crash), tmp_path) == {"error": "exit 3: ModuleNotFoundError: burr"}
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    assert run_peers.measure("burr", str(silent), tmp_path)["error"].startswith("no result:")
    text = table.build_table({"theus": _result(read=1e-6), "burr": run_peers.measure("burr", str(crash), tmp_path)})
    assert "failed: exit 3: ModuleNotFoundError: burr" in _row(text, dict(table.OPS)["read"])

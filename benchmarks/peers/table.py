"""The peers table: theus's figure beside each peer's, as a ratio, from the per-peer results.

A result is what measure.py writes (`{"version", "python", "ops": {op: {"s", "how"} | {"na"}}}`)
or, for a peer whose subprocess failed, `{"error": why}`. Nothing here imports a peer.
"""

from __future__ import annotations

from typing import Any, Mapping

OURS = "theus"
# (operation key in measure.py, row label)
OPS: list[tuple[str, str]] = [
    ("read", "read a key, state fetched each time (10 keys)"),
    ("read_held", "read a key of a state already held (10 keys)"),
    ("update_10", "one-key update, 10 keys"),
    ("update_100k", "one-key update, 100k keys"),
    ("step", "one process / action / node step"),
    ("workflow_100", "100-step workflow or graph"),
    ("array_500mb", "500 MB numpy array through a step (write, read)"),
]
# (peer key in measure.py, column title)
PEERS: list[tuple[str, str]] = [
    ("theus-rs", "theus 3.0.25 (Rust)"),
    ("burr", "Burr"),
    ("langgraph", "LangGraph"),
    ("pyrsistent", "pyrsistent"),
    ("immutables", "immutables"),
]


def fmt_time(seconds: float) -> str:
    """A duration with three significant figures in ns, µs, ms or s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(ratio: float) -> str:
    """theus ÷ peer: whole numbers from 10x, two significant figures from 0.1x, and below that
    the fraction 1/N (N to two significant figures) that theus takes of the peer's time."""
    if ratio >= 10:
        return f"{ratio:,.0f}x"
    if ratio >= 0.1:
        return f"{ratio:.2g}x"
    return f"1/{float(f'{1 / ratio:.2g}'):,.0f}"


def _clean(text: str, limit: int = 70) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(result: Mapping[str, Any], op: str) -> tuple[float | None, str]:
    """(seconds or None, the cell's text) for one operation of one result."""
    if "error" in result:
        return None, f"failed: {_clean(result['error'])}"
    entry = result.get("ops", {}).get(op)
    if entry is None:
        return None, "n/a: not measured"
    if "na" in entry:
        return None, f"n/a: {_clean(entry['na'])}"
    seconds = entry.get("s")
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        return None, f"failed: bad figure {seconds!r}"
    return float(seconds), fmt_time(float(seconds))


def cell(ours: Mapping[str, Any], peer: Mapping[str, Any], op: str) -> str:
    """A peer's cell: its figure and theus's figure divided by it, or why there is none."""
    peer_s, text = _figure(peer, op)
    if peer_s is None:
        return text
    ours_s, _ = _figure(ours, op)
    if ours_s is None:
        return f"{text} (no theus figure)"
    return f"{text} → **{fmt_ratio(ours_s / peer_s)}**"


def _title(name: str, title: str, result: Mapping[str, Any]) -> str:
    """The column title, with the version measured unless the title names it already."""
    version = result.get("version")
    if "error" in result or not version or str(version) in title:
        return title
    return f"{title} {version}"


def build_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table: one row per operation, theus's median, then for each peer its median
    and the ratio theus ÷ peer (below 1: theus is faster). A peer missing from results, or
    whose subprocess failed, gets "failed: why" cells; an operation a peer lacks, "n/a: why"."""
    ours = results.get(OURS, {"error": "theus was not measured"})
    head = ["operation", "theus (this)"] + [
        _title(name, title, results.get(name, {})) for name, title in PEERS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op, label in OPS:
        row = [label, _figure(ours, op)[1]]
        for name, _ in PEERS:
            row.append(cell(ours, results.get(name, {"error": "not run"}), op))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def describe(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per framework: its version and interpreter, and what each figure timed."""
    out = []
    for name, title in [(OURS, "theus (this)")] + PEERS:
        result = results.get(name, {"error": "not run"})
        if "error" in result:
            out.append(f"- {title}: failed: {_clean(result['error'], 300)}")
            continue
        hows = []
        for op, _ in OPS:
            entry = result.get("ops", {}).get(op, {})
            if "how" in entry and entry["how"] not in hows:
                hows.append(entry["how"])
        out.append(f"- {_title(name, title, result)} (CPython {result.get('python', '?')}): "
                   + "; ".join(f"`{h}`" for h in hows))
    return "\n".join(out)

"""make bench-peers: measure theus and each peer in a subprocess of its own interpreter, one
after the other, collect their JSON results and print one table.

    python run_peers.py OUT_DIR NAME=PYTHON [NAME=PYTHON ...]

NAME is a key of measure.PEERS (theus, theus-rs, burr, langgraph, pyrsistent, immutables);
PYTHON the interpreter of the venv that framework is installed in. A peer whose interpreter is
missing, whose subprocess fails or times out, or whose output is not a result, gets "failed:
why" cells; the others are still printed. OUT_DIR receives NAME.json and results.json.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from table import build_table, describe  # noqa: E402

TIMEOUT_S = 300


def measure(name: str, python: str, out_dir: pathlib.Path, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run measure.py for one framework in its interpreter; its result, or {"error": why}."""
    if not python or not os.access(python, os.X_OK):
        return {"error": f"no interpreter at {python or '(none given)'}"}
    out = out_dir / f"{name}.json"
    out.unlink(missing_ok=True)
    try:
        proc = subprocess.run([python, str(HERE / "measure.py"), name, str(out)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        return {"error": f"no result: {exc}"}
    if not isinstance(result, dict) or not isinstance(result.get("ops"), dict):
        return {"error": "no result: output is not a measure.py result"}
    return result


def main(argv: list[str]) -> int:
    if len(argv) < 3 or any("=" not in a for a in argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = pathlib.Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for pair in argv[2:]:
        name, python = pair.split("=", 1)
        t0 = time.perf_counter()
        results[name] = measure(name, python, out_dir)
        status = "failed: " + results[name]["error"] if "error" in results[name] else "done"
        print(f"  {name}: {status} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    print(f"\n== theus beside its peers, medians, {today}, {platform.machine()}, "
          f"{os.cpu_count()} cores; each cell: the peer's figure → theus ÷ peer (below 1: theus is faster)\n")
    print(build_table(results))
    print("\nWhat each figure timed:")
    print(describe(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

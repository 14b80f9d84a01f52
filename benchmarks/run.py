"""Run every Python benchmark (make bench). Each prints theus beside its baseline."""

from __future__ import annotations

import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

for script in sorted(HERE.glob("bench_*.py")):
    print(f"\n### {script.name}")
    runpy.run_path(str(script), run_name="__main__")

"""`make demo` (python -m theus.demo) runs the embedded default workflow and reports it."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_the_default_workflow():
    proc = subprocess.run([sys.executable, "-m", "theus.demo"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "workflow 'order_flow' ran: add_order, add_order, add_order, apply_discount, notify" in out
    assert "total=125" in out
    assert "delivered after commit: total {'total': 125}" in out
    assert "counter=1000" in out
    assert "a stale write is rejected" in out

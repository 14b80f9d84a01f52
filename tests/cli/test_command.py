"""The `theus` command, run as a user runs it: a subprocess, its exit status and output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROCS = '''
from theus import process

@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx, step=1):
    return ctx.domain.counter + step

@process(outputs=["domain.x"])
def explode(ctx):
    raise ValueError("exploded on purpose")

PIPELINE = [increment]
'''

FLOW = """name: count
args: {step: 1}
steps:
  - flux: while
    condition: domain.counter < 3
    do:
      - process: increment
        with: {step: "${args.step}"}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "procs.py").write_text(PROCS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    (tmp_path / "ctx.json").write_text(json.dumps({"domain": {"counter": 0}}))
    (tmp_path / "ctx.yaml").write_text("domain:\n  counter: 1\n")
    return tmp_path


def theus(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "theus", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_run_prints_what_it_did(files):
    out = theus("run", "flow.yaml", "--processes", "procs.py", "--context", "ctx.json", "--state", cwd=files)
    assert out.returncode == 0, out.stderr
    assert "completed: 3 steps (increment, increment, increment), versions 0→3" in out.stdout
    assert json.loads(out.stdout[out.stdout.index("{"):])["domain"]["counter"] == 3


def test_run_takes_args_yaml_context_and_a_module_attribute(files):
    out = theus("run", "flow.yaml", "-p", "procs:PIPELINE", "-c", "ctx.yaml", "--args", "step=2", cwd=files)
    assert out.returncode == 0, out.stderr
    assert "completed: 1 step (increment)" in out.stdout


def test_a_failing_workflow_exits_1_with_the_error(files):
    (files / "bad.yaml").write_text("steps: [increment, explode]\n")
    out = theus("run", "bad.yaml", "-p", "procs.py", "-c", "ctx.json", cwd=files)
    assert out.returncode == 1
    assert "the workflow failed after 2 steps: ValueError: exploded on purpose" in out.stderr
    assert "raised by Flux step `explode`" in out.stderr


def test_check_validates_without_running(files):
    out = theus("check", "flow.yaml", "-p", "procs.py", cwd=files)
    assert out.returncode == 0 and out.stdout.startswith("ok: flow.yaml")
    (files / "typo.yaml").write_text("steps:\n  - incremnt\n")
    out = theus("check", "typo.yaml", "-p", "procs.py", cwd=files)
    assert out.returncode == 2
    assert "typo.yaml:2:5:" in out.stderr and 'did you mean "increment"' in out.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "missing.yaml", "-p", "procs.py"], "no such file"),
    (["run", "flow.yaml", "-p", "nosuchmodule"], "cannot import module 'nosuchmodule'"),
    (["run", "flow.yaml", "-p", "procs:nothing"], "has no attribute 'nothing'"),
    (["run", "flow.yaml", "-p", "procs.py", "--args", "notapair"], "NAME=VALUE"),
    (["run", "flow.yaml", "-p", "procs.py", "--args", "nope=1"], "declares no run argument 'nope'"),
    (["run", "flow.yaml", "-p", "procs.py", "-c", "procs.py"], "neither .json nor .yaml"),
    (["graph", "flow.yaml", "-o", "flow.png"], "write .svg, .dot or .mmd"),
])
def test_usage_errors_exit_2(files, args, message):
    out = theus(*args, cwd=files)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr


def test_bad_json_context_names_line_and_column(files):
    (files / "bad.json").write_text('{"domain": {"counter": }}')
    out = theus("run", "flow.yaml", "-p", "procs.py", "-c", "bad.json", cwd=files)
    assert out.returncode == 2 and "bad.json:1:24: not valid JSON" in out.stderr


def test_argparse_usage_errors_exit_2(files):
    out = theus("run", cwd=files)
    assert out.returncode == 2 and "usage:" in out.stderr


def test_graph_writes_mermaid_dot_and_svg(files):
    out = theus("graph", "flow.yaml", cwd=files)
    assert out.returncode == 0 and out.stdout.startswith("flowchart TD")
    for name in ("flow.dot", "flow.mmd"):
        assert theus("graph", "flow.yaml", "-o", name, cwd=files).returncode == 0
    assert (files / "flow.dot").read_text().startswith('digraph "count"')
    if shutil.which("dot"):
        assert theus("graph", "flow.yaml", "-o", "flow.svg", cwd=files).returncode == 0
        assert "<svg" in (files / "flow.svg").read_text()


def test_version_and_help(files):
    from theus import __version__
    out = theus("--version", cwd=files)
    assert out.returncode == 0 and out.stdout.strip() == f"theus {__version__}"
    out = theus("--help", cwd=files)
    assert out.returncode == 0 and "run" in out.stdout and "graph" in out.stdout and "Exit status" in out.stdout


def test_the_console_script_is_the_same_command(files):
    script = Path(sys.executable).parent / "theus"
    assert script.exists()
    out = subprocess.run([str(script), "check", "flow.yaml", "-p", "procs.py"], cwd=files, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("ok:")

"""theus/_core.pyi matches the built extension: mypy.stubtest compares them (skipped only when
mypy is not installed), and the native functions carry text signatures."""

from __future__ import annotations

import inspect
import pathlib
import subprocess
import sys

import pytest

from theus import _core

ALLOWLIST = pathlib.Path(__file__).with_name("stubtest_allowlist.txt")


def test_stub_matches_the_extension(tmp_path):
    pytest.importorskip("mypy.stubtest", reason="mypy is not installed (it is a dev requirement)")
    help_text = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--help"], capture_output=True,
                               text=True, timeout=120).stdout
    flags = ["--ignore-disjoint-bases"] if "--ignore-disjoint-bases" in help_text else []
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "theus._core", "--concise", "--allowlist", str(ALLOWLIST),
         *flags],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # never the source tree
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", [
    "state_new", "state_version", "state_get", "state_begin", "state_commit", "state_snapshot",
    "state_at", "state_history", "state_diff", "state_stats", "snapshot_get", "plan_new",
    "runtime_stats", "flux_parse", "flux_check", "flux_run", "flux_trace", "flux_fan_item", "flux_outline", "yaml_load",
])
def test_native_functions_have_text_signatures(name):
    fn = getattr(_core, name)
    assert fn.__text_signature__ is not None
    sig = inspect.signature(fn)
    assert all(p.kind is inspect.Parameter.POSITIONAL_ONLY for p in sig.parameters.values())
    assert (len(sig.parameters) == 0) == (name == "runtime_stats")
    assert fn.__doc__.strip()  # a description follows the signature


def test_handle_methods_have_text_signatures():
    s = _core.state_new({}, False, 0, 0)
    assert list(inspect.signature(s.close).parameters) == []
    assert list(inspect.signature(s.__deepcopy__).parameters) == ["memo"]
    s.close()


def test_state_commit_signature_names_its_arguments():
    params = list(inspect.signature(_core.state_commit).parameters)
    assert params == ["state", "expected_version", "updates", "reads", "author", "strict", "appends"]

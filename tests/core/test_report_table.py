"""The report table printed at the end of every run (tests/conftest.py): per adversarial
category, and one row for the other tests, how many cases passed, failed and were skipped."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import textwrap

CONFTEST = pathlib.Path(__file__).resolve().parent.parent / "conftest.py"


def _write(path: pathlib.Path, code: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))


def test_the_table_counts_each_category_and_prints_under_q(tmp_path):
    root = tmp_path / "tests"
    root.mkdir()
    shutil.copy(CONFTEST, root / "conftest.py")
    _write(root / "adversarial" / "handles" / "test_h.py", """
        import pytest

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_ok(n):
            assert n

        def test_fails():
            assert False

        def test_skipped():
            pytest.skip("not here")
    """)
    _write(root / "adversarial" / "errors" / "test_e.py", """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("setup fails")

        def test_setup_error(broken):
            pass

        def test_ok():
            pass
    """)
    _write(root / "engine" / "test_other.py", """
        def test_a():
            pass

        def test_b():
            pass
    """)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the planted failures
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "adversarial cases per category" in line)
    rows = {line.split()[0] if not line.startswith("other") else "other":
            line.split()[-3:] for line in lines[start + 2:start + 20] if line.split()}
    rows = {k: v for k, v in rows.items() if not k.startswith("=")}
    assert rows["handles"] == ["3", "1", "1"]
    assert rows["errors"] == ["1", "1", "0"]
    assert rows["crashes"] == ["0", "0", "0"]
    assert rows["other"] == ["2", "0", "0"]
    assert rows["total"] == ["6", "2", "1"]
    assert lines[start + 1].split() == ["category", "passed", "failed", "skipped"]

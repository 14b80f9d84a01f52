"""Shared pytest set-up: the tests run against the installed theus, never the source tree."""

from __future__ import annotations

import pathlib

import theus

_SRC = pathlib.Path(__file__).resolve().parent.parent / "python"


def pytest_report_header(config):
    where = pathlib.Path(theus.__file__).resolve()
    assert _SRC not in where.parents, f"tests must import the installed theus, not {where}"
    return f"theus {theus.__version__} from {where.parent}"


# --- the report table --------------------------------------------------------------------------

# The adversarial categories: the directory names under tests/adversarial/, in report order.
CATEGORIES = ("crashes", "escapes", "fidelity", "handles", "kernel", "contracts", "flux", "errors", "heavy",
              "outbox", "schema")
_OTHER = "other tests"
# When a test has several reports (setup, call, teardown), the worst outcome counts.
_RANK = {"passed": 0, "skipped": 1, "failed": 2}


def _category(report) -> str:
    parts = pathlib.PurePath(str(report.fspath)).parts
    for i, part in enumerate(parts[:-1]):
        if part == "adversarial" and i + 1 < len(parts) - 1:
            return parts[i + 1]
    return _OTHER


def _outcome(key: str, report) -> str | None:
    if key in ("failed", "error"):
        return "failed"
    if key in ("skipped", "xfailed"):
        return "skipped"
    if key in ("passed", "xpassed"):
        # a passing setup or teardown is not a passed test; its call report decides
        return "passed" if getattr(report, "when", "call") == "call" else None
    return None


def adversarial_table(stats: dict) -> list[str]:
    """The lines of the report table: per adversarial category (and one row for the other
    tests) how many cases passed, failed and were skipped."""
    worst: dict[str, tuple[str, str]] = {}
    for key, reports in stats.items():
        for report in reports:
            nodeid = getattr(report, "nodeid", None)
            if not nodeid or not hasattr(report, "fspath"):
                continue
            outcome = _outcome(key, report)
            if outcome is None:
                continue
            old = worst.get(nodeid)
            if old is None or _RANK[outcome] > _RANK[old[1]]:
                worst[nodeid] = (_category(report), outcome)
    rows = {c: {"passed": 0, "failed": 0, "skipped": 0} for c in (*CATEGORIES, _OTHER)}
    for category, outcome in worst.values():
        rows.setdefault(category, {"passed": 0, "failed": 0, "skipped": 0})[outcome] += 1
    width = max(len(c) for c in rows)
    lines = [f"{'category':<{width}}  {'passed':>7}  {'failed':>7}  {'skipped':>7}"]
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for category, counts in rows.items():
        lines.append(f"{category:<{width}}  {counts['passed']:>7}  {counts['failed']:>7}  {counts['skipped']:>7}")
        for k in total:
            total[k] += counts[k]
    lines.append(f"{'total':<{width}}  {total['passed']:>7}  {total['failed']:>7}  {total['skipped']:>7}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the adversarial report table at the end of every run (also with -q); the
    packaging run (``-m dist``) has no adversarial cases and prints none."""
    if config.getoption("markexpr", "") == "dist":
        return
    lines = adversarial_table(terminalreporter.stats)
    terminalreporter.write_sep("=", "adversarial cases per category")
    for line in lines:
        terminalreporter.write_line(line)

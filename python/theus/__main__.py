"""The `theus` command (also `python -m theus`): run, check and draw Flux workflows.

    theus run FLOW.yaml --processes MODULE[:ATTR] [--context FILE] [--args k=v ...] [--progress]
    theus check FLOW.yaml --processes MODULE[:ATTR]
    theus graph FLOW.yaml [-o flow.svg|flow.dot|flow.mmd]
    theus --version

Exit status: 0 when the workflow completed (or parked at a wait), 1 when it failed, 2 for a
usage, loading or validation error (messages name the file, line and column).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or its files (exit status 2)."""


def parser() -> argparse.ArgumentParser:
    """The argument parser of the `theus` command."""
    p = argparse.ArgumentParser(
        prog="theus",
        description="theus: a process-oriented state kernel for Python, with its core in Go. "
        "Run, check and draw Flux workflows.",
        epilog="Exit status: 0 completed (or waiting), 1 the workflow failed, 2 usage or validation error. "
        "From Python: `from theus import TheusEngine, process`.",
    )
    p.add_argument("--version", action="version", version=f"theus {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def processes(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument("--processes", "-p", action="append", default=[], required=required, metavar="MODULE[:ATTR]",
                        help="a module name or .py file whose @process functions are registered; with :ATTR only "
                        "that attribute (a process, a list of them, or a function returning them); repeatable")

    run = sub.add_parser("run", help="run a workflow and print what it did")
    run.add_argument("flow", help="the workflow file (YAML)")
    processes(run, True)
    run.add_argument("--context", "-c", metavar="FILE", help="the initial state, a .json or .yaml file (default: empty zones)")
    run.add_argument("--args", "-a", nargs="*", default=[], metavar="K=V",
                     help="run arguments; each value is read as JSON when it parses (3, true, \"x\", [1]), else as text")
    run.add_argument("--progress", action="store_true", help="show a progress bar of the steps")
    run.add_argument("--state", action="store_true", help="print the final state as JSON")
    run.add_argument("--budget", type=int, default=0, help="the run's operation budget (0: the default)")

    check = sub.add_parser("check", help="load and validate a workflow against its processes (nothing runs)")
    check.add_argument("flow", help="the workflow file (YAML)")
    processes(check, True)
    check.add_argument("--context", "-c", metavar="FILE", help="the initial state, for checking the zones conditions read")

    graph = sub.add_parser("graph", help="draw a workflow (Mermaid to stdout, or a .svg/.dot/.mmd file)")
    graph.add_argument("flow", help="the workflow file (YAML)")
    graph.add_argument("-o", "--output", metavar="FILE", help="where to write: .svg (needs Graphviz), .dot, .mmd")
    return p


def _load_module(spec: str) -> Any:
    """A module from a dotted name or a path to a .py file."""
    if spec.endswith(".py") or os.sep in spec:
        if not os.path.isfile(spec):
            raise UsageError(f"--processes: no such file {spec!r}")
        from .engine import import_file

        sys.path.insert(0, os.path.dirname(os.path.abspath(spec)))  # its sibling modules import
        return import_file(spec, "--processes")
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as e:
        raise UsageError(f"--processes: cannot import module {spec!r} ({e})") from None


def register(engine: Any, specs: Sequence[str]) -> list[str]:
    """Register the processes each MODULE[:ATTR] names; returns their names."""
    from .contracts import spec_of

    names: list[str] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":") if not (len(spec) > 1 and spec[1] == ":") else (spec, "", "")
        module = _load_module(module_name)
        if not attr:
            found = engine.register_module(module)
            if not found:
                raise UsageError(f"--processes: {module_name!r} defines no @process functions")
            names += found
            continue
        try:
            target = getattr(module, attr)
        except AttributeError:
            raise UsageError(f"--processes: {module_name!r} has no attribute {attr!r}") from None
        if callable(target) and spec_of(target) is None:
            target = target()
        for fn in target if isinstance(target, (list, tuple)) else [target]:
            engine.register(fn)
            names.append(spec_of(fn).name)
    return names


def load_context(path: str | None) -> Any:
    """The initial state from a .json or .yaml file (None: empty domain and global zones)."""
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--context: no such file {path!r}")
    text = file.read_text(encoding="utf-8")
    if file.suffix in (".yaml", ".yml"):
        from . import _core

        data = _core.yaml_load(text, path)
    elif file.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    else:
        raise UsageError(f"--context: {path!r} is neither .json nor .yaml")
    if not isinstance(data, dict):
        raise UsageError(f"--context: {path!r} must hold a mapping of zones (such as {{\"domain\": {{...}}}}), got {type(data).__name__}")
    return data


def parse_args(pairs: Sequence[str]) -> dict[str, Any]:
    """Run arguments from K=V words (V as JSON when it parses, else text)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--args: expected NAME=VALUE with NAME an identifier, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _engine(context_file: str | None, specs: Sequence[str]) -> Any:
    from .engine import TheusEngine

    engine = TheusEngine(load_context(context_file))
    register(engine, specs)
    return engine


def cmd_run(ns: argparse.Namespace) -> int:
    from .errors import TheusError

    engine = _engine(ns.context, ns.processes)
    wf = engine.load_workflow(Path(ns.flow))
    args = parse_args(ns.args)
    try:
        run = engine.execute_workflow(wf, args, budget=ns.budget, progress=ns.progress)
    except TheusError as e:
        if getattr(e, "run", None) is None:
            raise  # refused before it ran: a usage error
        return _failed(e)
    except Exception as e:  # a process raised: the workflow failed
        return _failed(e)
    steps = len(run.steps)
    if run.status == "waiting":
        print(f"waiting for {run.waiting_for!r} after {steps} step{'s' if steps != 1 else ''} "
              f"(versions {run.start_version}→{run.end_version}); a program resumes it with engine.resume")
    else:
        print(f"completed: {steps} step{'s' if steps != 1 else ''} ({', '.join(run.steps) or 'none'}), "
              f"versions {run.start_version}→{run.end_version}")
    if ns.state:
        print(json.dumps(engine.state.to_dict(), indent=2, default=repr))
    return EXIT_OK


def _failed(e: BaseException) -> int:
    run = getattr(e, "run", None)
    where = f" after {len(run.steps)} steps" if run is not None else ""
    print(f"theus: the workflow failed{where}: {type(e).__name__}: {e}", file=sys.stderr)
    for note in getattr(e, "__notes__", ()):
        print(note, file=sys.stderr)
    return EXIT_FAILED


def cmd_check(ns: argparse.Namespace) -> int:
    engine = _engine(ns.context, ns.processes)
    wf = engine.load_workflow(Path(ns.flow))
    print(f"ok: {ns.flow}: {len(wf.outline())} top-level steps, processes {', '.join(wf.process_names) or 'none'}")
    return EXIT_OK


def cmd_graph(ns: argparse.Namespace) -> int:
    from .workflow import Workflow

    wf = Workflow(Path(ns.flow))
    if ns.output is None:
        sys.stdout.write(wf.to_mermaid())
        return EXIT_OK
    out = Path(ns.output)
    render = {".svg": wf.to_svg, ".dot": wf.to_dot, ".gv": wf.to_dot, ".mmd": wf.to_mermaid, ".mermaid": wf.to_mermaid}.get(out.suffix)
    if render is None:
        raise UsageError(f"-o: {ns.output!r}: write .svg, .dot or .mmd")
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `theus` command with `argv` (default: sys.argv[1:]) and returns its exit status."""
    from .errors import TheusError

    p = parser()
    try:
        ns = p.parse_args(argv)
    except SystemExit as e:  # argparse: --help, --version (0) or a usage error (2)
        return int(e.code or 0)
    if ns.command is None:
        p.print_usage(sys.stdout)
        return EXIT_OK
    try:
        return {"run": cmd_run, "check": cmd_check, "graph": cmd_graph}[ns.command](ns)
    except UsageError as e:
        print(f"theus: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TheusError as e:  # the workflow or its processes could not be loaded or checked
        print(f"theus: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # importing the processes raised
        print("theus: loading the processes failed:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

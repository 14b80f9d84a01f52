"""What theus objects look like: workflow pictures (Mermaid, DOT, SVG) and the HTML that
Jupyter shows for snapshots, views, runs, history and diffs.

Flux is static (no step is added at run time), so a workflow's picture is exact: every step
the stepper can reach is drawn, and the steps a run executed can be marked on it.
"""

from __future__ import annotations

import html as _html
import itertools
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, Sequence

from .errors import TheusError

if TYPE_CHECKING:
    from .workflow import RunResult, Workflow

__all__ = ["Step", "outline", "to_mermaid", "to_dot", "to_svg", "html", "pretty"]

MAX_CHILDREN = 50
"""How many entries of one dict or list the HTML tree shows (the rest are counted)."""
MAX_DEPTH = 6
"""How deep the HTML tree opens values."""
MAX_TEXT = 80
"""How many characters of a leaf's repr the HTML shows."""
MAX_ROWS = 200
"""How many rows a run, history or diff table shows."""


class Step(NamedTuple):
    """One step of a workflow's outline: ``kind`` (process, if, while, run, try, map, wait),
    ``label`` (the process name, condition, ``over:`` expression or awaited name), its
    position, ``blocks`` (``(name, steps)`` pairs such as ``("then", ...)``) and ``extra``
    (the step's other settings)."""

    kind: str
    label: str
    line: int
    col: int
    blocks: tuple[tuple[str, tuple["Step", ...]], ...]
    extra: dict[str, Any]


def outline(raw: Iterable[Any]) -> tuple[Step, ...]:
    """Steps from the core's nested tuples."""
    return tuple(Step(k, label, line, col, tuple((name, outline(body)) for name, body in blocks), dict(extra))
                 for k, label, line, col, blocks, extra in raw)


# --- the graph: one shape, drawn as Mermaid or DOT --------------------------------------


class _Node(NamedTuple):
    id: str
    kind: str  # start, end, process, if, while, try, map, join, wait
    label: str
    pos: tuple[int, int] | None


class _Edge(NamedTuple):
    src: str
    dst: str
    label: str
    style: str  # "", "loop", "except"


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.edges: list[_Edge] = []
        self._ids = itertools.count(1)

    def node(self, kind: str, label: str, pos: tuple[int, int] | None = None) -> str:
        node = _Node(f"n{next(self._ids)}", kind, label, pos)
        self.nodes.append(node)
        return node.id

    def connect(self, exits: list[tuple[str, str]], dst: str, style: str = "") -> None:
        for src, label in exits:
            self.edges.append(_Edge(src, dst, label, style))

    def block(self, steps: Sequence[Step], entry: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Draw steps after the exits in entry; returns the block's exits (node, edge label)."""
        exits = entry
        for s in steps:
            exits = self.step(s, exits)
        return exits

    def step(self, s: Step, entry: list[tuple[str, str]]) -> list[tuple[str, str]]:
        pos = (s.line, s.col)
        blocks = dict(s.blocks)
        if s.kind == "process":
            label = s.label + (" ↻" if s.extra.get("retry") else "")
            n = self.node("process", label, pos)
            self.connect(entry, n)
            return [(n, "")]
        if s.kind == "wait":
            n = self.node("wait", f"wait for {s.label}", pos)
            self.connect(entry, n)
            return [(n, "")]
        if s.kind == "if":
            n = self.node("if", s.label, pos)
            self.connect(entry, n)
            then = self.block(blocks["then"], [(n, "then")])
            other = self.block(blocks["else"], [(n, "else")])
            return then + other
        if s.kind == "while":
            n = self.node("while", s.label, pos)
            self.connect(entry, n)
            body = self.block(blocks["do"], [(n, "do")])
            for src, label in body:
                self.edges.append(_Edge(src, n, label, "loop"))
            return [(n, "done")]
        if s.kind == "run":
            return self.block(blocks["steps"], entry)
        if s.kind == "try":
            errors = s.extra.get("errors") or ()
            n = self.node("try", "try", pos)
            self.connect(entry, n)
            done = self.block(blocks["do"], [(n, "")])
            caught = "except " + ", ".join(errors) if errors else "except"
            handled = self.block(blocks["except"], [(n, caught)])
            for e in self.edges:
                if e.src == n and e.label == caught:
                    self.edges[self.edges.index(e)] = e._replace(style="except")
            return done + handled
        if s.kind == "map":
            times = s.extra.get("concurrency", 1)
            label = f"map {s.label} as {s.extra.get('as', '')}" + (f" ×{times}" if times > 1 else "")
            n = self.node("map", label, pos)
            self.connect(entry, n)
            body = self.block(blocks["do"], [(n, "each")])
            j = self.node("join", "all items")
            self.connect(body, j)
            return [(j, "")]
        raise TheusError(f"theus.display: unknown step kind {s.kind!r}")


def _graph(steps: Sequence[Step]) -> _Graph:
    g = _Graph()
    start = g.node("start", "start")
    exits = g.block(steps, [(start, "")])
    end = g.node("end", "end")
    g.connect(exits, end)
    return g


def _marks(run: "RunResult | None") -> dict[tuple[int, int], str]:
    """Step positions a run reached -> "ok", "error" or "waiting" (the worst outcome wins)."""
    if run is None:
        return {}
    rank = {"ok": 0, "waiting": 1, "error": 2}
    marks: dict[tuple[int, int], str] = {}
    for e in run.trace:
        if e.kind in ("process", "if", "while", "map"):
            mark = "error" if e.outcome == "error" else "ok"
        elif e.kind == "wait":
            mark = "waiting" if e.outcome == "waiting" else "ok"
        else:
            continue
        pos = (e.line, e.col)
        if e.kind == "wait" or rank[mark] >= rank.get(marks.get(pos, "ok"), 0):
            marks[pos] = mark  # a wait shows its last state: waiting, or resumed (ok)
    return marks


_MERMAID_SHAPES = {
    "start": ('(["', '"])'), "end": ('(["', '"])'), "process": ('["', '"]'), "if": ('{"', '"}'),
    "while": ('{"', '"}'), "try": ('[["', '"]]'), "map": ('[/"', '"/]'), "join": ('[\\"', '"\\]'),
    "wait": ('{{"', '"}}'),
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")


def to_mermaid(wf: "Workflow", run: "RunResult | None" = None) -> str:
    """The workflow as a Mermaid flowchart; with ``run``, the steps it executed are marked
    (green: done, red: failed, amber: waiting)."""
    g = _graph(wf.outline())
    marks = _marks(run)
    lines = ["flowchart TD"]
    for n in g.nodes:
        left, right = _MERMAID_SHAPES[n.kind]
        lines.append(f"    {n.id}{left}{_mermaid_text(n.label)}{right}")
    for e in g.edges:
        arrow = "-.->" if e.style in ("loop", "except") else "-->"
        label = f"|{_mermaid_text(e.label)}|" if e.label else ""
        lines.append(f"    {e.src} {arrow}{label} {e.dst}")
    lines += ["    classDef ok fill:#d4f7d4,stroke:#2e7d32", "    classDef error fill:#ffd6d6,stroke:#c62828",
              "    classDef waiting fill:#fff1c2,stroke:#b8860b"]
    for mark in ("ok", "error", "waiting"):
        ids = [n.id for n in g.nodes if n.pos is not None and marks.get(n.pos) == mark]
        if ids:
            lines.append(f"    class {','.join(ids)} {mark}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {
    "start": "oval", "end": "oval", "process": "box", "if": "diamond", "while": "diamond",
    "try": "component", "map": "parallelogram", "join": "invtrapezium", "wait": "hexagon",
}
_DOT_FILL = {"ok": "#d4f7d4", "error": "#ffd6d6", "waiting": "#fff1c2"}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def to_dot(wf: "Workflow", run: "RunResult | None" = None) -> str:
    """The workflow as a Graphviz DOT digraph; with ``run``, the steps it executed are
    filled (green: done, red: failed, amber: waiting)."""
    g = _graph(wf.outline())
    marks = _marks(run)
    title = _dot_text(wf.name or wf.file)
    lines = [f'digraph "{title}" {{', '    rankdir=TB;', '    node [fontname="Helvetica", fontsize=11];',
             '    edge [fontname="Helvetica", fontsize=10];']
    for n in g.nodes:
        attrs = [f'label="{_dot_text(n.label)}"', f"shape={_DOT_SHAPES[n.kind]}"]
        mark = marks.get(n.pos) if n.pos is not None else None
        if mark:
            attrs += ["style=filled", f'fillcolor="{_DOT_FILL[mark]}"']
        if n.pos is not None:
            attrs.append(f'tooltip="line {n.pos[0]}"')
        lines.append(f"    {n.id} [{', '.join(attrs)}];")
    for e in g.edges:
        attrs = [f'label="{_dot_text(e.label)}"'] if e.label else []
        if e.style:
            attrs.append("style=dashed")
        if e.style == "loop":
            attrs.append("constraint=false")
        lines.append(f"    {e.src} -> {e.dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(wf: "Workflow", run: "RunResult | None" = None) -> str:
    """The workflow's picture as SVG text, drawn by Graphviz: needs the ``graphviz`` Python
    package (``pip install graphviz``) and Graphviz's ``dot`` program (Debian/Ubuntu:
    ``apt-get install graphviz``; macOS: ``brew install graphviz``)."""
    try:
        import graphviz  # type: ignore[import-untyped]
    except ImportError:
        raise TheusError(
            "Workflow.to_svg needs the graphviz Python package: pip install graphviz (and Graphviz's "
            "dot program: apt-get install graphviz); to_mermaid() and to_dot() need neither"
        ) from None
    try:
        return graphviz.Source(to_dot(wf, run)).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise TheusError(
            "Workflow.to_svg needs Graphviz's dot program on PATH (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz); to_mermaid() and to_dot() need neither"
        ) from None


# --- HTML for Jupyter ------------------------------------------------------------------

_STYLE = ("<style>.theus{font-family:ui-monospace,Menlo,monospace;font-size:12px}"
          ".theus details{margin-left:1em}.theus summary{cursor:pointer}"
          ".theus table{border-collapse:collapse}.theus td,.theus th{padding:2px 8px;border-bottom:1px solid #ddd;"
          "text-align:left}.theus .ok{color:#2e7d32}.theus .error{color:#c62828;font-weight:bold}"
          ".theus .waiting{color:#b8860b;font-weight:bold}.theus .muted{color:#777}</style>")


def _esc(value: Any) -> str:
    return _html.escape(str(value), quote=True)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _is_heavy(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _leaf(value: Any) -> str:
    if _is_heavy(value):
        nbytes = getattr(value, "nbytes", None)
        size = f", {nbytes:,} bytes" if isinstance(nbytes, int) else ""
        return f"<span class='muted'>{_esc(type(value).__name__)} shape={_esc(tuple(value.shape))} dtype={_esc(value.dtype)}{size}</span>"
    if isinstance(value, memoryview):
        return f"<span class='muted'>memoryview {value.nbytes:,} bytes</span>"
    return _esc(_short(value))


def _tree(value: Any, depth: int) -> str:
    is_map = hasattr(value, "keys") and hasattr(value, "items") and not _is_heavy(value)
    is_seq = not is_map and isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray, memoryview)) \
        and not _is_heavy(value)
    if not (is_map or is_seq):
        return _leaf(value)
    n = len(value)
    kind = "dict" if is_map else "list"
    head = f"{kind} · {n} item{'s' if n != 1 else ''}"
    if depth >= MAX_DEPTH or n == 0:
        return f"<span class='muted'>{head}</span>"
    rows = []
    pairs = value.items() if is_map else enumerate(value)
    for i, (k, v) in enumerate(pairs):
        if i >= MAX_CHILDREN:
            rows.append(f"<div class='muted'>… {n - MAX_CHILDREN} more</div>")
            break
        key = _esc(k if is_map else f"[{k}]")
        inner = _tree(v, depth + 1)
        if inner.startswith("<details"):
            rows.append(inner.replace("<summary>", f"<summary><b>{key}</b>: ", 1))
        else:
            rows.append(f"<div><b>{key}</b>: {inner}</div>")
    opened = " open" if depth == 0 else ""
    return f"<details{opened}><summary>{head}</summary>{''.join(rows)}</details>"


def html(value: Any) -> str:
    """The HTML Jupyter shows for a snapshot or a read-only view: a collapsible tree, at most
    MAX_CHILDREN entries per level and MAX_DEPTH levels; arrays and other heavy values as
    their type, shape, dtype and size."""
    from .state import Snapshot

    if isinstance(value, Snapshot):
        title = f"theus.Snapshot version {value.version}"
        zones = {z: value[z] for z in value.zones()}
        return f"{_STYLE}<div class='theus'><b>{_esc(title)}</b>{_tree(zones, 0)}</div>"
    return f"{_STYLE}<div class='theus'>{_tree(value, 0)}</div>"


def pretty(value: Any, printer: Any, cycle: bool) -> None:
    """IPython's text form of a read-only view: the type, the size and at most MAX_CHILDREN
    entries, each shortened to MAX_TEXT characters (repr() is the full form)."""
    name = type(value).__name__
    if cycle:
        printer.text(f"{name}(...)")
        return
    n = len(value)
    is_map = hasattr(value, "keys")
    pairs = list(value.items())[:MAX_CHILDREN] if is_map else list(value)[:MAX_CHILDREN]
    parts = [f"{k!r}: {_short(v)}" for k, v in pairs] if is_map else [_short(v) for v in pairs]
    more = [f"... {n - MAX_CHILDREN} more"] if n > MAX_CHILDREN else []
    open_, close = ("{", "}") if is_map else ("[", "]")
    printer.text(f"{name}({n} {'items' if n != 1 else 'item'}) {open_}" + ", ".join(parts + more) + close)


def run_html(run: "RunResult") -> str:
    """A run's timeline: one row per trace entry with its offset, duration, versions and
    outcome; failures, waits and caught errors marked."""
    trace = run.trace
    t0 = trace[0].start if trace else 0.0
    rows = []
    for i, e in enumerate(trace[:MAX_ROWS]):
        if e.kind == "wait":
            css = "waiting" if e.outcome == "waiting" else "ok"
        elif e.outcome == "error":
            css = "error"
        elif e.kind == "except":
            css = "waiting"
        else:
            css = "ok" if e.kind == "process" else ""
        versions = f"{e.version_before}→{e.version_after}" if e.version_after != e.version_before else str(e.version_before)
        rows.append(f"<tr><td class='muted'>{i}</td><td>{_esc(e.kind)}</td><td>{_esc(_clip(e.step))}</td>"
                    f"<td class='muted'>{e.line}:{e.col}</td><td>{(e.start - t0) * 1e3:.2f} ms</td>"
                    f"<td>{e.duration * 1e3:.3f} ms</td><td>{versions}</td><td class='{css}'>{_esc(e.outcome)}</td></tr>")
    more = len(trace) - MAX_ROWS + run.dropped
    if more > 0:
        rows.append(f"<tr><td colspan='8' class='muted'>… {more} more entries</td></tr>")
    status = run.status + (f" for {run.waiting_for!r}" if run.waiting_for else "")
    error = f" · <span class='error'>{_esc(type(run.error).__name__)}: {_esc(_short(str(run.error)))}</span>" \
        if isinstance(run.error, BaseException) else ""
    head = (f"<b>theus.RunResult</b> <span class='{run.status if run.status != 'completed' else 'ok'}'>{_esc(status)}</span>"
            f" · {len(run.steps)} steps · versions {run.start_version}→{run.end_version}{error}")
    args = f"<div class='muted'>args: {_esc(_short(run.args))}</div>" if run.args else ""
    table = ("<table><tr><th>#</th><th>kind</th><th>step</th><th>at</th><th>start</th><th>took</th>"
             "<th>version</th><th>outcome</th></tr>" + "".join(rows) + "</table>")
    return f"{_STYLE}<div class='theus'>{head}{args}{table}</div>"


def history_html(records: Sequence[Any]) -> str:
    """engine.history() as a table: version, process, changed paths and time."""
    import datetime

    rows = []
    for r in list(records)[-MAX_ROWS:]:
        when = datetime.datetime.fromtimestamp(r.time).strftime("%H:%M:%S.%f")[:-3]
        paths = ", ".join(r.paths)
        rows.append(f"<tr><td>{r.version}</td><td>{_esc(r.process or '—')}</td><td>{_esc(_clip(paths))}</td>"
                    f"<td class='muted'>{when}</td></tr>")
    skipped = len(records) - MAX_ROWS
    more = f"<div class='muted'>… {skipped} earlier commits</div>" if skipped > 0 else ""
    return (f"{_STYLE}<div class='theus'><b>theus history</b> · {len(records)} commits{more}<table><tr><th>version</th>"
            f"<th>process</th><th>paths</th><th>time</th></tr>{''.join(rows)}</table></div>")


def diff_html(changes: Sequence[Any]) -> str:
    """engine.diff(v1, v2) as a table: kind, path, old value, new value."""
    rows = []
    for c in list(changes)[:MAX_ROWS]:
        css = {"added": "ok", "removed": "error"}.get(c.kind, "waiting")
        old = "" if c.kind == "added" else _leaf(c.old) if not hasattr(c.old, "keys") else _esc(_short(c.old))
        new = "" if c.kind == "removed" else _leaf(c.new) if not hasattr(c.new, "keys") else _esc(_short(c.new))
        rows.append(f"<tr><td class='{css}'>{_esc(c.kind)}</td><td>{_esc(c.path)}</td><td>{old}</td><td>{new}</td></tr>")
    skipped = len(changes) - MAX_ROWS
    more = f"<tr><td colspan='4' class='muted'>… {skipped} more</td></tr>" if skipped > 0 else ""
    return (f"{_STYLE}<div class='theus'><b>theus diff</b> · {len(changes)} changes<table><tr><th>change</th>"
            f"<th>path</th><th>old</th><th>new</th></tr>{''.join(rows)}{more}</table></div>")


def workflow_html(wf: "Workflow") -> str:
    """A workflow's picture: SVG when Graphviz is available, else its Mermaid source."""
    title = f"<b>theus.Workflow</b> {_esc(wf.name or wf.file)} · processes: {_esc(', '.join(wf.process_names))}"
    try:
        picture = to_svg(wf)
    except TheusError:
        picture = f"<pre class='mermaid'>{_esc(to_mermaid(wf))}</pre>"
    return f"{_STYLE}<div class='theus'>{title}<div>{picture}</div></div>"

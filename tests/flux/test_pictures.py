"""Workflow pictures (Mermaid, DOT, SVG) and the HTML Jupyter shows."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import theus
from theus import TheusEngine, process
from theus.workflow import Workflow

EVERY_KIND = """
name: every kind
args: [order_id]
steps:
  - check
  - flux: if
    condition: args.order_id == "o1"
    then:
      - flux: try
        do: [{process: charge, retry: {max_attempts: 2}}]
        errors: [ValueError]
        except: [refund]
    else:
      - flux: while
        condition: domain.n < 3
        do: [check]
  - flux: run
    steps:
      - flux: map
        over: domain.ids
        as: k
        concurrency: 4
        do: [check]
  - flux: wait
    for: approval
"""


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"ids": ["a"], "n": 0}})
    for name in ("check", "charge", "refund"):
        def fn(ctx, **kw):
            return None
        fn.__name__ = name
        e.register(process(outputs=["domain.x"])(fn))
    return e


def test_the_outline_has_every_step_kind():
    steps = Workflow(EVERY_KIND).outline()
    assert [s.kind for s in steps] == ["process", "if", "run", "wait"]
    branch = steps[1]
    assert branch.label == 'args.order_id == "o1"' and (branch.line, branch.col) == (6, 5)
    blocks = dict(branch.blocks)
    assert [s.kind for s in blocks["then"]] == ["try"] and [s.kind for s in blocks["else"]] == ["while"]
    tr = blocks["then"][0]
    assert tr.extra["errors"] == ("ValueError",) and dict(tr.blocks)["do"][0].extra["retry"] is True
    mp = dict(steps[2].blocks)["steps"][0]
    assert mp.kind == "map" and mp.extra == {"as": "k", "concurrency": 4}


def test_mermaid_draws_each_kind():
    text = Workflow(EVERY_KIND).to_mermaid()
    assert text.startswith("flowchart TD\n")
    for shape in ('["check"]', '{"args.order_id == #quot;o1#quot;"}', '[["try"]]', '{"domain.n < 3"}',
                  '[/"map domain.ids as k ×4"/]', '{{"wait for approval"}}', '["charge ↻"]'):
        assert shape in text, shape
    assert "-.->|except ValueError|" in text and "-->|then|" in text and "-->|else|" in text
    assert "-->|done|" in text and "-->|each|" in text


def test_dot_is_a_valid_digraph_with_every_kind():
    dot = Workflow(EVERY_KIND).to_dot()
    assert dot.startswith('digraph "every kind" {') and dot.rstrip().endswith("}")
    for shape in ("shape=diamond", "shape=component", "shape=parallelogram", "shape=hexagon", "shape=box"):
        assert shape in dot
    nodes = set(re.findall(r"^\s+(n\d+) \[", dot, flags=re.M))
    edges = re.findall(r"^\s+(n\d+) -> (n\d+)", dot, flags=re.M)
    assert edges and all(a in nodes and b in nodes for a, b in edges)


def test_a_run_is_marked_on_the_picture(engine):
    wf = engine.load_workflow(EVERY_KIND)
    run = engine.execute_workflow(wf, {"order_id": "o1"})
    assert run.status == "waiting"
    mermaid = wf.to_mermaid(run)
    ok = re.search(r"class (\S+) ok", mermaid).group(1).split(",")
    waiting = re.search(r"class (\S+) waiting", mermaid).group(1).split(",")
    labels = dict(re.findall(r"^\s+(n\d+)\S*?\"(.*?)\"", mermaid, flags=re.M))
    assert {labels[n] for n in ok} >= {"check", "charge ↻"}
    assert "refund" not in {labels[n] for n in ok}  # the except branch did not run
    assert [labels[n] for n in waiting] == ["wait for approval"]
    assert 'fillcolor="#fff1c2"' in wf.to_dot(run)


def test_svg_parses_and_shows_in_jupyter(engine):
    wf = engine.load_workflow(EVERY_KIND)
    svg = wf.to_svg()
    root = ET.fromstring(svg.split("?>", 1)[-1].split("-->", 1)[-1] if svg.startswith("<?xml") else svg)
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert {"check", "try", "wait for approval"} <= texts
    assert "<svg" in wf._repr_html_()


def test_svg_without_graphviz_says_what_to_install(monkeypatch):
    import graphviz
    def missing(*a, **k):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    wf = Workflow("steps: [a]\n")
    with pytest.raises(theus.TheusError, match="apt-get install graphviz"):
        wf.to_svg()
    assert "<pre class='mermaid'>" in wf._repr_html_()  # the notebook falls back to Mermaid


def test_html_views_of_state_runs_history_and_diffs(engine):
    e = TheusEngine({"domain": {"big": {f"k{i}": i for i in range(200)}, "nested": {"a": {"b": [1, 2, {"c": 3}]}}}},
                    history=4)

    @process(inputs=["domain.nested"], outputs=["domain.nested.a.b"])
    def change(ctx):
        return [9]

    e.register(change)
    run = e.execute_workflow("steps: [change]\n")
    page = e.state._repr_html_()
    assert "theus.Snapshot version 1" in page and "<details" in page
    assert "… 150 more" in page  # 200 keys, 50 shown
    assert e.state.domain._repr_html_().count("<details") >= 2
    assert "list · 1 item" in e.state.domain.nested._repr_html_()
    timeline = run._repr_html_()
    assert "theus.RunResult" in timeline and "change" in timeline and "completed" in timeline
    assert "<table>" in e.history()._repr_html_() and "domain.nested.a.b" in e.history()._repr_html_()
    diff = e.diff(0, 1)._repr_html_()
    assert "changed" in diff or "added" in diff
    assert "domain.nested.a.b" in diff
    assert isinstance(e.history(), list) and isinstance(e.diff(0, 1), list)


def test_a_failed_and_a_waiting_run_are_marked(engine):
    @process(outputs=["domain.x"])
    def bad(ctx):
        raise ValueError("nope")

    engine.register(bad)
    with pytest.raises(ValueError) as info:
        engine.execute_workflow("steps: [bad]\n")
    page = info.value.run._repr_html_()
    assert "class='error'" in page and "ValueError" in page and "failed" in page
    waiting = engine.execute_workflow("steps:\n  - flux: wait\n    for: go\n")
    assert "waiting for &#x27;go&#x27;" in waiting._repr_html_()


def test_heavy_values_show_shape_and_dtype_not_data():
    np = pytest.importorskip("numpy")
    e = TheusEngine({"domain": {}, "heavy": {"frame": np.zeros((480, 640), dtype=np.uint8)}})
    page = e.state._repr_html_()
    assert "shape=(480, 640)" in page and "dtype=uint8" in page and "307,200 bytes" in page


def test_ipython_text_form_is_short():
    from IPython.lib.pretty import pretty
    e = TheusEngine({"domain": {"big": {f"k{i}": "x" * 200 for i in range(500)}, "l": list(range(3))}})
    text = pretty(e.state.domain.big)
    assert text.startswith("FrozenDict(500 items) {'k0': ") and "... 450 more" in text and len(text) < 6000
    assert pretty(e.state.domain.l) == "FrozenList(3 items) [0, 1, 2]"
    assert repr(e.state.domain.l) == repr([0, 1, 2]) or "0, 1, 2" in repr(e.state.domain.l)

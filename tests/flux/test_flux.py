"""Flux workflows end to end: control flow, conditions, `with` arguments, traces, reuse,
sources, limits and run-time failures, through the installed theus."""

from __future__ import annotations

import asyncio
import math
import textwrap
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import theus
from theus import ArgumentError, FluxError, RunResult, TheusEngine, TraceEntry, Workflow, process


def y(text: str) -> str:
    """Dedented YAML text."""
    return textwrap.dedent(text).lstrip("\n")


def version(engine: TheusEngine) -> int:
    with engine.state as snap:
        return snap.version


def names(calls: list) -> list[str]:
    return [name for name, _ in calls]


# --- control flow ---------------------------------------------------------------------------


def test_string_shorthand_and_process_mapping_run_in_order(engine, calls):
    flow = y("""
        steps:
          - a
          - process: b
          - c
          - {process: a}
    """)
    assert engine.execute_workflow(flow) == ("a", "b", "c", "a")
    assert names(calls) == ["a", "b", "c", "a"]


def test_empty_steps_run_nothing(engine):
    assert engine.execute_workflow("steps: []") == ()
    assert version(engine) == 0


@pytest.mark.parametrize("vip, expected", [(True, ["a", "d"]), (False, ["b", "d"])])
def test_if_else(engine, calls, vip, expected):
    engine.update({"global.vip": vip})
    flow = y("""
        steps:
          - flux: if
            condition: global.vip
            then: [a]
            else: [b]
          - d
    """)
    assert list(engine.execute_workflow(flow)) == expected
    assert names(calls) == expected


@pytest.mark.parametrize("vip, expected", [(True, ("a",)), (False, ())])
def test_if_without_else(engine, vip, expected):
    engine.update({"global.vip": vip})
    flow = y("""
        steps:
          - flux: if
            condition: global.vip
            then: [a]
    """)
    assert engine.execute_workflow(flow) == expected


def test_if_with_empty_then_is_allowed(engine):
    flow = y("""
        steps:
          - flux: if
            condition: global.vip
            then: []
            else: [a]
          - b
    """)
    assert engine.execute_workflow(flow) == ("b",)


@pytest.mark.parametrize("n, expected", [(1, "a"), (2, "b"), (3, "c"), (99, "d")])
def test_elif_as_nested_if_in_else(engine, n, expected):
    engine.update({"domain.n": n})
    flow = y("""
        steps:
          - flux: if
            condition: domain.n == 1
            then: [a]
            else:
              - flux: if
                condition: domain.n == 2
                then: [b]
                else:
                  - flux: if
                    condition: domain.n == 3
                    then: [c]
                    else: [d]
    """)
    assert engine.execute_workflow(flow) == (expected,)


def test_while_runs_until_committed_state_ends_it(engine):
    flow = y("""
        steps:
          - flux: while
            condition: domain.counter < 5
            do: [inc]
    """)
    assert engine.execute_workflow(flow) == ("inc",) * 5
    with engine.state as snap:
        assert snap.domain.counter == 5
        assert snap.version == 5


def test_while_that_is_false_at_once_runs_nothing(engine):
    engine.update({"domain.counter": 10})
    v = version(engine)
    flow = "steps:\n  - flux: while\n    condition: domain.counter < 5\n    do: [inc]\n"
    assert engine.execute_workflow(flow) == ()
    assert version(engine) == v
    assert [(t.kind, t.outcome) for t in engine.last_run.trace] == [("while", "false")]


def test_run_groups_steps(engine):
    flow = y("""
        steps:
          - flux: run
            steps: [a, b]
          - flux: run
            steps: []
          - c
    """)
    assert engine.execute_workflow(flow) == ("a", "b", "c")


def test_nesting_three_deep(engine, calls):
    # run > while > if > process, with a process at every level in between
    flow = y("""
        steps:
          - flux: run
            steps:
              - a
              - flux: while
                condition: domain.counter < 4
                do:
                  - inc
                  - flux: if
                    condition: domain.counter % 2 == 0
                    then:
                      - flux: run
                        steps: [b]
                    else: [c]
              - d
    """)
    executed = engine.execute_workflow(flow)
    assert executed == ("a", "inc", "c", "inc", "b", "inc", "c", "inc", "b", "d")
    assert names(calls) == ["a", "c", "b", "c", "b", "d"]
    assert engine.state.domain.counter == 4


def test_if_after_a_step_sees_its_commit(engine):
    flow = y("""
        steps:
          - set_flag
          - flux: if
            condition: domain.flag
            then: [a]
            else: [b]
    """)
    assert engine.execute_workflow(flow) == ("set_flag", "a")


def test_loop_condition_reads_what_the_previous_iteration_committed():
    # each iteration moves one item from todo to done; the loop stops when todo is empty
    @process(inputs=["domain.todo", "domain.done"], outputs=["domain.todo", "domain.done"])
    def move(ctx):
        todo, done = list(ctx.domain.todo), list(ctx.domain.done)
        done.append(todo.pop(0))
        return todo, done

    e = TheusEngine({"domain": {"todo": ["x", "y", "z"], "done": []}})
    e.register(move)
    flow = y("""
        steps:
          - flux: while
            condition: len(domain.todo) > 0
            max_iterations: 3
            do: [move]
    """)
    assert e.execute_workflow(flow) == ("move",) * 3
    assert list(e.state.domain.done) == ["x", "y", "z"]
    conds = [t for t in e.last_run.trace if t.kind == "while"]
    assert [t.outcome for t in conds] == ["true", "true", "true", "false"]
    assert [t.version_before for t in conds] == [0, 1, 2, 3]


def test_condition_sees_writes_made_outside_the_workflow():
    # a process that writes through the engine's update: the next condition reads it
    e = TheusEngine({"domain": {"stop": False, "counter": 0}})

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def tick(ctx):
        if ctx.domain.counter == 2:
            e.update({"domain.stop": True})
        return ctx.domain.counter + 1

    e.register(tick)
    flow = "steps:\n  - flux: while\n    condition: not domain.stop\n    do: [tick]\n"
    assert e.execute_workflow(flow) == ("tick",) * 3


# --- `with` arguments ----------------------------------------------------------------------


def test_with_passes_keyword_arguments_of_every_yaml_type(engine, calls):
    flow = y("""
        steps:
          - process: rec
            with:
              i: 42
              neg: -3
              hex: 0x1F
              f: 1.5
              exp: 1e3
              s: hello
              quoted: '1'
              t: true
              fl: false
              l: [1, 2.5, a, null]
              m: {k: v, nested: {deep: [1]}}
              z: null
              tilde: ~
              empty_list: []
              empty_map: {}
              unicode: "é✓"
              inf: .inf
    """)
    assert engine.execute_workflow(flow) == ("rec",)
    [(name, kw)] = calls
    assert name == "rec"
    expected = {
        "i": 42, "neg": -3, "hex": 31, "f": 1.5, "exp": 1000.0, "s": "hello", "quoted": "1",
        "t": True, "fl": False, "l": [1, 2.5, "a", None], "m": {"k": "v", "nested": {"deep": [1]}},
        "z": None, "tilde": None, "empty_list": [], "empty_map": {}, "unicode": "é✓", "inf": math.inf,
    }
    assert kw == expected
    # exact types: YAML ints stay int, bools stay bool, floats stay float
    assert {k: type(v) for k, v in kw.items()} == {k: type(v) for k, v in expected.items()}


def test_with_nan_is_a_float_nan(engine, calls):
    engine.execute_workflow("steps:\n  - process: rec\n    with: {x: .nan}\n")
    [(_, kw)] = calls
    assert isinstance(kw["x"], float) and math.isnan(kw["x"])


def test_with_int64_limits_round_trip(engine, calls):
    engine.execute_workflow("steps:\n  - process: rec\n    with: {hi: 9223372036854775807, lo: -9223372036854775808}\n")
    assert calls == [("rec", {"hi": 2**63 - 1, "lo": -(2**63)})]


@pytest.mark.parametrize("literal", ["123456789012345678901234", "-9223372036854775809"])
def test_with_integer_out_of_range_is_exact_or_rejected(engine, calls, literal):
    try:
        engine.execute_workflow(f"steps:\n  - process: rec\n    with: {{n: {literal}}}\n")
    except FluxError as err:
        assert literal in str(err)
        assert calls == []
    else:
        [(_, kw)] = calls
        assert kw["n"] == int(literal) and type(kw["n"]) is int


def test_with_reaches_a_process_that_uses_named_parameters():
    @process(inputs=["domain.total"], outputs=["domain.total"])
    def charge(ctx, amount, currency="EUR"):
        assert currency == "USD"
        return ctx.domain.total + amount

    e = TheusEngine({"domain": {"total": 1}})
    e.register(charge)
    flow = "steps:\n  - process: charge\n    with: {amount: 10, currency: USD}\n  - process: charge\n    with: {amount: 5, currency: USD}\n"
    assert e.execute_workflow(flow) == ("charge", "charge")
    assert e.state.domain.total == 16


def test_process_without_with_gets_no_kwargs(engine, calls):
    engine.execute_workflow("steps:\n  - process: rec\n  - rec\n  - process: rec\n    with: {}\n")
    assert calls == [("rec", {})] * 3


def test_with_values_are_fresh_on_every_run(engine, calls):
    # a process mutating its list argument must not change what the next run passes
    @process(inputs=[], outputs=[])
    def mutate(ctx, items):
        calls.append(("mutate", list(items)))
        items.append("junk")

    engine.register(mutate)
    wf = engine.load_workflow("steps:\n  - process: mutate\n    with: {items: [1]}\n")
    wf.run(engine)
    wf.run(engine)
    assert calls == [("mutate", [1]), ("mutate", [1])]


# --- conditions -----------------------------------------------------------------------------


@pytest.mark.parametrize("condition, expected", [
    ("len(domain.items) > 0 and global.enabled", True),
    ("len(domain.empty) > 0 and global.enabled", False),
    ("len(domain.items) > 0 and global.disabled", False),
    ("'domain[\"key\"] == \"x\"'", True),
    ("'domain[\"key\"] == \"y\"'", False),
    ("\"domain['key'] == 'x'\"", True),
    ("(domain.maybe ?? 0) > 3", False),
    ("(domain.n ?? 0) > 3", True),
    ("domain.maybe ?? true", True),
    ("not global.done", True),
    ("not global.vip", False),
    ("'!global.done && global.vip'", True),
    ("True", True),
    ("False", False),
    ("True and not False", True),
    ("domain.maybe == None", True),
    ("domain.counter != None", True),
    ("'domain.s == \"True\"'", True),
    ("'domain.s == true'", False),
    ("domain.a.b.c >= 1.5", True),
    ("domain.a.b.c > 2.5", False),
    ("domain.a.b.missing == nil", True),
    ("domain.absent.deeper == nil", True),
    ("domain.n == 7.0", True),
    ("domain.items[0] == 1", True),
    ("domain.counter in [0, 1]", True),
    ("'all(domain.items, # > 0)'", True),
    ("'any(domain.items, # > 2)'", True),
    ("let x = domain.n; x > 5 and x < 10", True),
    ("'domain.key in [\"x\", \"z\"]'", True),
    ("'global.vip ? domain.n > 5 : false'", True),
])
def test_condition(engine, condition, expected):
    flow = f"steps:\n  - flux: if\n    condition: {condition}\n    then: [a]\n    else: [b]\n"
    assert engine.execute_workflow(flow) == (("a",) if expected else ("b",))
    [entry] = engine.last_run.trace[:1]
    assert entry.kind == "if" and entry.outcome == str(expected).lower()


def test_condition_trace_shows_the_condition_source(engine):
    engine.execute_workflow("steps:\n  - flux: if\n    condition: domain.counter < 10\n    then: [a]\n")
    assert engine.last_run.trace[0].step == "domain.counter < 10"


def test_nested_path_changes_between_iterations(engine):
    @process(inputs=["domain.a.b.c"], outputs=["domain.a.b.c"])
    def grow(ctx):
        return ctx.domain.a.b.c * 2

    engine.register(grow)
    flow = "steps:\n  - flux: while\n    condition: domain.a.b.c < 40\n    do: [grow]\n"
    assert engine.execute_workflow(flow) == ("grow",) * 4  # 2.5 -> 5 -> 10 -> 20 -> 40
    assert engine.state.domain.a.b.c == 40.0


# --- results and traces ---------------------------------------------------------------------


def test_trace_kinds_outcomes_and_positions(engine):
    flow = y("""
        steps:
          - a
          - flux: while
            condition: domain.counter < 2
            do:
              - inc
          - flux: if
            condition: domain.counter == 2
            then: [b]
    """)
    executed = engine.execute_workflow(flow)
    run = engine.last_run
    assert isinstance(run, RunResult)
    assert run.executed == executed == ("a", "inc", "inc", "b")
    assert run.dropped == 0
    assert all(isinstance(t, TraceEntry) for t in run.trace)
    got = [(t.step, t.kind, t.line, t.col, t.outcome) for t in run.trace]
    assert got == [
        ("a", "process", 2, 5, "ok"),
        ("domain.counter < 2", "while", 3, 5, "true"),
        ("inc", "process", 6, 9, "ok"),
        ("domain.counter < 2", "while", 3, 5, "true"),
        ("inc", "process", 6, 9, "ok"),
        ("domain.counter < 2", "while", 3, 5, "false"),
        ("domain.counter == 2", "if", 7, 5, "true"),
        ("b", "process", 9, 12, "ok"),
    ]
    assert all(t.file == "<string>" for t in run.trace)
    assert all(t.duration >= 0 for t in run.trace)
    starts = [t.start for t in run.trace]
    assert starts == sorted(starts)


def test_trace_versions_follow_the_commits(engine):
    engine.update({"domain.n": 1})
    v0 = version(engine)
    flow = y("""
        steps:
          - a
          - flux: while
            condition: domain.counter < 3
            do: [inc, b]
          - inc
    """)
    engine.execute_workflow(flow)
    trace = engine.last_run.trace
    assert trace[0].version_before == v0
    assert trace[-1].version_after == version(engine) == v0 + 4
    for prev, cur in zip(trace, trace[1:]):
        assert cur.version_before == prev.version_after
    for t in trace:
        if t.step == "inc":
            assert t.version_after == t.version_before + 1
        else:  # conditions and processes without outputs commit nothing
            assert t.version_after == t.version_before
    # the history agrees: exactly the inc steps committed, in the trace's versions
    incs = [t.version_after for t in trace if t.step == "inc"]
    assert [r.version for r in engine.history() if r.process == "inc"] == incs


def test_workflow_last_run_and_engine_last_run_are_the_same(engine):
    wf = engine.load_workflow("steps: [a, b]")
    assert wf.last_run is None
    wf.run(engine)
    assert wf.last_run is engine.last_run
    assert wf.last_run.executed == ("a", "b")


def test_workflow_object_runs_twice(engine):
    wf = engine.load_workflow("steps:\n  - flux: while\n    condition: domain.counter < 3\n    do: [inc]\n")
    assert isinstance(wf, Workflow)
    assert list(wf.process_names) == ["inc"]
    assert wf.run(engine) == ("inc",) * 3
    first = wf.last_run
    engine.update({"domain.counter": 1})
    assert wf.run(engine) == ("inc",) * 2
    assert wf.last_run is not first and first.executed == ("inc",) * 3
    assert engine.state.domain.counter == 3
    # and through execute_workflow with the object
    engine.update({"domain.counter": 0})
    assert engine.execute_workflow(wf) == ("inc",) * 3


def test_one_workflow_runs_on_several_engines(calls):
    wf = Workflow("steps:\n  - flux: while\n    condition: domain.counter < domain.target\n    do: [inc]\n")
    engines = []
    for target in (0, 2, 5):
        e = TheusEngine({"domain": {"counter": 0, "target": target}})
        e.register(_inc())
        engines.append((e, target))
    for e, target in engines:
        assert wf.run(e) == ("inc",) * target
        assert e.state.domain.counter == target


def _inc():
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def inc(ctx):
        return ctx.domain.counter + 1
    return inc


def test_workflow_metadata(engine):
    wf = engine.load_workflow(y("""
        name: order_flow
        description: Charge and ship
        steps:
          - a
          - flux: if
            condition: global.vip
            then: [b]
            else: [a]
    """))
    assert wf.name == "order_flow"
    assert wf.description == "Charge and ship"
    assert set(wf.process_names) == {"a", "b"}
    assert "order_flow" in repr(wf)


def test_validate_against_another_engine(engine):
    wf = engine.load_workflow("steps: [a, inc]")
    wf.validate(engine)
    other = TheusEngine({"domain": {"counter": 0}})
    with pytest.raises(FluxError, match='unknown process "a"'):
        wf.validate(other)
    with pytest.raises(FluxError, match='unknown process "a"'):
        wf.run(other)
    assert version(other) == 0


def test_workflow_run_concurrently_from_threads_commits_every_step():
    # every step goes through compare-and-swap with retries: no increment is lost
    e = TheusEngine({"domain": {"counter": 0}}, retries=10_000)
    e.register(_inc())
    wf = e.load_workflow("steps:\n  - flux: run\n    steps: [" + ", ".join(["inc"] * 50) + "]\n")
    results: list = []
    errors: list = []

    def worker():
        try:
            results.append(wf.run(e))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [("inc",) * 50] * 4
    assert e.state.domain.counter == 200
    assert version(e) == 200


# --- sources --------------------------------------------------------------------------------

FILE_FLOW = "name: from_file\nsteps:\n  - a\n  - flux: if\n    condition: domain.counter >> 1\n    then: [b]\n"


def test_load_from_str_path_and_pathlib_path(engine, tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text("steps:\n  - a\n  - b\n", encoding="utf-8")
    assert engine.execute_workflow(str(path)) == ("a", "b")
    assert engine.execute_workflow(path) == ("a", "b")
    wf = engine.load_workflow(path)
    assert wf.file == str(path)
    assert wf.run(engine) == ("a", "b")
    assert engine.last_run.trace[0].file == str(path)


def test_file_errors_name_the_file(engine, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(FILE_FLOW, encoding="utf-8")
    for source in (path, str(path)):
        with pytest.raises(FluxError) as info:
            engine.load_workflow(source)
        assert str(info.value).startswith(f"{path}:5:")


def test_missing_str_path_is_an_argument_error(engine, tmp_path):
    with pytest.raises(ArgumentError, match="no such file"):
        engine.execute_workflow(str(tmp_path / "nope.yaml"))
    with pytest.raises(ArgumentError):
        engine.load_workflow(str(tmp_path))  # a directory
    assert version(engine) == 0


def test_missing_pathlib_path_is_an_argument_error(engine, tmp_path):
    with pytest.raises(ArgumentError):
        engine.execute_workflow(tmp_path / "nope.yaml")


def test_directory_pathlib_path_is_an_argument_error(engine, tmp_path):
    with pytest.raises(ArgumentError):
        engine.load_workflow(tmp_path)


@pytest.mark.parametrize("bad", [5, b"steps: []", None, ["a"]])
def test_source_of_wrong_type_is_an_argument_error(engine, bad):
    with pytest.raises(ArgumentError):
        engine.execute_workflow(bad)


def test_text_with_a_colon_is_yaml_not_a_path(engine):
    assert engine.execute_workflow("steps: [a]") == ("a",)
    assert engine.last_run.trace[0].file == "<string>"


# --- limits ---------------------------------------------------------------------------------


def test_budget_trip_keeps_the_state_up_to_the_trip(engine):
    flow = "steps:\n  - flux: while\n    condition: true\n    max_iterations: 1000\n    do: [inc]\n"
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(flow, budget=10)
    msg = str(info.value)
    assert "budget" in msg and "10" in msg
    assert msg.startswith("<string>:")
    # condition, iteration and process cost one operation each: 3 full iterations fit in 10
    assert engine.state.domain.counter == 3
    assert version(engine) == 3
    assert engine.last_run.executed == ("inc",) * 3
    assert [t.outcome for t in engine.last_run.trace if t.kind == "process"] == ["ok"] * 3


def test_budget_counts_straight_line_steps(engine):
    flow = "steps: [a, b, c, d]"
    assert engine.execute_workflow(flow, budget=4) == ("a", "b", "c", "d")
    with pytest.raises(FluxError, match="budget of 3"):
        engine.execute_workflow(flow, budget=3)
    assert engine.last_run.executed == ("a", "b", "c")


def test_budget_stops_a_loop_whose_body_does_nothing(engine):
    # no process runs: the iterations themselves are counted
    flow = y("""
        steps:
          - flux: while
            condition: true
            max_iterations: 1000000
            do:
              - flux: if
                condition: false
                then: [a]
    """)
    with pytest.raises(FluxError, match="budget"):
        engine.execute_workflow(flow, budget=5000)
    assert engine.last_run.executed == ()


@pytest.mark.parametrize("bad", [-1, 1.5, "10", None])
def test_bad_budget_is_an_argument_error(engine, bad):
    with pytest.raises((ArgumentError, TypeError)):
        engine.execute_workflow("steps: [inc]", budget=bad)
    assert version(engine) == 0


def test_max_iterations_trip_names_the_loop(engine):
    flow = y("""
        steps:
          - a
          - flux: while
            condition: domain.counter >= 0
            max_iterations: 5
            do: [inc]
    """)
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(flow)
    msg = str(info.value)
    assert msg.startswith("<string>:3:5: flux: ")
    assert "max_iterations (5)" in msg and "domain.counter >= 0" in msg
    assert "  - flux: while\n    ^" in msg
    assert engine.state.domain.counter == 5
    assert version(engine) == 5


def test_loop_ending_exactly_at_max_iterations_is_fine(engine):
    flow = "steps:\n  - flux: while\n    condition: domain.counter < 5\n    max_iterations: 5\n    do: [inc]\n"
    assert engine.execute_workflow(flow) == ("inc",) * 5


def test_default_max_iterations_is_10000(engine):
    flow = "steps:\n  - flux: while\n    condition: true\n    do: [a]\n"
    with pytest.raises(FluxError, match=r"max_iterations \(10000\)"):
        engine.execute_workflow(flow)
    assert len(engine.last_run.executed) == 10_000


def test_trace_is_capped_and_counts_the_rest(engine):
    flow = "steps:\n  - flux: while\n    condition: domain.counter < 6000\n    do: [inc]\n"
    engine.execute_workflow(flow)
    run = engine.last_run
    assert len(run.executed) == 6000  # executed names are never capped
    assert len(run.trace) == 10_000
    assert run.dropped == 6000 + 6001 - 10_000


# --- run-time failures ----------------------------------------------------------------------


def test_condition_comparing_str_with_int_fails_naming_the_step(engine):
    flow = y("""
        steps:
          - inc
          - flux: if
            condition: domain.key < 1
            then: [a]
          - b
    """)
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(flow)
    msg = str(info.value)
    assert "(line 3)" in msg and "if condition" in msg
    head, source_line, caret = msg.split("\n")
    assert head.startswith("<string>:4:")
    assert source_line == "    condition: domain.key < 1"
    assert source_line[caret.index("^")] == "<"  # the caret points at the failing operator
    assert engine.state.domain.counter == 1  # the step before stays committed
    assert engine.last_run.executed == ("inc",)
    assert engine.last_run.trace[-1].outcome == "error"


def test_missing_path_compared_with_lt_fails_in_a_while(engine):
    flow = "steps:\n  - inc\n  - flux: while\n    condition: domain.absent < 10\n    do: [inc]\n"
    with pytest.raises(FluxError, match=r"while condition \(line 3\).*cannot compare None < int") as info:
        engine.execute_workflow(flow)
    assert str(info.value).startswith("<string>:4:")
    assert version(engine) == 1


def test_missing_path_with_default_does_not_fail(engine):
    flow = "steps:\n  - flux: while\n    condition: (domain.absent ?? 0) < 10 and domain.counter < 2\n    do: [inc]\n"
    assert engine.execute_workflow(flow) == ("inc", "inc")


def test_non_boolean_state_value_as_condition_fails_at_run_time(engine):
    flow = "steps:\n  - flux: if\n    condition: domain.n\n    then: [a]\n"
    with pytest.raises(FluxError, match="not true or false"):
        engine.execute_workflow(flow)
    assert engine.last_run.executed == ()


class Declined(Exception):
    pass


def test_failing_process_raises_its_own_exception_with_a_note(engine):
    raised = []

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def charge(ctx):
        exc = Declined("card declined")
        raised.append(exc)
        raise exc

    engine.register(charge)
    flow = y("""
        steps:
          - inc
          - flux: run
            steps:
              - inc
              - charge
              - inc
          - a
    """)
    with pytest.raises(Declined) as info:
        engine.execute_workflow(flow)
    assert info.value is raised[0]
    notes = info.value.__notes__
    assert len(notes) == 1
    assert "<string>:6:9" in notes[0] and "charge" in notes[0] and "line 6" in notes[0]
    assert engine.state.domain.counter == 2  # the two incs before stay committed
    assert version(engine) == 2
    run = engine.last_run
    assert run.executed == ("inc", "inc", "charge")
    assert [(t.step, t.outcome) for t in run.trace] == [("inc", "ok"), ("inc", "ok"), ("charge", "error")]
    assert run.trace[-1].version_before == run.trace[-1].version_after == 2


def test_failing_process_note_carries_the_exception_message(engine):
    @process(inputs=[], outputs=[])
    def charge(ctx):
        raise Declined("card declined")

    engine.register(charge)
    with pytest.raises(Declined) as info:
        engine.execute_workflow("steps:\n  - charge\n")
    [note] = info.value.__notes__
    assert "py: python exception set" not in note
    assert note.startswith("raised by Flux step `charge` (line 2) at <string>:2:5")
    assert note.endswith("  - charge\n    ^")


def test_failing_process_inside_a_loop_stops_the_loop(engine):
    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def fragile(ctx):
        if ctx.domain.counter == 3:
            raise ValueError("three")
        return ctx.domain.counter + 1

    engine.register(fragile)
    flow = "steps:\n  - flux: while\n    condition: domain.counter < 10\n    do: [fragile]\n"
    with pytest.raises(ValueError, match="three") as info:
        engine.execute_workflow(flow)
    assert any("fragile" in n for n in info.value.__notes__)
    assert engine.state.domain.counter == 3
    assert engine.last_run.executed == ("fragile",) * 4


def test_process_breaking_its_contract_stops_the_run(engine):
    @process(inputs=[], outputs=["domain.a", "domain.b"])
    def wrong_shape(ctx):
        return 1  # one value for two outputs

    engine.register(wrong_shape)
    with pytest.raises(theus.ContractViolationError):
        engine.execute_workflow("steps: [inc, wrong_shape, inc]")
    assert engine.state.domain.counter == 1


def test_unexpected_with_keyword_is_a_contract_violation(engine):
    with pytest.raises(theus.ContractViolationError, match="unexpected keyword argument 'bogus'"):
        engine.execute_workflow("steps:\n  - inc\n  - process: inc\n    with: {bogus: 1}\n")
    assert engine.state.domain.counter == 1


def test_failed_run_then_a_good_run(engine):
    wf = engine.load_workflow("steps:\n  - inc\n  - flux: if\n    condition: domain.counter < 2\n    then: [a]\n")
    engine.update({"domain.counter": "text"})
    with pytest.raises((TypeError, FluxError)):
        wf.run(engine)
    engine.update({"domain.counter": 0})
    assert wf.run(engine) == ("inc", "a")


# --- random targets -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=0, max_value=300), start=st.integers(min_value=-5, max_value=0))
def test_while_counter_reaches_any_target(n, start):
    e = TheusEngine({"domain": {"counter": start}})
    e.register(_inc())
    flow = f"steps:\n  - flux: while\n    condition: domain.counter < {n}\n    max_iterations: {n - start + 1}\n    do: [inc]\n"
    executed = e.execute_workflow(flow)
    assert executed == ("inc",) * (n - start)
    assert e.state.domain.counter == n
    assert version(e) == n - start
    assert [t.outcome for t in e.last_run.trace if t.kind == "while"] == ["true"] * (n - start) + ["false"]


@pytest.mark.parametrize("n", [0, 1, 2, 17, 64, 65, 1000])
def test_while_counter_target_parametrized(n):
    e = TheusEngine({"domain": {"counter": 0}})
    e.register(_inc())
    flow = f"steps:\n  - flux: while\n    condition: domain.counter < {n}\n    do: [inc]\n"
    assert list(e.execute_workflow(flow)) == ["inc"] * n
    assert e.state.domain.counter == n


# --- async ----------------------------------------------------------------------------------


def test_execute_workflow_async(engine):
    flow = "steps:\n  - flux: while\n    condition: domain.counter < 4\n    do: [inc]\n  - a\n"

    async def main():
        first = await engine.execute_workflow_async(flow)
        wf = engine.load_workflow("steps: [inc]")
        second = await engine.execute_workflow_async(wf)
        return first, second

    first, second = asyncio.run(main())
    assert first == ("inc",) * 4 + ("a",)
    assert second == ("inc",)
    assert engine.state.domain.counter == 5
    assert engine.last_run.executed == ("inc",)


def test_execute_workflow_async_errors(engine):
    class Boom(Exception):
        pass

    @process(inputs=[], outputs=[])
    def boom(ctx):
        raise Boom("x")

    engine.register(boom)

    async def main():
        with pytest.raises(FluxError, match="unknown key"):
            await engine.execute_workflow_async("steps:\n  - process: inc\n    on_success: a\n")
        with pytest.raises(Boom) as info:
            await engine.execute_workflow_async("steps: [inc, boom, inc]")
        return info.value

    exc = asyncio.run(main())
    assert exc.__notes__
    assert engine.state.domain.counter == 1


def test_execute_workflow_async_runs_concurrently_with_the_loop(engine):
    # a process step in the worker thread waits for the event loop to set an event
    ready = threading.Event()

    @process(inputs=[], outputs=[])
    def wait_for_loop(ctx):
        assert ready.wait(30), "the event loop did not run while the workflow ran"

    engine.register(wait_for_loop)

    async def main():
        task = asyncio.ensure_future(engine.execute_workflow_async("steps: [inc, wait_for_loop, inc]"))
        await asyncio.sleep(0.01)
        ready.set()
        return await task

    assert asyncio.run(main()) == ("inc", "wait_for_loop", "inc")


def test_execute_workflow_async_does_not_block_the_loop_between_python_steps(engine):
    # the loop spins on conditions only; the event loop must get to stop it through the state
    flow = y("""
        steps:
          - flux: while
            condition: not (domain.stop ?? false)
            max_iterations: 2000000000
            do:
              - flux: if
                condition: domain.counter > 0
                then: [a]
    """)

    async def main():
        task = asyncio.ensure_future(engine.execute_workflow_async(flow, budget=5_000_000))
        await asyncio.sleep(0.05)
        engine.update({"domain.stop": True})
        return await task

    assert asyncio.run(main()) == ()

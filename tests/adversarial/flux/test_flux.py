"""Hostile Flux workflows run through TheusEngine.execute_workflow: conditions compute with
Python's rules (structural ==, exact integers), every failure is a theus exception with a
position and Python words, `with:` arguments arrive as written, and core handles of the
wrong kind are refused."""

from __future__ import annotations

import math
import subprocess
import sys
import threading

import pytest

from theus import ArgumentError, FluxError, TheusEngine, TheusError, Workflow, _core, process

BIG = 2**64
HUGE = 123456789012345678901234567890
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

STATE = {
    "domain": {
        "cfg": {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}},
        "cfg2": {"c": {"d": None}, "b": [1.0, 2.5, "x"], "a": 1.0},
        "other": {"a": 2},
        "items": [1, {"k": "v"}, []],
        "tup": (1, 2),
        "count": 3,
        "neg": -7,
        "zero": 0,
        "fzero": 0.0,
        "max": I64_MAX,
        "min": I64_MIN,
        "u64": BIG - 1,
        "big": BIG,
        "huge": HUGE,
        "nhuge": -HUGE,
        "f53": float(2**53),
        "nan": math.nan,
        "inf": math.inf,
        "name": "alice",
        "flag": True,
        "none": None,
        "raw": b"bytes",
        "tags": frozenset({"a"}),
        "nested": {"l1": {"l2": {"l3": {"n": 5, "s": "deep"}}}},
        "intkeys": {1: "one"},
    },
    "global": {"limit": 10, "vip": False},
}

LOG: list = []


@process(inputs=[], outputs=[])
def hit(ctx):
    LOG.append("hit")


@process(inputs=[], outputs=[])
def miss(ctx):
    LOG.append("miss")


@process(inputs=[], outputs=[])
def kwargs(ctx, **kw):
    LOG.append(list(kw.items()))


@pytest.fixture
def engine():
    LOG.clear()
    e = TheusEngine(STATE)
    for p in (hit, miss, kwargs):
        e.register(p)
    yield e
    e.close()


def if_flow(condition: str) -> str:
    quoted = "'" + condition.replace("'", "''") + "'"
    return f"steps:\n  - flux: if\n    condition: {quoted}\n    then: [hit]\n    else: [miss]\n"


# ---------------------------------------------------------------------------------------------
# Semantics: (condition, expected truth). Each runs through execute_workflow on STATE.
TRUE_FALSE = [
    # structural equality of dicts and lists, both ways, literal and path
    ('domain.cfg == {"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}}', True),
    ('{"a": 1, "b": [1, 2.5, "x"], "c": {"d": None}} == domain.cfg', True),
    ("domain.cfg == domain.cfg2", True),
    ("domain.cfg != domain.cfg2", False),
    ("domain.cfg == domain.other", False),
    ('domain.cfg == {"a": 1}', False),
    ('domain.other == {"a": 2}', True),
    ('domain.other == {"a": 2.0}', True),
    ('domain.other == {"a": "2"}', False),
    ('domain.other != {"b": 2}', True),
    ('domain.items == [1, {"k": "v"}, []]', True),
    ('domain.items == [1, {"k": "v"}]', False),
    ("domain.tup == [1, 2]", True),
    ('domain.nested == {"l1": {"l2": {"l3": {"n": 5, "s": "deep"}}}}', True),
    ('domain.nested.l1.l2 == {"l3": {"n": 5, "s": "deep"}}', True),
    ('domain.nested.l1.l2.l3 == {"n": 5, "s": "other"}', False),
    ('{"k": "v"} in domain.items', True),
    ('"a" in domain.cfg', True),
    ('"z" in domain.cfg', False),
    ('"li" in domain.name', True),
    ("domain.items == domain.cfg", False),
    ("{} == {}", True),
    # exact integers at the int64 edges and beyond
    ("domain.max == 9223372036854775807", True),
    ("domain.max + 1 == 9223372036854775808", True),
    ("domain.max + 1 > domain.max", True),
    ("domain.max * 2 == 18446744073709551614", True),
    ("domain.min == -9223372036854775808", True),
    ("domain.min - 1 < domain.min", True),
    ("-domain.min == 9223372036854775808", True),
    ("abs(domain.min) == 9223372036854775808", True),
    ("domain.u64 == 18446744073709551615", True),
    ("domain.u64 == 18446744073709551616", False),
    ("domain.u64 < domain.big", True),
    ("domain.big == 2 ** 64", True),
    ("domain.big - 1 == domain.u64", True),
    ("domain.big > domain.max", True),
    ("domain.big == 18446744073709551616.0", True),
    ("domain.u64 == 18446744073709551616.0", False),
    ("domain.huge == 123456789012345678901234567890", True),
    ("domain.huge == 123456789012345678901234567891", False),
    ("domain.huge > 123456789012345678901234567889", True),
    ("domain.nhuge < -123456789012345678901234567889", True),
    ("domain.huge + domain.nhuge == 0", True),
    ("domain.huge % 10 == 0", True),
    ("0x10000000000000000 == domain.big", True),
    ("18_446_744_073_709_551_616 == domain.big", True),
    ("sum([domain.max, 1]) == 9223372036854775808", True),
    ("max(domain.big, 1, domain.max) == domain.big", True),
    ('int("99999999999999999999") == 99999999999999999999', True),
    ("9007199254740993 > domain.f53", True),
    ("9007199254740993 == domain.f53 + 1", False),
    ("domain.nan == domain.nan", False),
    ("domain.inf > domain.huge", True),
    # Python arithmetic
    ("domain.neg % 3 == 2", True),
    ("7 % -3 == -2", True),
    ("7 / 2 == 3.5", True),
    ("2 ** -1 == 0.5", True),
    ("domain.flag == 1", True),
    ("(domain.absent ?? 0) < 1", True),
    ("domain.absent == nil", True),
    ("domain.absent.deeper == nil", True),
    ("domain.raw == nil", False),
    ("len(domain) > 3", True),
    ('"a" in domain.tags', True),
    ('"b" in domain.tags', False),
    ('"a" not in domain.tags', False),
    ("len(domain.tags) == 1", True),
    ('domain.tags == domain.tags', True),
    ("domain.count > 1 and not global.vip", True),
    ("len(domain.items) == 3 or global.vip", True),
]


@pytest.mark.parametrize("condition,expected", TRUE_FALSE, ids=[c for c, _ in TRUE_FALSE])
def test_condition_truth(engine, condition, expected):
    assert engine.execute_workflow(if_flow(condition)) == (("hit",) if expected else ("miss",))


def test_condition_truth_table_is_not_vacuous():
    assert sum(1 for _, e in TRUE_FALSE if e) > 10 and sum(1 for _, e in TRUE_FALSE if not e) > 10


# ---------------------------------------------------------------------------------------------
# Hostile inputs: (id, workflow YAML, exception type, message fragment). Run through
# execute_workflow on STATE; nothing may leak Go wording.
def while_flow(condition: str) -> str:
    quoted = "'" + condition.replace("'", "''") + "'"
    return f"steps:\n  - flux: while\n    condition: {quoted}\n    max_iterations: 3\n    do: [hit]\n"


HOSTILE = [
    # division, modulo, powers
    ("div_zero", if_flow("domain.count / domain.zero > 0"), FluxError, "division by zero"),
    ("div_fzero", if_flow("domain.count / domain.fzero > 0"), FluxError, "division by zero"),
    ("mod_zero", if_flow("domain.count % domain.zero == 0"), FluxError, "integer modulo by zero"),
    ("mod_fzero", if_flow("domain.count % domain.fzero == 0"), FluxError, "float modulo by zero"),
    ("big_mod_zero", if_flow("domain.huge % domain.zero == 0"), FluxError, "integer modulo by zero"),
    ("big_div_zero", if_flow("domain.big / domain.zero == 0"), FluxError, "division by zero"),
    ("while_div_zero", while_flow("domain.count / domain.zero > 0"), FluxError, "division by zero"),
    ("literal_div_zero", if_flow("1 / 0 > 0"), FluxError, "division by zero"),
    ("literal_mod_zero", if_flow("1 % 0 > 0"), FluxError, "integer modulo by zero"),
    ("zero_negative_power", if_flow("domain.zero ** -1 > 0"), FluxError, "0 cannot be raised to a negative power"),
    ("power_too_large", if_flow("2 ** domain.max > 0"), FluxError, "integer power too large"),
    ("fractional_power", if_flow("domain.neg ** 0.5 > 0"), FluxError, "fractional power"),
    ("int_to_float_overflow", if_flow("float(domain.huge ** 20) > 0"), FluxError, "int too large to convert to float"),
    ("float_literal_overflow", if_flow("1e999 > domain.count"), FluxError, "float literal 1e999 is out of range"),
    # type mismatches, None
    ("none_lt", if_flow("domain.absent < 10"), FluxError, "cannot compare None < int"),
    ("none_lt_hint", if_flow("domain.none < 10"), FluxError, "give a default with ??"),
    ("str_lt_int", if_flow("domain.name < 10"), FluxError, "cannot compare str < int"),
    ("dict_lt_dict", if_flow("domain.cfg < domain.cfg"), FluxError, "cannot compare dict < dict"),
    ("big_lt_str", if_flow("domain.big < domain.name"), FluxError, "cannot compare int < str"),
    ("none_plus", if_flow("domain.absent + 1 > 0"), FluxError, "unsupported operand types for +: None and int"),
    ("str_minus", if_flow("domain.name - 1 > 0"), FluxError, "unsupported operand types for -: str and int"),
    ("neg_str", if_flow("-domain.name == 1"), FluxError, "bad operand type for unary -: str"),
    ("in_int", if_flow("1 in domain.count"), FluxError, "`in` needs a list, dict or str on its right, got int"),
    ("in_none", if_flow("1 in domain.absent"), FluxError, "got None"),
    ("bytes_compare", if_flow('domain.raw == "x"'), FluxError, "a bytes value cannot be compared"),
    ("frozenset_compare", if_flow("domain.tags > 1"), FluxError, "cannot compare frozenset > int"),
    ("frozenset_plus", if_flow("domain.tags + 1 > 1"), FluxError, "unsupported operand types for +: frozenset and int"),
    ("intkeys_compare", if_flow("domain.intkeys == 1"), FluxError, "dict with int keys value cannot be compared"),
    ("len_int", if_flow("len(domain.count) > 0"), FluxError, "invalid argument for len (type int)"),
    ("int_of_text", if_flow("int(domain.name) > 0"), FluxError, "invalid literal for int()"),
    ("non_bool_int", if_flow("domain.count"), FluxError, "condition evaluated to 3 (int), not true or false"),
    ("non_bool_dict", if_flow("domain.cfg"), FluxError, "(dict), not true or false"),
    ("non_bool_big", if_flow("domain.big"), FluxError, "18446744073709551616 (int)"),
    ("constant_non_bool", if_flow("1 + 2"), FluxError, "but it is int"),
    ("constant_type_error", if_flow('1 + "x" == 2'), FluxError, "unsupported operand types for +: int and str"),
    # a path below a value that is not a mapping, at every depth and kind
    ("below_int", if_flow("domain.count.x == 1"), FluxError, "domain.count.x: domain.count is an int, not a mapping"),
    ("below_int_deeper", if_flow("domain.count.x.y == 1"), FluxError, "domain.count is an int"),
    ("below_str", if_flow('domain.name.first == "a"'), FluxError, "domain.name is a str, not a mapping"),
    ("below_list", if_flow("domain.items.x == 1"), FluxError, "domain.items is a list, not a mapping"),
    ("below_tuple", if_flow("domain.tup.x == 1"), FluxError, "domain.tup is a tuple, not a mapping"),
    ("below_bool", if_flow("domain.flag.x == 1"), FluxError, "domain.flag is a bool"),
    ("below_none", if_flow("domain.none.x == 1"), FluxError, "domain.none is a NoneType"),
    ("below_bytes", if_flow("domain.raw.x == 1"), FluxError, "domain.raw is a bytes"),
    ("below_big", if_flow("domain.big.x == 1"), FluxError, "domain.big is an int"),
    ("below_float", if_flow("domain.fzero.x == 1"), FluxError, "domain.fzero is a float"),
    ("below_zone_leaf", if_flow("global.limit.x == 1"), FluxError, "global.limit is an int"),
    ("below_depth4", if_flow("domain.nested.l1.l2.l3.n.x == 1"), FluxError, "domain.nested.l1.l2.l3.n is an int"),
    ("below_depth4_str", if_flow("domain.nested.l1.l2.l3.s.x == 1"), FluxError, "l3.s is a str"),
    ("below_in_and", if_flow("domain.count > 0 and domain.count.x == 1"), FluxError,
     "cannot read `x` from a value of type int"),
    ("below_let", if_flow("let c = domain.count; c.x == 1"), FluxError, "cannot read `x` from a value of type int"),
    ("below_bracket", if_flow('domain["count"]["x"] == 1'), FluxError, "domain.count is an int"),
    ("below_while", while_flow("domain.count.x == 1"), FluxError, "domain.count is an int"),
    # zones that the engine does not have
    ("zone_typo", if_flow("domian.total > 1"), FluxError, "unknown zone `domian`"),
    ("zone_typo_hint", if_flow("domian.total > 1"), FluxError, "did you mean `domain`?"),
    ("zone_typo_global", if_flow("(glbal.limit ?? 0) > 1"), FluxError, "did you mean `global`?"),
    ("zone_typo_second", if_flow("domain.count > 1 and domian.total > 1"), FluxError, "unknown zone `domian`"),
    ("zone_unknown_bare", if_flow("xyz > 1"), FluxError, "unknown zone `xyz`"),
    ("zone_typo_while", while_flow("domian.count < 3"), FluxError, "unknown zone `domian`"),
    ("zone_typo_nested",
     "steps:\n  - flux: run\n    steps:\n      - flux: if\n        condition: domain.count > 0\n        then:\n"
     "          - flux: while\n            condition: domian.x < 1\n            do: [hit]\n",
     FluxError, "unknown zone `domian`"),
    # with: values
    ("with_bad_int", "steps:\n  - process: kwargs\n    with: {n: !!int 12x}\n", FluxError, '"12x" is not an integer'),
    ("with_bad_float", "steps:\n  - process: kwargs\n    with: {n: !!float abc}\n", FluxError, '"abc" is not a float'),
    ("with_bad_bool", "steps:\n  - process: kwargs\n    with: {n: !!bool maybe}\n", FluxError, '"maybe" is not a boolean'),
    ("with_float_overflow", "steps:\n  - process: kwargs\n    with: {n: !!float 1" + "0" * 400 + "}\n", FluxError,
     "too large for a float"),
    ("with_custom_tag", "steps:\n  - process: kwargs\n    with: {n: !thing 1}\n", FluxError, "unsupported YAML tag"),
]


@pytest.mark.parametrize("case_id,yaml,exc,fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile(engine, case_id, yaml, exc, fragment):
    version = engine.state.version
    with pytest.raises(exc) as info:
        engine.execute_workflow(yaml)
    text = str(info.value)
    assert fragment in text
    for leak in ("runtime error", "strconv", "big.Int", "interface {}", "int64", "float64", "map[string]",
                 "[]interface", "<nil>", "reflect.", "goroutine", "panic"):
        assert leak not in text, leak
    assert isinstance(info.value, TheusError)
    if isinstance(info.value, FluxError):
        assert info.value.line >= 1 and info.value.col >= 1
        assert "^" in text  # the caret snippet
    assert engine.state.version == version
    assert "hit" not in LOG or case_id.startswith("while")


def test_error_points_at_the_path_inside_the_condition(engine):
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(if_flow("domain.count > 0 and domain.name.x == 1"))
    # the condition starts at col 16 (after the quote); the second path at offset 21
    assert (info.value.line, info.value.col) == (3, 17 + 21)
    with pytest.raises(FluxError) as info:
        engine.execute_workflow(if_flow("domain.count / domain.zero > 0"))
    assert (info.value.line, info.value.col) == (3, 17 + 13)


def test_zone_check_through_validate_and_load(engine):
    wf = Workflow(if_flow("domian.total > 1"))  # parsing alone does not know the engine
    with pytest.raises(FluxError) as info:
        wf.validate(engine)
    assert info.value.code == "unknown_zone"
    assert (info.value.line, info.value.col) == (3, 17)
    with pytest.raises(FluxError):
        engine.load_workflow(if_flow("domian.total > 1"))
    with pytest.raises(FluxError):
        wf.run(engine)
    assert LOG == []


def test_zone_added_by_update_is_known(engine):
    wf = Workflow(if_flow("custom.x == 1"))
    with pytest.raises(FluxError, match="unknown zone `custom`"):
        wf.validate(engine)
    engine.update({"custom": {"x": 1}})
    assert wf.run(engine) == ("hit",)


def test_validate_rejects_a_non_engine():
    wf = Workflow(if_flow("domain.x == 1"))
    for bad in (None, 42, "engine", object()):
        with pytest.raises(ArgumentError, match="engine: expected a TheusEngine"):
            wf.validate(bad)


# ---------------------------------------------------------------------------------------------
# Closed state


def test_condition_on_a_state_closed_during_the_run():
    e = TheusEngine({"domain": {"n": 1}})

    @process(inputs=[], outputs=[])
    def closer(ctx):
        e.close()

    e.register(closer)
    e.register(hit)
    flow = "steps:\n  - closer\n  - flux: if\n    condition: domain.n == 1\n    then: [hit]\n"
    with pytest.raises(ArgumentError) as info:
        e.execute_workflow(flow)
    assert "closed" in str(info.value)
    assert "4:16" in str(info.value)


def test_condition_in_a_loop_on_a_state_closed_during_the_run():
    e = TheusEngine({"domain": {"n": 0}})

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def step_then_close(ctx):
        e.close()

    e.register(step_then_close)
    flow = "steps:\n  - flux: while\n    condition: (domain.n ?? 0) < 5\n    do: [step_then_close]\n"
    with pytest.raises(TheusError) as info:
        e.execute_workflow(flow)
    assert "closed" in str(info.value)


def test_run_on_a_closed_engine(engine):
    wf = engine.load_workflow(if_flow("domain.count == 3"))
    engine.close()
    with pytest.raises(ArgumentError, match="closed"):
        wf.run(engine)


# ---------------------------------------------------------------------------------------------
# with: arguments arrive in YAML order, with exact ints and explicit tags

WITH_VALUES = [
    ("1", 1),
    ("9223372036854775807", I64_MAX),
    ("-9223372036854775808", I64_MIN),
    ("9223372036854775808", 2**63),
    ("-9223372036854775809", I64_MIN - 1),
    ("18446744073709551616", BIG),
    ("123456789012345678901234567890", HUGE),
    ("0x10000000000000000", BIG),
    ("1_000", 1000),
    ("!!float 1", 1.0),
    ("!!float -3", -3.0),
    ("!!float 1.5", 1.5),
    ("!!int 7", 7),
    ("!!str 5", "5"),
    ("!!bool true", True),
    ("'5'", "5"),
    ("~", None),
    ("[1, 9223372036854775808]", [1, 2**63]),
    ("{z: 1, a: 2}", {"z": 1, "a": 2}),
]


@pytest.mark.parametrize("text,expected", WITH_VALUES, ids=[t for t, _ in WITH_VALUES])
def test_with_value(engine, text, expected):
    engine.execute_workflow(f"steps:\n  - process: kwargs\n    with: {{v: {text}}}\n")
    (items,) = LOG
    assert items == [("v", expected)]
    assert type(items[0][1]) is type(expected)


def test_with_keeps_yaml_order_end_to_end(engine):
    engine.execute_workflow(
        "steps:\n  - process: kwargs\n    with:\n      zeta: 1\n      alpha: {y: 1, b: 2, a: 3}\n"
        "      mid: [ {k2: 1, k1: 2} ]\n      beta: !!float 2\n"
    )
    (items,) = LOG
    assert [k for k, _ in items] == ["zeta", "alpha", "mid", "beta"]
    assert list(items[1][1]) == ["y", "b", "a"]
    assert list(items[2][1][0]) == ["k2", "k1"]
    assert items[3][1] == 2.0 and isinstance(items[3][1], float)


def test_with_many_keys_keep_order(engine):
    keys = [f"k{(i * 7919) % 1000:03d}" for i in range(200)]
    body = "".join(f"      {k}: {i}\n" for i, k in enumerate(keys))
    engine.execute_workflow("steps:\n  - process: kwargs\n    with:\n" + body)
    (items,) = LOG
    assert [k for k, _ in items] == keys


# ---------------------------------------------------------------------------------------------
# Handles and arguments of the core's Flux entry points


def _handles(engine):
    wf = engine.load_workflow("steps: [hit]\n")
    wf.run(engine)
    return wf, engine.last_run


BAD_HANDLES = [0, -1, 1, 2**40, 2**62, 2**64, 2**100, True, False, None, "1", 1.0, [1]]


@pytest.mark.parametrize("bad", BAD_HANDLES, ids=[repr(b) for b in BAD_HANDLES])
@pytest.mark.parametrize("entry", ["flux_trace", "flux_check", "flux_run"])
def test_garbage_handles_are_argument_errors(engine, entry, bad):
    args = {
        "flux_trace": (bad,),
        "flux_check": (bad, (), None),
        "flux_run": (bad, engine._state._h, engine.execute, 0, [], {}, None, None, None),
    }[entry]
    with pytest.raises(ArgumentError, match="expected a theus handle"):
        getattr(_core, entry)(*args)
    assert engine.state["domain.count"] == 3


def test_closing_a_workflow_handle_leaves_the_state_alive(engine):
    wf, run = _handles(engine)
    wf._h.close()
    run._h.close()
    assert engine.state["domain.count"] == 3  # the state is still alive
    assert engine.execute_workflow(if_flow("domain.count == 3")) == ("hit",)


def test_a_state_or_snapshot_handle_is_not_a_workflow(engine):
    snap = engine.state
    for h in (engine._state._h, snap._h):
        with pytest.raises(ArgumentError, match="expected a theus handle of a workflow"):
            _core.flux_check(h, (), None)
    assert snap["domain.count"] == 3


def test_workflow_and_trace_handles_of_the_wrong_kind(engine):
    wf, run = _handles(engine)
    with pytest.raises(ArgumentError, match="expected a theus handle of a run trace"):
        _core.flux_trace(wf._h)  # a workflow is not a trace
    with pytest.raises(ArgumentError, match="expected a theus handle of a workflow"):
        _core.flux_check(run._h, (), None)  # a trace is not a workflow
    with pytest.raises(ArgumentError, match="expected a theus handle of a state"):
        _core.flux_run(wf._h, wf._h, engine.execute, 0, [], {}, None, None, None)  # a workflow is not a state
    assert run.executed == ("hit",)


def test_closed_handle_is_refused_not_reused(engine):
    wf = engine.load_workflow("steps: [hit]\n")
    h = wf._h
    h.close()
    for call in (lambda: _core.flux_check(h, (), None),
                 lambda: _core.flux_run(h, engine._state._h, engine.execute, 0, [], {}, None, None, None)):
        with pytest.raises(ArgumentError, match="workflow was released"):
            call()


BAD_BUDGETS = [(-1, "got -1"), (True, "got bool"), (1.5, "got float"), ("10", "got str"), (None, "got NoneType"),
               (2**70, "beyond 64 bits"), (2**41, "from 0 to")]


@pytest.mark.parametrize("budget,fragment", BAD_BUDGETS, ids=[repr(b) for b, _ in BAD_BUDGETS])
def test_budget_is_validated(engine, budget, fragment):
    with pytest.raises(ArgumentError) as info:
        engine.execute_workflow("steps: [hit]\n", budget=budget)
    assert "budget" in str(info.value) and fragment in str(info.value)
    assert LOG == []


@pytest.mark.parametrize("names,zones", [(None, None), ((1,), None), (("hit",), (1,)), (("hit",), "domain"), ("a", None), (("hit",), ["domain"])])
def test_check_arguments_are_validated(engine, names, zones):
    wf = engine.load_workflow("steps: [hit]\n")
    with pytest.raises(ArgumentError, match="expected a tuple of str"):
        _core.flux_check(wf._h, names, zones)


# ---------------------------------------------------------------------------------------------
# Values the conditions read: numpy kinds, deep data, threads


def test_numpy_values_in_conditions():
    np = pytest.importorskip("numpy")
    e = TheusEngine({"domain": {"i": np.int64(I64_MAX), "f": np.float32(1.5), "arr": np.arange(3), "u": np.uint64(2**64 - 1)}})
    e.register(hit)
    e.register(miss)
    assert e.execute_workflow(if_flow("domain.i + 1 == 9223372036854775808")) == ("hit",)
    assert e.execute_workflow(if_flow("domain.f == 1.5")) == ("hit",)
    assert e.execute_workflow(if_flow("domain.u == 18446744073709551615")) == ("hit",)
    assert e.execute_workflow(if_flow("domain.arr != nil")) == ("hit",)
    with pytest.raises(FluxError, match="a numpy.ndarray value cannot be compared"):
        e.execute_workflow(if_flow("domain.arr == 1"))
    with pytest.raises(FluxError, match="domain.arr is a numpy.ndarray, not a mapping"):
        e.execute_workflow(if_flow("domain.arr.shape == 1"))


def test_deep_list_in_a_condition_is_an_error_not_a_crash():
    code = (
        "from theus import TheusEngine, process, TheusError\n"
        "deep = []\n"
        "for _ in range(1500):\n"
        "    deep = [deep]\n"
        "try:\n"
        "    e = TheusEngine({'domain': {'d': deep}})\n"
        "except (TheusError, RecursionError) as exc:\n"
        "    print('refused at commit', type(exc).__name__)\n"
        "    raise SystemExit(0)\n"
        "@process(inputs=[], outputs=[])\n"
        "def hit(ctx): pass\n"
        "e.register(hit)\n"
        "try:\n"
        "    e.execute_workflow(\"steps:\\n  - flux: if\\n    condition: domain.d != nil\\n    then: [hit]\\n\")\n"
        "except TheusError as exc:\n"
        "    assert 'nested deeper' in str(exc), exc\n"
        "    print('refused in condition')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "refused" in r.stdout


def test_conditions_from_threads_agree(engine):
    flows = [(if_flow(c), ("hit",) if t else ("miss",)) for c, t in TRUE_FALSE[:30]]
    errors: list = []

    def worker():
        try:
            for _ in range(5):
                for text, want in flows:
                    got = engine.execute_workflow(text)
                    if got != want:
                        errors.append((text, got, want))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(LOG) == 4 * 5 * len(flows)


def test_unusual_str_and_int_values():
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    e = TheusEngine({"domain": {"s": "\ud800", "k": {"\ud800": 1}, "lvl": Level.HIGH, "ok": "é"}})
    e.register(hit)
    e.register(miss)
    assert e.execute_workflow(if_flow('domain.s == "x"')) == ("miss",)
    assert e.execute_workflow(if_flow('domain.s != ""')) == ("hit",)
    assert e.execute_workflow(if_flow("len(domain.k) == 1")) == ("hit",)
    assert e.execute_workflow(if_flow("domain.lvl == 3 and domain.lvl > 2")) == ("hit",)
    assert e.execute_workflow(if_flow('domain.ok == "é" and domain.ok > "e"')) == ("hit",)


@pytest.mark.parametrize("runner,sink,fragment", [(None, [], "must be callable"), (42, [], "must be callable"),
                                                  (print, None, "must be a list"), (print, (), "must be a list"),
                                                  (print, {}, "must be a list")])
def test_run_arguments_are_validated(engine, runner, sink, fragment):
    wf = engine.load_workflow("steps: [hit]\n")
    with pytest.raises(ArgumentError, match=fragment):
        _core.flux_run(wf._h, engine._state._h, runner, 0, sink, {}, None, None, None)
    assert LOG == []

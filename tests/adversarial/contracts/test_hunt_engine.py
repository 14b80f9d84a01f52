"""Output mapping and absent declared paths, depths 1-4."""
import pytest

from theus import ContractViolationError, TheusEngine, process


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_absent_declared_leaf_reads_the_default(depth):
    keys = [f"k{i}" for i in range(depth)]
    path = "domain." + ".".join(keys)
    e = TheusEngine({"domain": {}})

    @process(inputs=[path], outputs=["domain.out"])
    def read(ctx):
        view = ctx.domain
        for k in keys[:-1]:
            view = getattr(view, k)
        return [view.get(keys[-1], 0), "domain" in ctx]

    e.register(read)
    e.execute(read)
    assert e.state.to_dict()["domain"]["out"] == [0, True]


RETURNS = [
    ("tuple too long", ["domain.a", "domain.b"], (1, 2, 3), "returned 3 values for 2 outputs"),
    ("tuple too short", ["domain.a", "domain.b"], (1,), "returned 1 values for 2 outputs"),
    ("value without outputs", [], 5, "declares no outputs"),
]


@pytest.mark.parametrize("outputs, result, fragment", [r[1:] for r in RETURNS], ids=[r[0] for r in RETURNS])
def test_bad_return_shapes_do_not_commit(outputs, result, fragment):
    e = TheusEngine({"domain": {"x": 1}})

    @process(outputs=outputs)
    def p(ctx):
        return result

    e.register(p)
    with pytest.raises(ContractViolationError, match=fragment):
        e.execute(p)
    assert e.state.to_dict() == {"domain": {"x": 1}}
    assert e.state.version == 0


def test_generator_function_is_refused_at_decoration():
    def g(ctx):
        yield 1

    with pytest.raises(ContractViolationError, match="generator"):
        process(outputs=["domain.a"])(g)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"zz": 1}, "zz"),
    ({"n": 1, "zz": 2}, "zz"),
    ({}, None),
])
def test_execute_keyword_arguments_must_fit_the_function(kwargs, fragment):
    from theus import ContractViolationError, TheusEngine, process

    engine = TheusEngine({"domain": {"x": 0}})

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def add(ctx, n=1):
        return ctx.domain.x + n

    engine.register(add)
    if fragment is None:
        assert engine.execute(add, **kwargs) == 1
        return
    with pytest.raises(ContractViolationError, match=fragment):
        engine.execute(add, **kwargs)
    assert engine.state.version == 0  # nothing ran, nothing committed


def test_a_missing_required_keyword_argument_is_named():
    from theus import ContractViolationError, TheusEngine, process

    engine = TheusEngine({"domain": {"x": 0}})

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def add(ctx, *, n):
        return ctx.domain.x + n

    engine.register(add)
    with pytest.raises(ContractViolationError, match="missing a required argument: 'n'"):
        engine.execute(add, m=1)
    assert engine.execute(add, n=2) == 2

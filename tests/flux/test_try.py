"""flux: try with do:/except:/errors:, the caught error in conditions and steps."""

from __future__ import annotations

import pytest

from theus import FluxError, TheusEngine, process
from theus.workflow import Workflow


class PaymentDeclined(ValueError):
    pass


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"charged": 0, "log": []}})

    @process(inputs=["domain.charged"], outputs=["domain.charged"])
    def charge(ctx, amount=1):
        if amount > 100:
            raise PaymentDeclined(f"declined {amount}")
        if amount < 0:
            raise KeyboardInterrupt
        return ctx.domain.charged + amount

    @process(inputs=["domain.log"], outputs=["domain.log"])
    def note(ctx, error=None):
        return [*ctx.domain.log, None if error is None else dict(error)]

    @process(inputs=["domain.log"], outputs=["domain.log"])
    def plain_note(ctx):
        return [*ctx.domain.log, "plain"]

    for p in (charge, note, plain_note):
        e.register(p)
    return e


def flow(errors: str = "", amount_arg: bool = True) -> str:
    return ("args: {amount: 1}\nsteps:\n  - flux: try\n    do:\n      - process: charge\n"
            "        with: {amount: \"${args.amount}\"}\n      - plain_note\n"
            "    except: [note]\n" + (f"    errors: {errors}\n" if errors else ""))


def test_do_runs_alone_when_nothing_fails(engine):
    run = engine.execute_workflow(flow(), {"amount": 5})
    assert run.steps == ("charge", "plain_note")
    assert engine.state.domain.log == ["plain"] and engine.state.domain.charged == 5


@pytest.mark.parametrize("errors", ["", "[PaymentDeclined]", "[ValueError]", "[Exception]", "[KeyError, ValueError]", "ValueError"])
def test_a_matching_failure_runs_except_with_the_error(engine, errors):
    run = engine.execute_workflow(flow(errors), {"amount": 500})
    assert run.status == "completed"
    assert run.steps == ("charge", "note")  # plain_note after the failure did not run
    assert engine.state.domain.log == [{"type": "PaymentDeclined", "message": "declined 500", "step": "charge"}]
    assert engine.state.domain.charged == 0  # the failed step committed nothing
    kinds = [(t.kind, t.step, t.outcome) for t in run.trace]
    assert ("except", "charge", "PaymentDeclined") in kinds


def test_a_failure_of_another_class_propagates(engine):
    with pytest.raises(PaymentDeclined) as info:
        engine.execute_workflow(flow("[KeyError, TimeoutError]"), {"amount": 500})
    assert info.value.run.status == "failed"
    assert engine.state.domain.log == []


def test_keyboard_interrupt_is_never_caught(engine):
    with pytest.raises(KeyboardInterrupt):
        engine.execute_workflow(flow(), {"amount": -1})


def test_conditions_read_the_error_inside_except(engine):
    wf = """
args: [amount]
steps:
  - flux: try
    do:
      - process: charge
        with: {amount: "${args.amount}"}
    except:
      - flux: if
        condition: error.type == "PaymentDeclined" and error.step == "charge" and error.message == "declined 200"
        then: [plain_note]
        else: [note]
"""
    assert engine.execute_workflow(wf, {"amount": 200}).steps == ("charge", "plain_note")
    assert engine.execute_workflow(wf, {"amount": 300}).steps == ("charge", "note")


def test_nested_try_restores_the_outer_error(engine):
    wf = """
steps:
  - flux: try
    do:
      - process: charge
        with: {amount: 101}
    except:
      - flux: try
        do:
          - process: charge
            with: {amount: 102}
        except: [note]
      - note
"""
    run = engine.execute_workflow(wf)
    assert run.steps == ("charge", "charge", "note", "note")
    assert [e["message"] for e in engine.state.domain.log] == ["declined 102", "declined 101"]


def test_a_failing_except_fails_the_run(engine):
    wf = "steps:\n  - flux: try\n    do: [{process: charge, with: {amount: 101}}]\n    except: [{process: charge, with: {amount: 102}}]\n"
    with pytest.raises(PaymentDeclined, match="declined 102"):
        engine.execute_workflow(wf)


def test_a_budget_error_is_not_caught(engine):
    wf = "steps:\n  - flux: try\n    do: [plain_note, plain_note, plain_note]\n    except: [note]\n"
    with pytest.raises(FluxError, match="budget"):
        engine.execute_workflow(wf, budget=2)


@pytest.mark.parametrize("yaml, match", [
    ("steps:\n  - flux: try\n    except: [a]\n", r"try step is missing `do`"),
    ("steps:\n  - flux: try\n    do: [a]\n", r"try step is missing `except`"),
    ("steps:\n  - flux: try\n    do: []\n    except: [a]\n", r"empty `do`"),
    ("steps:\n  - flux: try\n    do: [a]\n    except: [a]\n    errors: [1]\n", r"`errors` must be an exception class name"),
    ("steps:\n  - flux: try\n    do: [a]\n    except: [a]\n    catch: [b]\n", r"unknown key `catch` in a try step"),
    ("steps:\n  - flux: if\n    condition: error.type == 'x'\n    then: [a]\n", r"exists only inside the `except:`"),
    ("steps:\n  - flux: try\n    do: [a]\n    except:\n      - flux: if\n        condition: error.kind == 'x'\n        then: [a]\n",
     r"error.kind; the caught error has type, message, step"),
    ("steps:\n  - flux: tri\n", r"did you mean `try`"),
])
def test_bad_try_steps_fail_at_load_time(yaml, match):
    with pytest.raises(FluxError, match=match):
        Workflow(yaml)

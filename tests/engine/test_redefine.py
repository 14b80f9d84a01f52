"""A process redefined in a notebook cell (or a script's __main__) replaces its registration."""

from __future__ import annotations

import logging

from theus import TheusEngine

CELL_1 = '''
from theus import TheusEngine, process

@process(outputs=["domain.answer"])
def answer(ctx):
    return "old"

engine = TheusEngine({"domain": {}})
engine.register(answer)
'''

CELL_2 = '''
@process(outputs=["domain.answer"])
def answer(ctx):
    return "new"
'''


def run_cells(*cells: str) -> dict:
    ns: dict = {"__name__": "__main__"}
    for cell in cells:
        exec(compile(cell, "<cell>", "exec"), ns)
    return ns


def test_running_a_redefining_cell_replaces_the_registration(caplog):
    with caplog.at_level(logging.INFO, logger="theus.engine"):
        ns = run_cells(CELL_1, CELL_2)
    engine: TheusEngine = ns["engine"]
    assert engine.execute("answer") == "new"
    assert engine.execute_workflow("steps: [answer]\n").steps == ("answer",)
    assert engine.state.domain.answer == "new"
    assert engine.processes["answer"].fn is ns["answer"]
    assert any("redefined in __main__" in r.getMessage() for r in caplog.records)


def test_other_modules_and_other_names_are_left_alone():
    ns = run_cells(CELL_1)
    ns2 = run_cells("from theus import process\n" + CELL_2.replace("def answer", "def other"))
    engine = ns["engine"]
    assert engine.execute("answer") == "old"
    assert "other" not in engine.processes and ns2["other"]


def test_a_redefinition_that_no_longer_fits_the_engine_is_not_registered(caplog):
    bad = CELL_2.replace('outputs=["domain.answer"]', 'outputs=["nozone.answer"]')
    with caplog.at_level(logging.WARNING, logger="theus.engine"):
        ns = run_cells(CELL_1, bad)
    assert ns["engine"].execute("answer") == "old"
    assert any("redefined but not re-registered" in r.getMessage() for r in caplog.records)

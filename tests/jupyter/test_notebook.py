"""theus in a Jupyter kernel: cells re-run, registrations replaced, an interrupt stops a long
workflow and the kernel survives."""

from __future__ import annotations

import threading

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.manager import KernelManager  # noqa: E402  (installed with nbclient)

SETUP = """
import theus
from theus import TheusEngine, process
engine = TheusEngine({"domain": {"counter": 0}})
"""

DEFINE = """
@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step(ctx):
    return ctx.domain.counter + STEP
engine.register(step)
"""

LONG = """
import time
@process(inputs=["domain.counter"], outputs=["domain.counter"])
def slow(ctx):
    time.sleep(0.001)
    return ctx.domain.counter + 1
engine.register(slow)
try:
    engine.execute_workflow('''
steps:
  - flux: while
    condition: domain.counter < 10000000
    max_iterations: 100000000
    do: [slow]
''', budget=1_000_000_000)
except KeyboardInterrupt:
    print("interrupted at", engine.state.domain.counter, "version", engine.state.version)
"""


def _kernel() -> KernelManager:
    return KernelManager(kernel_name="theus-test")


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def test_cells_rerun_and_registrations_replace():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell("STEP = 1\n" + DEFINE),
        nbformat.v4.new_code_cell("engine.execute('step'); print(engine.state.domain.counter)"),
        nbformat.v4.new_code_cell("STEP = 10\n" + DEFINE),  # the same cell edited and re-run
        nbformat.v4.new_code_cell("engine.execute('step'); print(engine.state.domain.counter)"),
    ]
    client = nbclient.NotebookClient(nb, km=_kernel(), timeout=120)
    client.execute()
    assert _stdout(nb.cells[2]).strip() == "1"
    assert _stdout(nb.cells[4]).strip() == "11"


def test_interrupt_stops_a_long_workflow_and_the_kernel_survives():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(LONG),
        nbformat.v4.new_code_cell("print('alive', engine.state.domain.counter == engine.state.version)"),
    ]
    km = _kernel()
    client = nbclient.NotebookClient(nb, km=km, timeout=120)
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        interrupter = threading.Timer(1.5, km.interrupt_kernel)
        interrupter.start()
        client.execute_cell(nb.cells[1], 1)  # the client's timeout fails the test if it hangs
        interrupter.join()
        client.execute_cell(nb.cells[2], 2)
    out = _stdout(nb.cells[1])
    assert out.startswith("interrupted at"), out
    counter, version = int(out.split()[2]), int(out.split()[4])
    assert 0 < counter == version
    assert _stdout(nb.cells[2]).strip() == "alive True"

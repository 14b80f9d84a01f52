"""examples/tour.ipynb runs top to bottom in a real kernel, and its outputs are the views a
user should see (HTML trees, workflow pictures, timelines, tables)."""

from __future__ import annotations

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TOUR = pathlib.Path(__file__).resolve().parents[2] / "examples" / "tour.ipynb"


@pytest.fixture
def executed(tmp_path):
    nb = nbformat.read(TOUR, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="theus-test", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def html_of(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if o.output_type == "execute_result")


def test_the_tour_runs_and_shows_the_views(executed):
    for cell in executed:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    state, orders, picture, waiting, done, svg, events, history, diff, domain = executed
    assert "theus.Snapshot version 0" in html_of(state) and "shape=(480, 640)" in html_of(state)
    assert "reserved" in html_of(orders) and "<details" in html_of(orders)
    assert "<svg" in html_of(picture) and "wait for approval" in html_of(picture)
    assert "waiting for &#x27;approval&#x27;" in html_of(waiting)
    assert "completed" in html_of(done) and "resumed" in html_of(done)
    assert any("image/svg+xml" in o.get("data", {}) for o in svg.outputs)
    assert "map" in events.outputs[0]["data"]["text/plain"] and "run_finished" in events.outputs[0]["data"]["text/plain"]
    assert "theus history" in html_of(history) and "reserve" in html_of(history)
    assert "theus diff" in html_of(diff) and "domain.orders.o1.status" in html_of(diff)
    assert "stock" in html_of(domain)

"""Conflicts only on the same child: disjoint inserts/deletes from threads and stale CAS."""
import threading

import pytest

from theus import TheusEngine, TransactionError


def test_disjoint_inserts_from_threads_never_conflict():
    e = TheusEngine({"domain": {"users": {}}})
    errors = []

    def worker(t):
        for i in range(100):
            v = e.state.version
            try:
                e.compare_and_swap(v, {f"domain.users.t{t}_{i}": i})
            except TransactionError as x:  # a stale version on a disjoint key must not conflict
                errors.append(x)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(e.state.to_dict()["domain"]["users"]) == 400


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_stale_insert_of_same_new_child_conflicts_and_disjoint_does_not(depth):
    prefix = "domain." + ".".join(f"n{i}" for i in range(depth))
    base = {}
    cur = base
    for i in range(depth):
        cur[f"n{i}"] = {}
        cur = cur[f"n{i}"]
    e = TheusEngine({"domain": base})
    v = e.state.version
    e.compare_and_swap(v, {f"{prefix}.a": 1})
    assert e.compare_and_swap(v, {f"{prefix}.b": 2}) == v + 2
    with pytest.raises(TransactionError):
        e.compare_and_swap(v, {f"{prefix}.a": 3})
    leaf = e.state.to_dict()["domain"]
    for i in range(depth):
        leaf = leaf[f"n{i}"]
    assert leaf == {"a": 1, "b": 2}

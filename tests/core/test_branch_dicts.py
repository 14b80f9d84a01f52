"""The dicts theus builds for branches: keys interned, and a replaced branch's dict carried to
its copy by the commit (changed in place when no view holds it, copied when one does), so
whole-branch reads after a change read the right data in the right order, views of older
versions keep showing theirs, and replaced values are still released inside the commit."""

from __future__ import annotations

import gc
import random
import sys
import weakref

import theus
from theus import State


class Payload:
    def __init__(self, n: int) -> None:
        self.n = n


def test_branch_keys_are_interned():
    s = State({"domain": {"alpha": 1, "beta": {"gamma": 2}}})
    s.update({"domain.alpha": 3})
    fd = s.get("domain")
    for key in list(fd) + list(fd["beta"]):
        assert sys.intern(key) is key
    assert fd["alpha"] == 3 and fd.alpha == 3 and "beta" in fd


def test_whole_branch_reads_follow_every_change_in_order():
    rng = random.Random(7)
    for _ in range(60):
        model = {f"k{i}": i for i in range(6)}
        s = State({"domain": dict(model), "other": {"x": 0}})
        held = []
        for step in range(40):
            key = f"k{rng.randrange(9)}"
            if key in model and rng.random() < 0.25:
                s.update({f"domain.{key}": theus.DELETE})
                del model[key]
            else:
                value = rng.choice([step, [step, step], {"a": step, "b": {"c": step}}, "s"])
                s.update({f"domain.{key}": value})
                model[key] = value
            if rng.random() < 0.2 and isinstance(model.get("k1"), dict):
                s.update({"domain.k1.b.c": -step})  # below a branch written earlier
                model["k1"]["b"]["c"] = -step
            if rng.random() < 0.7:
                fd = s.get("domain")
                assert list(fd.to_dict().items()) == list(model.items())
                whole = s.snapshot()
                assert whole.to_dict() == {"domain": model, "other": {"x": 0}}
                whole.release()
            if rng.random() < 0.3:  # a view held across later commits
                held.append((s.get("domain"), s.get("domain").to_dict()))
            if held and rng.random() < 0.3:
                view, then = held.pop(rng.randrange(len(held)))
                assert list(view.to_dict().items()) == list(then.items())
        for view, then in held:
            assert list(view.to_dict().items()) == list(then.items())
        assert s.stats()["pending_release"] == 0


def test_a_view_held_across_the_commit_keeps_its_version():
    s = State({"domain": {"a": 1, "b": 2}})
    before = s.get("domain")
    s.update({"domain.a": 10, "domain.c": 3})
    after = s.get("domain")
    assert dict(before) == {"a": 1, "b": 2}
    assert list(after.items()) == [("a", 10), ("b", 2), ("c", 3)]


def test_a_replaced_value_of_a_read_branch_is_released_inside_the_commit():
    for hold_view in (False, True):
        s = State({"domain": {"p": Payload(1), "x": 1}})
        view = s.get("domain")  # the branch's dict exists: the commits below carry it
        obj = Payload(2)
        ref = weakref.ref(obj)
        s.update({"domain.p": obj})
        del obj
        assert s.get("domain")["p"].n == 2
        if not hold_view:
            del view
        assert ref() is not None  # the committed Payload(2) is alive while it is the head's
        s.update({"domain.p": Payload(3)})  # replaces it
        gc.collect()
        assert ref() is None, f"hold_view={hold_view}: the replaced value is still alive"
        assert s.get("domain")["p"].n == 3


def test_dropping_an_old_view_frees_the_values_only_it_showed():
    s = State({"domain": {"p": Payload(1), "x": 1}})
    p = Payload(2)
    ref = weakref.ref(p)
    s.update({"domain.p": p})
    del p
    old = s.get("domain")  # shows Payload(2)
    s.update({"domain.p": Payload(3)})
    assert old["p"].n == 2
    del old
    gc.collect()
    assert ref() is None


def test_branch_dicts_stay_out_of_the_collectors_reach():
    marker = "a-unique-string-value-" + str(id(object()))
    s = State({"domain": {"v": marker, "lst": [1]}})
    s.get("domain")
    s.update({"domain.lst": [1, 2, 3]})  # a tracked container goes into the carried dict
    assert s.get("domain")["v"] is marker
    holders = [r for r in gc.get_referrers(marker) if isinstance(r, dict) and r.get("v") is marker]
    assert holders == []


def test_to_dict_is_a_deep_independent_copy_in_order():
    s = State({"domain": {"z": 1, "a": [1, {"b": 2}], "m": {"n": (1, [2])}, "s": "x", "f": 1.5, "none": None}})
    s.update({"domain.z": 2})
    fd = s.get("domain")
    out = fd.to_dict()
    assert list(out) == ["z", "a", "m", "s", "f", "none"]
    assert out == {"z": 2, "a": [1, {"b": 2}], "m": {"n": (1, [2])}, "s": "x", "f": 1.5, "none": None}
    out["a"].append(3)
    out["a"][1]["b"] = 9
    out["m"]["n"][1].append(4)
    out["new"] = 1
    again = fd.to_dict()
    assert again["a"] == [1, {"b": 2}] and again["m"] == {"n": (1, [2])} and "new" not in again
    assert type(out["a"]) is list and type(out["m"]) is dict


def test_to_dict_of_a_leaf_dict_with_other_keys():
    s = State({"domain": {"t": {(1, 2): [1], 3: "x"}}})  # non-str keys: the dict is one leaf
    got = s.get("domain.t").to_dict()
    assert got == {(1, 2): [1], 3: "x"}
    got[(1, 2)].append(2)
    assert s.get("domain.t").to_dict() == {(1, 2): [1], 3: "x"}



def test_to_dict_of_an_all_scalar_branch_follows_every_change():
    # the scan of an all-scalar dict is remembered per unchanged dict: a branch dict that a
    # commit changes in place (no view holds it) or replaces is never copied from an old scan
    model = {f"k{i}": i for i in range(50)}
    s = State({"domain": dict(model)})
    rng = random.Random(7)
    for i in range(60):
        fd = s.get("domain")
        first = fd.to_dict()
        assert first == model and list(first) == list(model)
        again = fd.to_dict()
        assert again == model and again is not first
        again["k0"] = "mine"
        assert fd["k0"] == model["k0"]
        if i % 2:
            del fd  # no view holds the branch dict: the next commit may change it in place
        key = f"k{rng.randrange(50)}"
        value = [i] if i % 7 == 0 else i * 1000
        s.update({f"domain.{key}": value})
        model[key] = value
        if i % 7 == 0:
            assert s.get("domain").to_dict()[key] is not s.get("domain").to_dict()[key]

"""The updates dict of a commit is read in one pass that classifies plain values on the way:
user code that runs while a value converts (a key's __hash__ inside a dict leaf) and empties
or grows the updates dict never crashes the interpreter, and a failed commit leaves the state
unchanged. Each case runs in a child interpreter, so a crash fails the case instead of the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import gc, sys
    import theus

    case = sys.argv[1]
    s = theus.State({"domain": {"a": 1}})
    updates = {}

    armed = False

    class Evil:
        # an int-keyed dict holding this is a leaf: copying it hashes the key (user code)
        def __hash__(self):
            if not armed:
                return 7
            if case == "clear":
                updates.clear()
            elif case == "grow":
                updates["domain.late"] = 5
            elif case == "raise":
                raise ValueError("hash refused")
            elif case == "clear_raise":  # the error names a key only the cleared dict held
                updates.clear()
                gc.collect()
                raise ValueError("hash refused")
            gc.collect()
            return 7
        def __eq__(self, other):
            return self is other

    updates[f"domain.{'x' * 3}"] = {1: "one", Evil(): 2}
    updates["".join(["domain.", "b"])] = 3
    armed = True
    try:
        v = s.compare_and_swap(0, updates)
        outcome = f"committed {v}"
    except Exception as e:
        outcome = f"raised {type(e).__name__}"
    snap = s.snapshot()
    print(outcome, snap.version, sorted(snap.domain.keys()))
    """
)


def run(case: str) -> str:
    proc = subprocess.run([sys.executable, "-c", CHILD, case], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_plain_walk_commits_every_entry() -> None:
    assert run("plain") == "committed 1 1 ['a', 'b', 'xxx']"


def test_user_code_that_empties_the_updates_mid_walk_commits_what_was_read() -> None:
    # the key being converted stays alive; the entries removed before they were read are not written
    assert run("clear") == "committed 1 1 ['a', 'xxx']"


def test_user_code_that_grows_the_updates_mid_walk_commits_the_new_entry_too() -> None:
    assert run("grow") == "committed 1 1 ['a', 'b', 'late', 'xxx']"


@pytest.mark.parametrize("case", ["raise", "clear_raise"])
def test_a_failing_conversion_leaves_the_state_unchanged(case: str) -> None:
    assert run(case) == "raised ValueError 0 ['a']"


def test_a_failed_dict_conversion_drops_the_copies_it_already_made() -> None:
    # values of a dict are classified in a batch before the nested dicts convert: when a nested
    # dict fails, the copies made for its later siblings are dropped, not leaked
    import gc

    from theus import ArgumentError, State

    marker = object()
    held = [marker] * 3
    before = sys.getrefcount(marker)
    for _ in range(50):
        try:
            State({"domain": {"a": {"bad": (i for i in [])}, "b": [marker, marker], "c": (marker,)}})
        except ArgumentError as e:
            assert "domain.a.bad" in str(e)
        else:
            raise AssertionError("the generator was stored")
    gc.collect()
    assert sys.getrefcount(marker) == before
    assert held


def test_a_refused_path_drops_the_copy_of_its_value() -> None:
    # plain values are copied while the updates are read; a path refused after that copy
    # must not keep a reference to the value
    from theus import State, TheusError

    s = State({"domain": {"a": 1}})
    value = 10**30  # an int nobody else holds
    before = sys.getrefcount(value)
    for bad in ("domain..a", "", ".domain", "domain."):
        for _ in range(20):
            try:
                s.compare_and_swap(0, {bad: value})
            except TheusError:
                continue
            raise AssertionError(f"{bad!r} was accepted")
    assert sys.getrefcount(value) == before
    assert s.version == 0

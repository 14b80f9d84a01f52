"""`python -m theus.demo`: a short tour of theus on its embedded default state, printing what it
does at each step."""

from __future__ import annotations

import threading

from . import State, TransactionError

DEFAULT_CONTEXT = {
    "domain": {"counter": 0, "orders": [], "user": {"name": "ada", "vip": True}},
    "global": {"limit": 5},
}


def main() -> None:
    state = State(DEFAULT_CONTEXT, history=2)
    print(f"state at version {state.version}: counter={state.get('domain.counter')}")

    v = state.compare_and_swap(0, {"domain.counter": 1, "domain.orders": [{"id": 1}]}, author="demo")
    print(f"committed version {v}: counter={state.get('domain.counter')}, orders={state.get('domain.orders')}")

    try:
        state.compare_and_swap(0, {"domain.counter": 99})
    except TransactionError as e:
        print(f"stale write rejected: expected v{e.expected_version}, found v{e.actual_version}, conflicts {e.conflicts}")

    snap = state.snapshot()
    lock = threading.Lock()
    done = []

    def worker() -> None:
        for _ in range(250):
            while True:
                with state.snapshot() as s:
                    try:
                        state.compare_and_swap(s.version, {"domain.counter": s["domain.counter"] + 1})
                        break
                    except TransactionError:
                        continue
        with lock:
            done.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"4 threads x 250 increments: counter={state.get('domain.counter')} at version {state.version}")
    print(f"a snapshot taken earlier still reads counter={snap.domain.counter} (version {snap.version})")
    snap.release()

    for rec in state.history()[:2]:
        print(f"history: v{rec.version} by {rec.process or '-'} changed {', '.join(rec.paths)}")
    state.close()


if __name__ == "__main__":
    main()

"""KeyboardInterrupt (Ctrl-C, SIGINT) releases held claims."""

import signal
import time

import pytest

import claimsh
from conftest import python_worker

# The worker prints "holding <key>" once inside the item, then works for a minute.
ITEM = """
import sys, time, claimsh
ledger = claimsh.Ledger(sys.argv[1], host="ctrl-c-node")
with ledger.item("k") as won:
    print("holding k" if won else "lost", flush=True)
    time.sleep(60)
"""

LOOP = """
import sys, time, claimsh
ledger = claimsh.Ledger(sys.argv[1], host="ctrl-c-node")
for k in ledger.claimed([f"k{i}" for i in range(50)]):
    if k.endswith("7"):
        print("holding", k, flush=True)
        time.sleep(60)
"""

CLAIM = """
import sys, time, claimsh
ledger = claimsh.Ledger(sys.argv[1], host="ctrl-c-node")
assert ledger.claim("k")
print("holding k", flush=True)
time.sleep(60)
"""

WAITING = """
import sys, time, claimsh
ledger = claimsh.Ledger(sys.argv[1], lease=60, host="ctrl-c-node")
print("waiting", flush=True)
for k in ledger.claimed(["a", "b"]):
    pass
"""


def interrupt(code, state):
    worker = python_worker(code, state)
    line = worker.stdout.readline().split()
    assert line and line[0] in ("holding", "waiting"), worker.stderr.read()
    time.sleep(0.3)
    t0 = time.monotonic()
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=20)
    assert "KeyboardInterrupt" in err
    assert worker.returncode != 0
    return line[-1], time.monotonic() - t0


@pytest.mark.parametrize("code", [ITEM, LOOP, CLAIM], ids=["item", "claimed", "claim"])
def test_keyboard_interrupt_releases_the_claim(state, code):
    key, _ = interrupt(code, state)
    # Another host would have to wait a lease for a dead holder: the claim must be gone.
    ledger = claimsh.Ledger(state, host="other-node")
    s = ledger.status()
    assert s["running"] == 0 and s["stale"] == 0 and s["claims"] == []
    assert s["failed"] == 0
    assert ledger.claim(key)
    ledger.done(key)


def test_keyboard_interrupt_item_is_not_a_failure(state):
    interrupt(ITEM, state)
    assert claimsh.Ledger(state).status()["failures"] == []


def test_keyboard_interrupt_ends_a_wait_for_others(state):
    holder = claimsh.Ledger(state)
    assert holder.claim("a")
    _, took = interrupt(WAITING, state)
    assert took < 5  # not the 60 s lease
    s = holder.status()
    assert s["running"] == 1 and s["claims"][0]["key"] == "a"
    assert s["done"] == 1  # b, done by the waiter before it waited

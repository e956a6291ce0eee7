"""Every method of claimsh.Ledger, alone."""

import os
import pathlib
import threading
import time

import pytest

import claimsh
from conftest import claimsh_bin, claimsh_status, python_worker  # noqa: F401


def test_open_creates_the_ledger_and_reports_its_settings(state):
    ledger = claimsh.Ledger(state, lease=5, host="node7")
    assert (state / "FORMAT").read_text().startswith("claim-ledger 2")
    assert claimsh.FORMAT.startswith("claim-ledger")
    assert pathlib.Path(ledger.state_dir) == state
    assert ledger.lease == 5.0
    assert ledger.host == "node7"
    assert "node7" in repr(ledger)
    with pytest.raises(ValueError):
        claimsh.Ledger(state, lease=0)


def test_host_defaults_to_claimsh_host(state, monkeypatch):
    monkeypatch.setenv("CLAIMSH_HOST", "from-env")
    assert claimsh.Ledger(state).host == "from-env"


def test_a_ledger_of_another_format_is_refused(tmp_path):
    (tmp_path / "FORMAT").write_text("claim-ledger 1\n")
    with pytest.raises(claimsh.ClaimshError):
        claimsh.Ledger(tmp_path)


def test_claim_is_won_once_then_done(state):
    a, b = claimsh.Ledger(state), claimsh.Ledger(state)
    assert a.claim("x")
    assert a.holds("x")
    assert not b.claim("x")  # held by a live worker
    a.done("x")
    assert not a.holds("x")
    assert not a.claim("x") and not b.claim("x")
    s = a.status()
    assert s["done"] == 1 and s["running"] == 0


def test_keys_are_str_of_items(state):
    ledger = claimsh.Ledger(state)
    assert ledger.claim(pathlib.Path("images/a.tif"))
    ledger.done("images/a.tif")
    assert ledger.all_done([pathlib.Path("images/a.tif")])


def test_claim_twice_in_one_process_is_an_error(state):
    ledger = claimsh.Ledger(state)
    assert ledger.claim("x")
    with pytest.raises(claimsh.ClaimshError, match="holds"):
        ledger.claim("x")


def test_claim_with_an_existing_output_counts_as_done(state, tmp_path):
    out = tmp_path / "x.csv"
    ledger = claimsh.Ledger(state)
    out.write_text("done")
    assert not ledger.claim("x", output=out)
    assert ledger.claim("y", output=tmp_path / "y.csv")
    ledger.done("y")


def test_fail_records_the_reason_and_skips_the_item(state):
    ledger = claimsh.Ledger(state)
    assert ledger.claim("bad")
    ledger.fail("bad", "corrupt file")
    assert not ledger.claim("bad")
    s = ledger.status()
    assert s["failed"] == 1
    assert s["failures"][0]["key"] == "bad"
    assert s["failures"][0]["reason"] == "corrupt file"
    retry = claimsh.Ledger(state, retry_failed=True)
    assert retry.claim("bad")
    retry.done("bad")
    assert retry.status()["failed"] == 0


def test_release_gives_the_item_back(state):
    a, b = claimsh.Ledger(state), claimsh.Ledger(state)
    assert a.claim("x")
    a.release("x")
    assert a.status()["running"] == 0
    assert b.claim("x")
    b.done("x")


@pytest.mark.parametrize("method", ["done", "release"])
def test_finishing_an_item_not_held_is_an_error(state, method):
    ledger = claimsh.Ledger(state)
    with pytest.raises(claimsh.ClaimshError, match="does not hold"):
        getattr(ledger, method)("nope")
    with pytest.raises(claimsh.ClaimshError, match="does not hold"):
        ledger.fail("nope", "why")


def test_claimed_yields_every_item_once_and_marks_them_done(state):
    keys = [f"k{i}" for i in range(300)]
    ledger = claimsh.Ledger(state)
    it = ledger.claimed(keys)
    assert len(it) == 300
    got = list(it)
    assert sorted(got) == sorted(keys)
    s = ledger.status()
    assert s["done"] == 300 and s["pending"] == 0 and s["running"] == 0
    assert s["lists"][0]["total"] == 300
    assert list(ledger.claimed(keys)) == []
    assert ledger.all_done(keys)


def test_claimed_yields_the_objects_given(state, tmp_path):
    paths = [tmp_path / f"{i}.tif" for i in range(5)]
    got = list(claimsh.Ledger(state).claimed(paths))
    assert sorted(got) == paths and all(isinstance(p, pathlib.Path) for p in got)


def test_claimed_skips_items_done_one_by_one(state):
    ledger = claimsh.Ledger(state)
    assert ledger.claim("k3")
    ledger.done("k3")
    assert sorted(ledger.claimed([f"k{i}" for i in range(6)])) == ["k0", "k1", "k2", "k4", "k5"]


def test_claimed_with_output_skips_items_whose_output_exists(state, tmp_path):
    (tmp_path / "b.out").write_text("")
    got = list(claimsh.Ledger(state).claimed(["a", "b", "c"], output=lambda k: tmp_path / f"{k}.out"))
    assert sorted(got) == ["a", "c"]
    assert claimsh.Ledger(state).status()["done"] == 3


def test_two_workers_split_one_list(state):
    keys = [f"k{i}" for i in range(500)]
    got = {}

    def work(name):
        ledger = claimsh.Ledger(state)
        got[name] = []
        for k in ledger.claimed(keys):
            got[name].append(k)
            time.sleep(0.001)

    threads = [threading.Thread(target=work, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got["a"] + got["b"]) == sorted(keys)
    assert got["a"] and got["b"]


def test_without_wait_a_pass_ends_at_items_held_by_others(state):
    keys = [f"k{i}" for i in range(10)]
    a, b = claimsh.Ledger(state), claimsh.Ledger(state)
    assert a.claim("k5")
    t0 = time.monotonic()
    assert sorted(b.claimed(keys, wait=False)) == sorted(set(keys) - {"k5"})
    assert time.monotonic() - t0 < 5
    a.done("k5")


def test_explicit_fail_inside_claimed(state):
    ledger = claimsh.Ledger(state)
    for k in ledger.claimed(["a", "b", "c"]):
        if k == "b":
            ledger.fail(k, "b is bad")
    s = ledger.status()
    assert (s["done"], s["failed"]) == (2, 1)
    assert s["failures"][0] == {"key": "b", "reason": "b is bad", "host": ledger.host}


def test_break_publishes_finished_items_and_returns_the_rest(state):
    keys = [f"k{i}" for i in range(40)]
    ledger = claimsh.Ledger(state)
    seen = []
    for k in ledger.claimed(keys):
        seen.append(k)
        if len(seen) == 3:
            break
    s = ledger.status()
    assert s["done"] == 2  # the third was not finished when the loop was left
    assert s["running"] == 0 and s["pending"] == 38
    assert seen[2] in set(claimsh.Ledger(state).claimed(keys))


def test_close_of_an_iterator_releases_its_block(state):
    ledger = claimsh.Ledger(state)
    it = ledger.claimed(["a", "b", "c"])
    next(it)
    next(it)
    it.close()
    assert ledger.status()["done"] == 1 and ledger.status()["running"] == 0
    assert list(it) == []


def test_item_context_manager_done_on_normal_exit(state):
    ledger = claimsh.Ledger(state)
    with ledger.item("x") as won:
        assert won and ledger.holds("x")
    assert ledger.all_done(["x"])
    with ledger.item("x") as won:
        assert not won
    assert ledger.status()["done"] == 1


def raise_deep(message):
    def inner():
        raise ValueError(message)

    inner()


def test_item_context_manager_records_the_exception_and_propagates(state):
    ledger = claimsh.Ledger(state)
    with pytest.raises(ValueError, match="no nuclei found"):
        with ledger.item("img7") as won:
            assert won
            raise_deep("no nuclei found")
    s = ledger.status()
    assert s["failed"] == 1 and s["running"] == 0
    reason = s["failures"][0]["reason"]
    assert reason.startswith("ValueError: no nuclei found\nTraceback")
    assert "in inner" in reason and "raise ValueError(message)" in reason
    assert "test_api.py" in reason


def test_item_failure_names_the_module_of_custom_exceptions(state):
    class Bad(Exception):
        pass

    ledger = claimsh.Ledger(state)
    with pytest.raises(Bad):
        with ledger.item("x"):
            raise Bad("oh")
    assert ledger.status()["failures"][0]["reason"].startswith("test_api.")


def test_item_explicitly_finished_inside_is_left_alone(state):
    ledger = claimsh.Ledger(state)
    with ledger.item("x"):
        ledger.release("x")
    assert ledger.status()["done"] == 0
    with ledger.item("x"):
        ledger.fail("x", "own reason")
    assert ledger.status()["failures"][0]["reason"] == "own reason"


def test_item_with_output(state, tmp_path):
    (tmp_path / "x.out").write_text("")
    with claimsh.Ledger(state).item("x", output=tmp_path / "x.out") as won:
        assert not won


def test_item_inside_claimed_records_the_loop_item(state):
    ledger = claimsh.Ledger(state)
    for k in ledger.claimed(["a", "b", "c", "d"]):
        try:
            with ledger.item(k) as won:
                assert won
                if k == "c":
                    raise KeyError(k)
        except KeyError:
            pass
    s = ledger.status()
    assert (s["done"], s["failed"]) == (3, 1)
    assert s["failures"][0]["key"] == "c"
    assert s["failures"][0]["reason"].startswith("KeyError: 'c'")


def test_exception_escaping_a_claimed_loop_releases_the_rest(state):
    keys = [f"k{i}" for i in range(20)]
    ledger = claimsh.Ledger(state)
    with pytest.raises(ZeroDivisionError):
        for n, k in enumerate(ledger.claimed(keys)):
            with ledger.item(k):
                if n == 4:
                    1 / 0
    s = ledger.status()
    assert (s["done"], s["failed"], s["running"]) == (4, 1, 0)
    assert "ZeroDivisionError: division by zero" in s["failures"][0]["reason"]
    assert len(list(claimsh.Ledger(state).claimed(keys))) == 15


def test_all_done(state):
    ledger = claimsh.Ledger(state)
    assert not ledger.all_done(["a", "b"])
    for k in ledger.claimed(["a"]):
        pass
    assert ledger.claim("b")
    assert not ledger.all_done(["a", "b"])
    ledger.done("b")
    assert ledger.all_done(["a", "b"]) and ledger.all_done([])


def test_once_runs_once_across_ledgers(state):
    calls = []
    a, b = claimsh.Ledger(state), claimsh.Ledger(state)
    assert a.once("summary", lambda: calls.append(1) or "written") == "written"
    assert a.once("summary", lambda: calls.append(1)) is None
    assert b.once("summary", lambda: calls.append(1)) is None
    assert calls == [1]
    assert (state / "once" / "FORMAT").exists()
    s = a.status()
    assert s["once"]["done"] == 1


def test_once_failure_propagates_and_is_recorded(state):
    ledger = claimsh.Ledger(state)

    def broken():
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ledger.once("summary", broken)
    with pytest.raises(claimsh.ClaimshError, match="failed on another worker"):
        claimsh.Ledger(state).once("summary", lambda: 1)
    once = ledger.status()["once"]
    assert once["failures"][0]["key"] == "once:summary"
    assert once["failures"][0]["reason"].startswith("RuntimeError: disk full")
    assert claimsh.Ledger(state, retry_failed=True).once("summary", lambda: 2) == 2


def test_once_waits_for_the_runner(state):
    started = threading.Event()
    results = []

    def slow():
        started.set()
        time.sleep(0.5)
        return "first"

    a, b = claimsh.Ledger(state), claimsh.Ledger(state)
    t = threading.Thread(target=lambda: results.append(a.once("x", slow)))
    t.start()
    started.wait()
    t0 = time.monotonic()
    assert b.once("x", lambda: "second") is None  # waited, then found it done
    assert time.monotonic() - t0 > 0.3
    t.join()
    assert results == ["first"]


def test_status_has_the_keys_of_claimsh_status_json(state, claimsh_bin):
    ledger = claimsh.Ledger(state)
    for _ in ledger.claimed(["a", "b"]):
        pass
    ledger.once("s", lambda: None)
    assert ledger.claim("c")
    ours = ledger.status()
    theirs = claimsh_status(claimsh_bin, state)
    assert set(ours) == set(theirs)
    assert set(ours["once"]) == set(theirs["once"])
    for key in ["done", "running", "failed", "total", "pending"]:
        assert ours[key] == theirs[key]
    assert (ours["done"], ours["running"], ours["total"]) == (2, 1, 3)
    claim = ours["claims"][0]
    assert claim["key"] == "c" and claim["pid"] == os.getpid() and claim["host"] == ledger.host


def test_close_and_context_manager_release_everything(state):
    with claimsh.Ledger(state) as ledger:
        assert ledger.claim("a")
        it = ledger.claimed(["b", "c"])
        next(it)
        assert ledger.status()["running"] == 2
    assert ledger.status()["running"] == 0
    assert ledger.status()["done"] == 0


def test_heartbeats_run_while_python_holds_the_gil(state):
    """A holder on another host is judged by its heartbeats; they go on while Python computes."""
    holder = claimsh.Ledger(state, lease=0.4, host="computing-node")
    assert holder.claim("x")
    until = time.monotonic() + 1.5
    n = 0
    while time.monotonic() < until:  # pure Python, GIL held: ~4 leases
        n += 1
    other = python_worker(
        "import claimsh, sys; l = claimsh.Ledger(sys.argv[1], lease=0.4, host='other-node');"
        "print(l.claim('x'))",
        state,
    )
    out, err = other.communicate(timeout=30)
    assert out.strip() == "False", err
    holder.done("x")


def test_the_gil_is_released_while_waiting(state):
    """While claimed() waits for another worker's item, other Python threads run."""
    holder = claimsh.Ledger(state, lease=1)
    assert holder.claim("k1")
    waiter = claimsh.Ledger(state, lease=1)
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    threading.Timer(0.5, lambda: holder.done("k1")).start()
    got = list(waiter.claimed(["k0", "k1", "k2"]))
    stop.set()
    t.join()
    assert sorted(got) == ["k0", "k2"]  # k1 was done by the holder meanwhile
    assert len(ticks) > 20

"""Python and claimsh workers on one state directory."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import claimsh
from conftest import claimsh_bin, claimsh_status, python_worker  # noqa: F401

N = 2000

# Each worker writes <out>/<key>.<tag> for every item it processes (a second time: .dup).
RHAI = """
let keys = [];
for i in 0..KEYS { keys.push(`k${i}`); }
let out = ARGS[0];
let tag = ARGS[1];
for k in claimed(keys) {
    let f = `${out}/${k}.${tag}`;
    if exists(f) { write_text(`${f}.dup`, tag); }
    write_text(f, tag);
    sleep(SLEEP);
    done(k);
}
"""

PY_COMMON = """
import os, sys, time, claimsh
state, out, tag, n, sleep = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
keys = [f"k{i}" for i in range(n)]
ledger = claimsh.Ledger(state, lease=2, host=os.environ.get("HOST_TAG"))
def record(k):
    try:
        os.close(os.open(f"{out}/{k}.{tag}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        open(f"{out}/{k}.{tag}.dup", "w").close()
    time.sleep(sleep)
"""

PY_CLAIMED = PY_COMMON + """
for k in ledger.claimed(keys):
    record(k)
print("ok")
"""

PY_CLAIM = PY_COMMON + """
for k in reversed(keys):  # from the other end
    if ledger.claim(k):
        record(k)
        ledger.done(k)
print("ok")
"""


def rhai_script(tmp_path, n, sleep):
    script = tmp_path / "fleet.rhai"
    script.write_text(RHAI.replace("KEYS", str(n)).replace("SLEEP", str(sleep)))
    return script


def start_claimsh(binary, script, state, out, tag, lease=2, host=None):
    env = {**os.environ}
    if host:
        env["CLAIMSH_HOST"] = host
    return subprocess.Popen(
        [binary, "run", str(script), "--state", str(state), "--jobs", "1", "--lease", str(lease),
         "-q", "--no-progress", str(out), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def processed(out):
    """key -> the tags of the workers that processed it."""
    seen = {}
    for f in os.listdir(out):
        key, tag = f.split(".", 1)
        seen.setdefault(key, []).append(tag)
    return seen


def test_mixed_fleet_processes_each_item_exactly_once(tmp_path, claimsh_bin):
    state, out = tmp_path / "state", tmp_path / "out"
    out.mkdir()
    script = rhai_script(tmp_path, N, 0.001)
    sleep = 0.001
    workers = [
        python_worker(PY_CLAIMED, state, out, "py-claimed", N, sleep),
        python_worker(PY_CLAIM, state, out, "py-claim", N, sleep),
        start_claimsh(claimsh_bin, script, state, out, "rhai-1"),
        start_claimsh(claimsh_bin, script, state, out, "rhai-2"),
    ]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    seen = processed(out)
    assert len(seen) == N
    twice = {k: tags for k, tags in seen.items() if len(tags) != 1}
    assert twice == {}
    by_worker = {}
    for tags in seen.values():
        by_worker[tags[0]] = by_worker.get(tags[0], 0) + 1
    print("items per worker:", by_worker)
    assert set(by_worker) == {"py-claimed", "py-claim", "rhai-1", "rhai-2"}, by_worker
    ours = claimsh.Ledger(state).status()
    theirs = claimsh_status(claimsh_bin, state)
    for s in (ours, theirs):
        assert (s["done"], s["total"], s["pending"], s["failed"], s["running"]) == (N, N, 0, 0, 0)


def test_a_killed_python_worker_is_taken_over_by_claimsh(tmp_path, claimsh_bin):
    n = 30
    state, out = tmp_path / "state", tmp_path / "out"
    out.mkdir()
    # The Python worker claims a block and hangs in its first item.
    victim = python_worker(
        PY_COMMON
        + """
for k in ledger.claimed(keys):
    print("holding", k, flush=True)
    time.sleep(600)
""",
        state, out, "py", n, 0,
        env={"HOST_TAG": "python-node"},
    )
    line = victim.stdout.readline().split()
    assert line[:1] == ["holding"], victim.stderr.read()
    held = line[1]
    assert claimsh.Ledger(state).status()["running"] >= 1
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    t0 = time.monotonic()
    rhai = start_claimsh(claimsh_bin, rhai_script(tmp_path, n, 0), state, out, "rhai",
                         lease=2, host="rhai-node")
    _, err = rhai.communicate(timeout=120)
    took = time.monotonic() - t0
    assert rhai.returncode == 0, err
    seen = processed(out)
    assert seen[held] == ["rhai"]  # the item the Python worker died in
    assert sorted(seen) == sorted(f"k{i}" for i in range(n))
    assert all(len(tags) == 1 for tags in seen.values()), seen
    assert took >= 1.5  # another host: a dead holder is known only by its silence
    s = claimsh_status(claimsh_bin, state)
    assert (s["done"], s["running"], s["stale"]) == (n, 0, 0)
    assert claimsh.Ledger(state).status()["done"] == n

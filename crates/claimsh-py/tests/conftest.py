import json
import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture
def state(tmp_path):
    """A fresh state directory (not created yet: Ledger creates it)."""
    return tmp_path / "state"


@pytest.fixture
def claimsh_bin():
    """The claimsh binary (scripts/test-python.sh sets CLAIMSH_BIN)."""
    path = os.environ.get("CLAIMSH_BIN") or shutil.which("claimsh")
    if not path or not os.path.exists(path):
        if os.environ.get("CLAIMSH_REQUIRE_ALL_TESTS") == "1":
            pytest.fail("CLAIMSH_BIN is not set: build it with `cargo build -p claimsh`")
        pytest.skip("no claimsh binary (set CLAIMSH_BIN)")
    return path


def claimsh_status(claimsh_bin, state):
    out = subprocess.run(
        [claimsh_bin, "status", "--state", str(state), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def python_worker(code, *args, env=None):
    """Start `python -c code args...` (unbuffered), stdout piped."""
    return subprocess.Popen(
        [sys.executable, "-u", "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )

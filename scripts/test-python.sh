#!/usr/bin/env bash
# The Python package's tests: a virtualenv in target/py-venv, `pip install ./crates/claimsh-py`
# (built by maturin), pytest; the mixed-fleet tests run the claimsh binary built here.
# Needs Rust, python3 with venv (Debian: python3-venv); PY_VENV overrides the venv's place.
# Extra arguments go to pytest (e.g. scripts/test-python.sh -k fleet -x).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PY_VENV:-$PWD/target/py-venv}
cargo build -q -p claimsh
export CLAIMSH_BIN=$PWD/target/debug/claimsh
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pytest
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./crates/claimsh-py
cd crates/claimsh-py
"$VENV/bin/python" -m pytest -q tests "$@"

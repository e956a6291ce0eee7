#!/usr/bin/env bash
# Stop what scripts/slurm-local/start.sh started, by pid.
#   scripts/slurm-local/stop.sh [DIR]
set -uo pipefail
DIR=${1:-${SLURM_LOCAL_DIR:-/tmp/slurm-local}}
for pidfile in "$DIR"/run/slurmd-*.pid "$DIR"/run/slurmctld.pid "$DIR"/run/munged.pid; do
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidfile"
done
exit 0

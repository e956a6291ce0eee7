#!/usr/bin/env bash
# Start a real SLURM cluster on this machine: munged, slurmctld and N slurmd "nodes" (n1..nN),
# each slurmd in its own UTS namespace so `hostname` differs per node. Debian's slurm-wlm and
# munge, no systemd. Prints `export SLURM_CONF=...`; stop with scripts/slurm-local/stop.sh.
#   scripts/slurm-local/start.sh [NODES] [DIR]
set -euo pipefail
NODES=${1:-4}
DIR=${2:-${SLURM_LOCAL_DIR:-/tmp/slurm-local}}
CPUS=${SLURM_LOCAL_CPUS:-1}
mkdir -p "$DIR"/{state,log,run,munge}
HOST=$(hostname -s)

# munge: a key and a daemon with its own socket.
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
if ! pgrep -x munged >/dev/null; then
  munged --force --pid-file="$DIR/run/munged.pid"
fi

{
  cat <<CONF
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPort=16817
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmdSpoolDir=$DIR/state/slurmd-%n
StateSaveLocation=$DIR/state/ctld
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SchedulerType=sched/backfill
SlurmctldTimeout=10
SlurmdTimeout=10
InactiveLimit=0
KillWait=2
MinJobAge=30
CONF
  for i in $(seq "$NODES"); do
    echo "NodeName=n$i NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((17000 + i)) CPUs=$CPUS State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
} > "$DIR/slurm.conf"
for i in $(seq "$NODES"); do mkdir -p "$DIR/state/slurmd-n$i"; done
mkdir -p "$DIR/state/ctld"

export SLURM_CONF=$DIR/slurm.conf
slurmctld -f "$SLURM_CONF"
for i in $(seq "$NODES"); do
  # Own UTS namespace: the node's processes see hostname nI.
  unshare --uts sh -c "hostname n$i && exec slurmd -f '$SLURM_CONF' -N n$i"
done

# Wait until every node is idle (about a second).
for _ in $(seq 100); do
  idle=$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -c idle || true)
  [ "$idle" -ge "$NODES" ] && break
  sleep 0.2
done
sinfo -N >&2
echo "export SLURM_CONF=$SLURM_CONF"

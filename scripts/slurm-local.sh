#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for running and testing
# `orchestrate --launcher srun ...` against a real scheduler.
#
#   sudo scripts/slurm-local.sh start   # install if needed, configure, start, wait until idle
#   sudo scripts/slurm-local.sh stop    # stop the daemons, remove state and logs
#   scripts/slurm-local.sh env          # print the SLURM_CONF line to export
#
# Needs root and Debian's packages slurmd, slurmctld, slurm-client and munge
# (installed by `start` when missing). Configuration, state and logs live in
# one temporary folder, $SLURM_LOCAL_DIR (default /tmp/polymer-fanout-slurm);
# clients find the configuration through SLURM_CONF. No accounting; process
# tracking by process tree (proctrack/linuxproc, no cgroups needed); one
# partition that lets 26 steps share the node's CPUs.
set -euo pipefail

dir=${SLURM_LOCAL_DIR:-/tmp/polymer-fanout-slurm}
conf=$dir/slurm.conf

say() { echo "slurm-local: $*" >&2; }

install_packages() {
    local missing=()
    for tool in slurmd slurmctld srun munged; do
        command -v "$tool" > /dev/null || missing+=("$tool")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    say "installing slurmd slurmctld slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq > /dev/null
    apt-get install -y -qq slurmd slurmctld slurm-client munge > /dev/null
}

start_munge() {
    if munge -n < /dev/null 2> /dev/null | unmunge > /dev/null 2>&1; then
        return
    fi
    [[ -s /etc/munge/munge.key ]] || {
        mungekey --create --force > /dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    }
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- munged
    for _ in $(seq 100); do
        munge -n < /dev/null 2> /dev/null | unmunge > /dev/null 2>&1 && return
        sleep 0.1
    done
    say "munged did not start"
    exit 1
}

write_config() {
    local host cpus
    host=$(hostname -s)
    cpus=$(nproc)
    mkdir -p "$dir/state" "$dir/spool"
    cat > "$conf" << CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
KillWait=5
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:26
CONF
}

start() {
    [[ $(id -u) -eq 0 ]] || { say "start needs root"; exit 1; }
    install_packages
    if [[ -f $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2> /dev/null; then
        say "already running (SLURM_CONF=$conf)"
        return
    fi
    start_munge
    write_config
    export SLURM_CONF=$conf
    slurmctld -c -f "$conf"
    slurmd -f "$conf"
    for _ in $(seq 300); do
        if [[ $(sinfo -h -o %T 2> /dev/null) == idle ]]; then
            say "node $(hostname -s) idle; export SLURM_CONF=$conf"
            return
        fi
        sleep 0.1
    done
    say "the node did not become idle; logs in $dir"
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    exit 1
}

stop() {
    local pid
    for daemon in slurmd slurmctld; do
        if [[ -f $dir/$daemon.pid ]]; then
            pid=$(cat "$dir/$daemon.pid")
            kill "$pid" 2> /dev/null || true
            for _ in $(seq 100); do
                kill -0 "$pid" 2> /dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2> /dev/null || true
        fi
    done
    pkill -x munged 2> /dev/null || true
    rm -rf "$dir"
    say "stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *)
        echo "usage: $0 start|stop|env" >&2
        exit 2
        ;;
esac

#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for running and testing
# `orchestrate --launcher srun ...` against a real scheduler.
#
#   sudo scripts/slurm-local.sh start   # install if needed, configure, start, wait until idle
#   sudo scripts/slurm-local.sh stop    # cancel jobs, stop the daemons, remove state, logs, cgroups
#   scripts/slurm-local.sh env          # print the SLURM_CONF line to export
#
# Needs root, a cgroup v1 freezer hierarchy at /sys/fs/cgroup/freezer, and
# Debian's packages slurmd, slurmctld, slurm-client and munge (installed by
# `start` when missing). Configuration (slurm.conf and cgroup.conf), state
# and logs live in one temporary folder, $SLURM_LOCAL_DIR (default
# /tmp/polymer-fanout-slurm); clients find the configuration through
# SLURM_CONF. No accounting; one partition that lets 26 steps share the
# node's CPUs.
#
# Process tracking is proctrack/cgroup, as on production clusters: every
# step gets a freezer cgroup, and cancelling the step freezes it, signals
# every process in it and thaws it, so nothing a step started survives,
# not even a process that double-forked or called setsid. The simpler
# proctrack/linuxproc follows only the parent-child tree: a grandchild
# reparented to init escaped it, kept the step's stdout open, and left the
# node `completing` for 60 s ("Abandoning IO 60 secs after job shutdown")
# with every later job queued behind it.
#
# Why cgroup/v1: Debian 12's Slurm is 22.05, whose cgroup/v2 plugin refuses
# a machine with v1 controllers mounted ("fatal: Hybrid mode is not
# supported"), and this kind of machine has its controllers in v1
# hierarchies (plus an empty cgroup2 at /sys/fs/cgroup/unified). cgroup/v1
# needs no systemd (PID 1 here is not systemd). TaskPlugin stays task/none:
# tracking needs only proctrack/cgroup's freezer; task/cgroup confines
# steps to their cores, memory and devices, which a test cluster that
# oversubscribes 2 CPUs with 26 steps does not want.
set -euo pipefail

dir=${SLURM_LOCAL_DIR:-/tmp/polymer-fanout-slurm}
conf=$dir/slurm.conf
freezer=/sys/fs/cgroup/freezer

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

# proctrack/cgroup with cgroup/v1 uses only the freezer hierarchy. Fail
# here, with the reason, rather than let slurmd die with a fatal line in its
# log or fall back to a tracking that leaks processes.
check_cgroups() {
    if ! awk -v m="$freezer" '$2 == m && $3 == "cgroup" && $4 ~ /(^|,)freezer(,|$)/ { found = 1 } END { exit !found }' /proc/mounts; then
        say "no cgroup v1 freezer hierarchy at $freezer (mounted cgroups:" \
            "$(awk '$3 ~ /^cgroup/ { printf "%s %s; ", $2, $3 }' /proc/mounts)):" \
            "proctrack/cgroup with Slurm 22.05 needs it"
        exit 1
    fi
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
ProctrackType=proctrack/cgroup
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
    # Read from beside slurm.conf. cgroup/v1 named explicitly: autodetect
    # picks it here too, but a machine where it would pick v2 needs
    # settings (IgnoreSystemd) this script does not write, and should fail
    # in check_cgroups instead. No automount: the hierarchies are mounted.
    cat > "$dir/cgroup.conf" << CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
CgroupAutomount=no
CONF
}

start() {
    [[ $(id -u) -eq 0 ]] || { say "start needs root"; exit 1; }
    install_packages
    if [[ -f $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2> /dev/null; then
        say "already running (SLURM_CONF=$conf)"
        return
    fi
    check_cgroups
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

# Jobs still queued or running are cancelled while the daemons are up, so
# their steps end as any cancelled step does (SIGTERM, then SIGKILL after
# KillWait). Bounded, and skipped when the controller is gone.
cancel_jobs() {
    [[ -f $conf && -f $dir/slurmctld.pid ]] || return 0
    kill -0 "$(cat "$dir/slurmctld.pid")" 2> /dev/null || return 0
    export SLURM_CONF=$conf
    local jobs
    jobs=$(timeout 5 squeue -h -o %i 2> /dev/null) || return 0
    [[ -n $jobs ]] || return 0
    say "cancelling $(wc -w <<< "$jobs") job(s)"
    # shellcheck disable=SC2086 # one job id a word
    timeout 5 scancel $jobs 2> /dev/null || true
    for _ in $(seq 150); do
        [[ -z $(timeout 5 squeue -h -o %i 2> /dev/null) ]] && return 0
        sleep 0.1
    done
    say "jobs still listed after 15 s; their processes are killed below"
}

# Slurm makes slurm_<node>/uid_<uid>/job_<id>/step_<id> under each
# hierarchy it uses and removes a job's folders when the job ends, but never
# slurm_<node> itself; a slurmstepd that outlived slurmd (it sits in its
# job's cgroup) and its steps' processes would keep theirs. Kill whatever is
# left in there, frozen first so that nothing forks meanwhile, then remove
# the folders deepest first so that start/stop cycles leave nothing behind.
remove_cgroups() {
    local top=$1 folder pids
    [[ -d $top ]] || return 0
    for _ in $(seq 50); do
        pids=$(find "$top" -name cgroup.procs -exec cat {} + 2> /dev/null) || true
        [[ -n $pids ]] || break
        say "killing leftover processes in $top: $(tr '\n' ' ' <<< "$pids")"
        echo FROZEN > "$top/freezer.state" 2> /dev/null || true
        # shellcheck disable=SC2086 # one pid a word
        kill -KILL $pids 2> /dev/null || true
        echo THAWED > "$top/freezer.state" 2> /dev/null || true
        sleep 0.1
    done
    while read -r folder; do
        rmdir "$folder" 2> /dev/null || say "could not remove $folder"
    done < <(find "$top" -depth -type d)
}

stop() {
    local pids=() pid host
    cancel_jobs
    # Both at once: each takes 1-2 s to shut down, and neither needs the
    # other for it.
    for daemon in slurmd slurmctld; do
        if [[ -f $dir/$daemon.pid ]]; then
            pids+=("$(cat "$dir/$daemon.pid")")
        fi
    done
    for pid in "${pids[@]}"; do
        kill "$pid" 2> /dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2> /dev/null || true
    done
    host=$(hostname -s)
    for hierarchy in /sys/fs/cgroup/*/; do
        remove_cgroups "${hierarchy}slurm_$host"
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

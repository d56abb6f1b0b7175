#!/usr/bin/env bash
# A Slurm cluster on this machine, for running and testing `orchestrate
# --launcher srun ...` and `--sbatch` against a real scheduler.
#
#   sudo scripts/slurm-local.sh start             # one node: this machine
#   sudo scripts/slurm-local.sh start --nodes 3   # three nodes n1..n3, one controller
#   sudo scripts/slurm-local.sh fail-node n2      # n2 loses power: every process of it dies at once
#   sudo scripts/slurm-local.sh revive-node n2    # n2 boots again (slurmd back; Slurm returns it to service)
#   sudo scripts/slurm-local.sh stop              # cancel jobs, stop the daemons, remove everything it made
#   scripts/slurm-local.sh env                    # print the SLURM_CONF line to export
#
# With --nodes N, each node is a slurmd in a network namespace of its own
# (pfslurm-n1, ...), with its own hostname (a UTS namespace) and one
# address on a bridge this script creates (pfslurm0, 10.213.57.0/24: the
# controller .1, node i .(10+i)); no other address is ever used, and
# nothing is routed off the bridge. The controller and the client
# commands run outside the namespaces and reach the nodes over the
# bridge, as a login node reaches compute nodes. Namespaces do not
# separate files: the results folder, munge's socket and the
# configuration are shared, as a cluster's shared filesystem would share
# them. Each node tracks its processes in cgroups of its own
# (/sys/fs/cgroup/freezer/slurm_<node>). The controller declares a node
# that stops answering DOWN within SlurmdTimeout (5 s) plus its ping
# cycle: about 20-30 s here.
#
# Scheduling: batch_sched_delay=0. Slurm may put off starting batch jobs
# by up to batch_sched_delay seconds (3 by default) to spare a busy
# controller; here it was the difference between a job array's first
# task starting 0.8 s and 2.8 s after submission. It does not affect srun.
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
bridge=pfslurm0
prefix=10.213.57
netns_prefix=pfslurm-

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
        if munge -n < /dev/null 2> /dev/null | unmunge > /dev/null 2>&1; then
            # Ours to stop: a munged that was running before is left alone.
            mkdir -p "$dir"
            cat /run/munge/munged.pid > "$dir/munged.pid" 2> /dev/null || pgrep -nx munged > "$dir/munged.pid" || true
            return
        fi
        sleep 0.1
    done
    say "munged did not start"
    exit 1
}

# The settings every cluster shares; $1 the controller line, then the
# node and partition lines on standard input.
write_config() {
    mkdir -p "$dir/state" "$dir/spool"
    {
        cat << CONF
ClusterName=local
$1
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/cgroup
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
SlurmdTimeout=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
KillWait=5
CONF
        cat
    } > "$conf"
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

# The nodes of the running cluster, one name a line.
nodes() {
    cat "$dir/nodes" 2> /dev/null || true
}

# A bridge and, for each node, a network namespace joined to it by a veth
# pair, with the node's address.
make_network() {
    local count=$1 i
    ip link add "$bridge" type bridge
    ip addr add "$prefix.1/24" dev "$bridge"
    ip link set "$bridge" up
    for i in $(seq "$count"); do
        ip netns add "${netns_prefix}n$i"
        ip link add "pfslurm-h$i" type veth peer name eth0 netns "${netns_prefix}n$i"
        ip link set "pfslurm-h$i" master "$bridge" up
        ip -n "${netns_prefix}n$i" addr add "$prefix.$((10 + i))/24" dev eth0
        ip -n "${netns_prefix}n$i" link set eth0 up
        ip -n "${netns_prefix}n$i" link set lo up
    done
}

# Starts node $1's slurmd inside its namespace, as that host. nsenter, not
# `ip netns exec`, which remounts /sys and hides the cgroup hierarchies.
start_node() {
    local node=$1
    # A clean environment: a daemon started by a test (revive-node) must
    # not carry the test's variables.
    env -i PATH="$PATH" nsenter --net="/run/netns/$netns_prefix$node" unshare --uts \
        sh -c 'hostname "$1"; exec slurmd -f "$2" -N "$1"' sh "$node" "$conf"
}

# Waits until sinfo shows $1 nodes idle.
wait_idle() {
    local want=$1 idle
    for _ in $(seq 300); do
        idle=$(sinfo -h -N -o '%N %T' 2> /dev/null | awk '$2 == "idle"' | wc -l)
        if [[ $idle -ge $want ]]; then
            return 0
        fi
        sleep 0.1
    done
    say "the nodes did not become idle; logs in $dir"
    sinfo -N >&2 || true
    tail -n 20 "$dir"/*.log >&2 || true
    exit 1
}

start() {
    local count=0 host nodes
    while [[ $# -gt 0 ]]; do
        case $1 in
            --nodes)
                [[ $# -ge 2 && $2 =~ ^[1-9][0-9]?$ ]] || { say "--nodes takes a number of nodes, 1 to 99"; exit 2; }
                count=$2
                shift 2
                ;;
            *) say "unknown option $1"; exit 2 ;;
        esac
    done
    [[ $(id -u) -eq 0 ]] || { say "start needs root"; exit 1; }
    install_packages
    if [[ -f $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2> /dev/null; then
        say "already running (SLURM_CONF=$conf)"
        return
    fi
    check_cgroups
    start_munge
    host=$(hostname -s)
    export SLURM_CONF=$conf
    if [[ $count -eq 0 ]]; then
        write_config "SlurmctldHost=$host" << CONF
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:26
CONF
        echo "$host" > "$dir/nodes"
        slurmctld -c -f "$conf"
        slurmd -f "$conf"
        wait_idle 1
        say "node $host idle; export SLURM_CONF=$conf"
        return
    fi
    if ip link show "$bridge" > /dev/null 2>&1 || ip -br link | grep -q '^pfslurm-h' ||
        [[ -n $(ip netns list | grep "^$netns_prefix") ]]; then
        say "a network of an earlier cluster is still there; run stop first"
        exit 1
    fi
    nodes=$(for i in $(seq "$count"); do echo "n$i"; done)
    write_config "SlurmctldHost=$host($prefix.1)" << CONF
$(for i in $(seq "$count"); do echo "NodeName=n$i NodeAddr=$prefix.$((10 + i)) CPUs=$(nproc) State=UNKNOWN"; done)
PartitionName=local Nodes=n[1-$count] Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:26
CONF
    echo "$nodes" > "$dir/nodes"
    make_network "$count"
    slurmctld -c -f "$conf"
    for node in $nodes; do
        start_node "$node"
    done
    wait_idle "$count"
    say "nodes $(tr '\n' ' ' <<< "$nodes")idle; export SLURM_CONF=$conf"
}

# Node $1 loses power: every process in its namespace (slurmd, its
# slurmstepds, their tasks) is killed at once, frozen first so that
# nothing forks meanwhile. The controller finds out only by the node's
# silence.
fail_node() {
    local node=$1 ns=$netns_prefix$1 pids
    [[ -e /run/netns/$ns ]] || { say "no node $node (no namespace $ns)"; exit 1; }
    for _ in $(seq 50); do
        pids=$(ip netns pids "$ns")
        [[ -n $pids ]] || break
        # shellcheck disable=SC2086 # one pid a word
        kill -STOP $pids 2> /dev/null || true
        # shellcheck disable=SC2086
        kill -KILL $pids 2> /dev/null || true
        sleep 0.05
    done
    rm -f "$dir/slurmd-$node.pid"
    if [[ -n $(ip netns pids "$ns") ]]; then
        say "node $node: processes still alive after every kill: $(ip netns pids "$ns" | tr '\n' ' ')"
        exit 1
    fi
    say "node $node is down (every process of it killed)"
}

revive_node() {
    local node=$1
    [[ -e /run/netns/$netns_prefix$node ]] || { say "no node $node"; exit 1; }
    export SLURM_CONF=$conf
    start_node "$node"
    say "slurmd of $node started"
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
    local pids=() pid ns left
    cancel_jobs
    # Every daemon at once: each takes 1-2 s to shut down, and none needs
    # the others for it.
    for file in "$dir"/slurmd*.pid "$dir"/slurmctld.pid; do
        if [[ -f $file ]]; then
            pids+=("$(cat "$file")")
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
    # The nodes' namespaces, found by name, whatever state says: whatever
    # still runs in one (a slurmstepd, a task) is killed, then the
    # namespace goes, and its veth with it.
    while read -r ns; do
        [[ -n $ns ]] || continue
        for _ in $(seq 50); do
            left=$(ip netns pids "$ns" 2> /dev/null | tr '\n' ' ')
            [[ -n ${left// /} ]] || break
            say "killing leftover processes in $ns: $left"
            # shellcheck disable=SC2086 # one pid a word
            kill -KILL $left 2> /dev/null || true
            sleep 0.1
        done
        ip netns delete "$ns" 2> /dev/null || say "could not delete namespace $ns"
    done < <(ip netns list 2> /dev/null | awk -v p="$netns_prefix" 'index($1, p) == 1 { print $1 }')
    # A namespace that could not be destroyed leaves its host-side veth;
    # one that was goes with its namespace, a moment later.
    while read -r link; do
        link=${link%%@*}
        for _ in $(seq 20); do
            ip link show "$link" > /dev/null 2>&1 || continue 2
            sleep 0.05
        done
        ip link delete "$link" 2> /dev/null || ! ip link show "$link" > /dev/null 2>&1 ||
            say "could not delete link $link"
    done < <(ip -br link 2> /dev/null | awk '$1 ~ /^pfslurm-h/ { print $1 }')
    if ip link show "$bridge" > /dev/null 2>&1; then
        ip link delete "$bridge" || say "could not delete bridge $bridge"
    fi
    # Every node's cgroups: this host's, and those named like the nodes.
    for hierarchy in /sys/fs/cgroup/*/; do
        for top in "${hierarchy}slurm_$(hostname -s)" "${hierarchy}"slurm_n[0-9]*; do
            remove_cgroups "$top"
        done
    done
    if [[ -s $dir/munged.pid ]]; then
        kill "$(cat "$dir/munged.pid")" 2> /dev/null || true
    fi
    rm -rf "$dir"
    say "stopped"
}

command=${1:-}
shift || true
case $command in
    start) start "$@" ;;
    stop) stop ;;
    fail-node | revive-node)
        [[ $# -eq 1 && $1 =~ ^n[0-9]+$ ]] || { echo "usage: $0 $command NODE (n1, n2, ...)" >&2; exit 2; }
        [[ $(id -u) -eq 0 ]] || { say "$command needs root"; exit 1; }
        if [[ $command == fail-node ]]; then fail_node "$1"; else revive_node "$1"; fi
        ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *)
        echo "usage: $0 start [--nodes N]|stop|fail-node NODE|revive-node NODE|env" >&2
        exit 2
        ;;
esac

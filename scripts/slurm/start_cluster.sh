#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for running and testing profiles/slurm for real:
# installs Debian's slurm-wlm and munge when missing, writes /etc/slurm/slurm.conf (and gres.conf)
# for this host, starts munged, slurmctld and slurmd, and waits until the node is idle.
#
# Idempotent: a second run with the cluster up and its configuration unchanged only checks it.
# Needs root (daemons, /etc/slurm) and, for the install, apt-get. Exit status 0 when the node is
# idle, 1 on any failure, 2 when the cluster cannot be set up here at all (not root, no apt).
#
# Usage: bash scripts/slurm/start_cluster.sh [--no-install]
#   SLURM_WAIT_S  seconds to wait for the node to come up (default 60)
set -euo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
GRES_CONF="$CONF_DIR/gres.conf"
# Written into every file this script owns, so that it never overwrites a site's own configuration.
MARKER="# Written by agent-affect scripts/slurm/start_cluster.sh"
WAIT_S="${SLURM_WAIT_S:-60}"
STATE_DIR=/var/lib/slurm
LOG_DIR=/var/log/slurm

log() { echo "start_cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null; then
        return
    fi
    [ "${1:-}" = "--no-install" ] && { log "slurm-wlm or munge is not installed and --no-install was given"; exit 2; }
    command -v apt-get >/dev/null || { log "slurm-wlm is not installed and there is no apt-get to install it"; exit 2; }
    log "installing slurm-wlm and munge with apt-get"
    local start=$SECONDS
    # The package scripts would try to start the daemons through systemd; this script starts them.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    log "installed in $((SECONDS - start)) s"
}

# Started as the munge user, like Debian's munge.service does.
start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --keyfile /etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged started but a credential does not round-trip (see /var/log/munge/munged.log)"
}

# Real GPUs where the machine has NVIDIA devices. Elsewhere one stand-in GPU slot, so that a job
# asking --gpus=1 is scheduled on the gpu partition (what a test of the profile's routing needs)
# while CUDA inside the job finds no device and model code stays on CPU. slurmd drops a GPU with no
# device file, so the slot names /dev/null; task/none never binds or constrains it.
gres_lines() {
    local devices
    devices=$(find /dev -maxdepth 1 -regex '/dev/nvidia[0-9]+' 2>/dev/null | sort -V)
    if [ -n "$devices" ]; then
        local n
        n=$(echo "$devices" | wc -l)
        echo "gpu:$n"
        for device in $devices; do
            echo "NodeName=$NODE Name=gpu File=$device"
        done
    else
        echo "gpu:1"
        echo "NodeName=$NODE Name=gpu File=/dev/null"
    fi
}

# The configuration for this host, on stdout. Node hardware comes from `slurmd -C`, so memory and
# cores match whatever machine (laptop, CI runner) this runs on.
render_conf() {
    local hardware gres
    hardware=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')
    gres=$(gres_lines | head -n 1)
    cat <<EOF
$MARKER; rerun it rather than editing this file.
ClusterName=agentaffect
# Loopback addresses: the cluster works without DNS for the host name.
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# No cgroups: works in containers and VMs without a delegated cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# Cores and memory are both consumable, so --mem requests are scheduled, not ignored.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MpiDefault=none
# No slurmdbd: sacct has no data. The executor plugin asks squeue instead (profiles/slurm), which
# lists a finished job for MinJobAge seconds; 300 s is far above its first status check.
AccountingStorageType=accounting_storage/none
MinJobAge=300
# One line per finished job (id, name, state, partition, node): the record a test checks jobs against.
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
# A restarted node returns to service by itself.
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 $hardware Gres=$gres State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
}

# Writes $2 to $1 when it differs; refuses to replace a file this script did not write.
# Returns 0 when the file changed.
write_if_changed() {
    local path=$1 content=$2
    if [ -e "$path" ] && ! grep -qF "$MARKER" "$path"; then
        die "$path exists and was not written by this script; move it away to use this one-node cluster"
    fi
    if [ -e "$path" ] && [ "$(cat "$path")" = "$content" ]; then
        return 1
    fi
    printf '%s\n' "$content" >"$path"
    log "wrote $path"
    return 0
}

running() {
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}

stop_daemon() {
    local pidfile=$1 name=$2 pid
    running "$pidfile" "$name" || return 0
    pid=$(cat "$pidfile")
    log "stopping $name (pid $pid) for the new configuration"
    kill "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    die "$name (pid $pid) did not stop within 10 s"
}

start_daemons() {
    install -d -o slurm -g slurm "$STATE_DIR/slurmctld" "$LOG_DIR"
    install -d "$STATE_DIR/slurmd"
    if ! running /run/slurmctld.pid slurmctld; then
        log "starting slurmctld"
        slurmctld || die "slurmctld did not start; see $LOG_DIR/slurmctld.log"
    fi
    if ! running /run/slurmd.pid slurmd; then
        log "starting slurmd"
        slurmd || die "slurmd did not start; see $LOG_DIR/slurmd.log"
    fi
}

wait_idle() {
    local state="" start=$SECONDS resumed=0
    while [ $((SECONDS - start)) -lt "$WAIT_S" ]; do
        state=$(sinfo --noheader --nodes "$NODE" --format %T 2>/dev/null | head -n 1 || true)
        case "$state" in
            idle | mixed | allocated | completing)
                log "node $NODE is $state"
                return 0
                ;;
            inval*)
                # slurmd reported hardware that contradicts slurm.conf; waiting will not fix it.
                die "node $NODE is invalid: $(scontrol show node "$NODE" | grep -o 'Reason=.*')"
                ;;
            down* | drain*)
                # A node that went down with the old daemons stays down until resumed once.
                if [ "$resumed" = 0 ]; then
                    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
                    resumed=1
                fi
                ;;
        esac
        sleep 0.5
    done
    die "node $NODE is '${state:-unreachable}' after ${WAIT_S} s; see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log"
}

main() {
    [ "$(id -u)" = 0 ] || { log "needs root to install and start the SLURM daemons"; exit 2; }
    install_packages "${1:-}"
    NODE=$(hostname -s)
    start_munge
    mkdir -p "$CONF_DIR"
    local changed=0 gres
    gres=$(printf '%s\n%s\n' "$MARKER" "$(gres_lines | tail -n +2)")
    write_if_changed "$CONF" "$(render_conf)" && changed=1
    write_if_changed "$GRES_CONF" "$gres" && changed=1
    if [ "$changed" = 1 ]; then
        stop_daemon /run/slurmd.pid slurmd
        stop_daemon /run/slurmctld.pid slurmctld
    fi
    start_daemons
    wait_idle
}

main "$@"

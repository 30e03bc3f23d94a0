#!/usr/bin/env bash
# Stops the one-node cluster that start_cluster.sh started: slurmd, slurmctld and munged, each by
# the pid in its pid file. The configuration, state and logs stay, so start_cluster.sh brings the
# same cluster back. Usage: bash scripts/slurm/stop_cluster.sh
set -euo pipefail

log() { echo "stop_cluster: $*" >&2; }

stop() {
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    # A stale pid file may name some other process by now.
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 0
    kill "$pid"
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            # slurmctld runs as SlurmUser and cannot delete its root-owned pid file; Debian's
            # package scripts take a pid file left behind for a running controller.
            rm -f "$pidfile"
            log "stopped $name (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    log "error: $name (pid $pid) did not stop within 10 s"
    return 1
}

[ "$(id -u)" = 0 ] || { log "needs root to stop the SLURM daemons"; exit 2; }
stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/munge/munged.pid munged

#!/usr/bin/env bash
# slurm-local-down.sh - stop only the daemons that slurm-local-up.sh started (by recorded PID).
#   SLURM_LOCAL_PURGE=1  also wipe Slurm job state (StateSaveLocation, spool) and /var/log/slurm
set -uo pipefail
STATE=${SLURM_LOCAL_STATE:-/run/slurm-local}
log() { echo "[slurm-local-down $(date +%T)] $*"; }
[ -d "$STATE" ] || { log "nothing recorded in $STATE"; exit 0; }

pid_alive() { kill -0 "$1" 2>/dev/null && [ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ]; }

# cancel leftover jobs first, but only on a controller we started
if [ -s "$STATE/slurmctld.pid" ] && pid_alive "$(cat "$STATE/slurmctld.pid")" slurmctld; then
  ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  [ -n "${ids// }" ] && { log "cancelling jobs: $ids"; scancel $ids; sleep 2; }
fi

# reverse start order
for name in slurmd slurmctld slurmdbd mariadb munged; do
  f=$STATE/$name.pid
  [ -s "$f" ] || continue
  pid=$(cat "$f"); comm=$(cat "$STATE/$name.comm" 2>/dev/null || echo "$name")
  if pid_alive "$pid" "$comm"; then
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid"; fi
    log "stopped $name (pid $pid)"
  else
    log "$name (pid $pid) not running any more (or pid reused) - skipped"
  fi
  # slurmctld/slurmdbd leave their pid file behind; a stale /run/slurmctld.pid makes the
  # Debian prerm run scancel (and fail) when the package is later removed
  case $name in
    slurmd|slurmctld|slurmdbd) dpf=/run/$name.pid ;;
    mariadb) dpf=/run/mysqld/mariadb.pid ;;
    munged) dpf=/run/munge/munged.pid ;;
  esac
  [ "$(cat "$dpf" 2>/dev/null)" = "$pid" ] && ! kill -0 "$pid" 2>/dev/null && rm -f "$dpf"
  rm -f "$f" "$STATE/$name.comm"
done

if [ "${SLURM_LOCAL_PURGE:-0}" = 1 ]; then
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/* /var/log/slurm/*
  log "purged Slurm state and logs"
fi
rmdir "$STATE" 2>/dev/null || true

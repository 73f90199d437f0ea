#!/usr/bin/env bash
# Exit 0 when the fer-edge heartbeat file is younger than MAX_AGE seconds, 1 otherwise.
# Usage: healthcheck.sh [HEARTBEAT_FILE] [MAX_AGE_SECONDS]   (for a systemd timer or cron)
set -euo pipefail

heartbeat=${1:-/var/lib/fer-edge/heartbeat}
max_age=${2:-30}

case "$max_age" in
    ''|*[!0-9]*) printf 'healthcheck: MAX_AGE must be a whole number of seconds, got %s\n' "$max_age" >&2; exit 2 ;;
esac
if [ ! -e "$heartbeat" ]; then
    printf 'healthcheck: no heartbeat at %s: is fer-edge running with --heartbeat?\n' "$heartbeat" >&2
    exit 1
fi
age=$(( $(date +%s) - $(stat -c %Y "$heartbeat") ))
if [ "$age" -gt "$max_age" ]; then
    printf 'healthcheck: heartbeat is %ss old (limit %ss)\n' "$age" "$max_age" >&2
    exit 1
fi
printf 'healthcheck: ok (heartbeat %ss old)\n' "$age"

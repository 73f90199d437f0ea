#!/usr/bin/env bash
# Runs inside the root booted by booted_unit.sh, as a oneshot unit: records what systemd says about the
# running kiosk, runs the health check, stops the kiosk, records again, collects the journal, powers off.
set -euo pipefail

out=/check
show() {
    systemctl show fer-edge.service -p ActiveState -p SubState -p Result -p NRestarts -p ExecMainStatus \
        -p ExecMainCode -p StatusText -p User
}
for _ in $(seq 1 90); do  # active means it sent READY=1; the heartbeat means frames are flowing
    if [ "$(systemctl show -p ActiveState --value fer-edge.service || true)" = active ] && [ -e /var/lib/fer-edge/heartbeat ]; then
        break
    fi
    sleep 1
done
sleep 10
show > "$out/running.txt"
status=0
systemctl start fer-edge-healthcheck.service || status=$?
echo "HealthcheckExit=$status" > "$out/healthcheck.txt"
systemctl show fer-edge-healthcheck.service -p Result -p ExecMainStatus >> "$out/healthcheck.txt"
systemctl stop fer-edge.service
show > "$out/stopped.txt"
journalctl -u fer-edge.service -u fer-edge-healthcheck.service -o cat --no-pager > "$out/journal.txt"
cp /var/log/fer-edge/events.jsonl "$out/events.jsonl"
touch "$out/done"
systemctl poweroff

#!/usr/bin/env bash
# Prove the sandboxed units run under a live systemd: install fer-edge with install.sh into a Debian bookworm
# root, boot that root with systemd-nspawn (systemd as its PID 1), let the kiosk unit process a video there
# with every sandbox filter on, run the health check, stop the kiosk, and write what systemd and the
# kiosk reported to report.json. Needs root, debootstrap and systemd-nspawn (Debian: systemd-container).
# Usage: booted_unit.sh [--root DIR] [--out DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKOUT=$(cd "$HERE/.." && pwd)
OUT="$CHECKOUT/build/booted-unit"
ROOT="$OUT/root"
NATIVE_PYTHON=${NATIVE_PYTHON:-python3}
MIRROR=http://deb.debian.org/debian
CLEAN_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)
MOUNTED=()
# shellcheck source=chroot_mounts.sh
. "$HERE/chroot_mounts.sh"

usage() {
    cat <<USAGE
Usage: booted_unit.sh [--root DIR] [--out DIR]

  --root DIR   the bookworm root to build or reuse (default $ROOT)
  --out DIR    where install.log, boot.log and report.json go (default $OUT)
Environment: NATIVE_PYTHON, a Python with fer-edge[device], to write the test video (default python3).
Exit status: 0 when the kiosk ran sandboxed under systemd and stopped cleanly; 1 otherwise;
77 when this machine cannot do it (not root, no debootstrap or systemd-nspawn).
USAGE
}

log() { printf 'booted-unit: %s\n' "$*"; }
die() { printf 'booted-unit: error: %s\n' "$*" >&2; exit 1; }
cannot() { printf 'booted-unit: cannot run here: %s\n' "$*" >&2; exit 77; }

cleanup() {
    local index
    for (( index=${#MOUNTED[@]} - 1; index >= 0; index-- )); do
        umount -l "${MOUNTED[$index]}" 2>/dev/null || true
    done
}

build_root() {
    command -v debootstrap >/dev/null || cannot "apt-get install debootstrap"
    command -v systemd-nspawn >/dev/null || cannot "apt-get install systemd-container"
    if [ -e "$ROOT/.fer-edge-root" ]; then
        log "reusing the root in $ROOT"
        return
    fi
    log "building a Debian bookworm root in $ROOT (debootstrap)"
    release_stale_mounts "$ROOT"  # a killed debootstrap leaves its /proc mounted there
    rm -rf --one-file-system "$ROOT" && mkdir -p "$ROOT"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,passwd \
        bookworm "$ROOT" "$MIRROR" > "$OUT/debootstrap.log" 2>&1 || die "debootstrap failed; see $OUT/debootstrap.log"
    touch "$ROOT/.fer-edge-root"
}

install_in_root() {
    local ca=/usr/local/share/host-ca.crt
    mount_chroot "$ROOT"
    rm -rf "$ROOT/opt/src" && mkdir -p "$ROOT/opt/src/fer-edge"
    git -C "$CHECKOUT" ls-files -z --cached --others --exclude-standard \
        | tar -C "$CHECKOUT" --null -T - -cf - | tar -C "$ROOT/opt/src/fer-edge" -xf -
    log "running install.sh inside the root (systemd is not running yet: it enables the units for the boot)"
    chroot "$ROOT" /usr/bin/env -i "${CLEAN_ENV[@]}" PIP_CERT="$ca" REQUESTS_CA_BUNDLE="$ca" SSL_CERT_FILE="$ca" \
        bash /opt/src/fer-edge/firmware_scripts/install.sh --source "/opt/src/fer-edge[device]" --kiosk-id booted \
        > "$OUT/install.log" 2>&1 || { tail -n 30 "$OUT/install.log" >&2; die "install.sh failed; see $OUT/install.log"; }
    cleanup
    MOUNTED=()
}

stage_check() {
    local media="$ROOT/srv/fer-edge-test"
    mkdir -p "$media" "$ROOT/check"
    rm -f "$ROOT/check/"* "$ROOT/var/log/fer-edge/events.jsonl"
    # 60 s of visitors: the kiosk is still running when the check looks, 25 s after boot.
    "$NATIVE_PYTHON" - "$CHECKOUT/tests/data/astronaut.jpg" "$media/visitors.mp4" <<'PY'
import sys

import cv2

from fer_edge.images import read_image
from fer_edge.synthetic import visitor_frames

writer = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
for frame, _ in visitor_frames([read_image(sys.argv[1])] * 15, fps=15):
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
writer.release()
PY
    chmod -R a+rX "$media"
    sed -i -e 's|^FER_EDGE_SOURCE=.*|FER_EDGE_SOURCE=/srv/fer-edge-test/visitors.mp4|' \
        -e 's|^FER_EDGE_THREADS=.*|FER_EDGE_THREADS=1|' "$ROOT/etc/fer-edge/fer-edge.env"
    install -m 0755 "$HERE/booted_unit_check.sh" "$ROOT/usr/local/sbin/fer-edge-boot-check"
    cat > "$ROOT/etc/systemd/system/fer-edge-boot-check.service" <<'UNIT'
[Unit]
Description=booted_unit.sh: look at the running kiosk, stop it, power off
After=fer-edge.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/fer-edge-boot-check
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$ROOT" systemctl enable fer-edge-boot-check.service > /dev/null 2>&1
}

boot() {
    log "booting the root with systemd-nspawn (systemd as PID 1)"
    local status=0
    timeout 300 systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit --machine=fer-edge-booted \
        > "$OUT/boot.log" 2>&1 < /dev/null || status=$?
    [ -e "$ROOT/check/done" ] || { tail -n 40 "$OUT/boot.log" >&2; die "the check never finished (nspawn $status)"; }
    cp "$ROOT"/check/* "$OUT/"
}

main() {
    local args=("$@")
    while [ $# -gt 0 ]; do
        case "$1" in
            --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
            --out) OUT=${2:?--out needs a folder}; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    [ "$(id -u)" -eq 0 ] || cannot "run as root (debootstrap, chroot and systemd-nspawn need it)"
    private_mounts "${args[@]}"
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    trap cleanup EXIT
    build_root
    install_in_root
    stage_check
    boot
    "$NATIVE_PYTHON" "$HERE/booted_unit_report.py" "$OUT" --json "$OUT/report.json"
}

main "$@"

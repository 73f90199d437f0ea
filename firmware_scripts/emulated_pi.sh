#!/usr/bin/env bash
# Prove the Pi install on arm64 without a Pi: build (or reuse) a Debian bookworm arm64 root, the base of
# Raspberry Pi OS 64-bit, run install.sh inside it under qemu-user emulation exactly as on a Pi, run
# fer-edge there on real photos and a short video, run the same natively, and compare the two.
# Needs root, qemu-user-static and debootstrap (Debian packages). Usage: emulated_pi.sh [--help]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKOUT=$(cd "$HERE/.." && pwd)
OUT="$CHECKOUT/build/emulated-pi"
ROOT="$OUT/root"
PHOTOS="$CHECKOUT/../shared/data/photos"
PER_CLASS=3
NATIVE_PYTHON=${NATIVE_PYTHON:-python3}
MIRROR=http://deb.debian.org/debian
BINFMT=/proc/sys/fs/binfmt_misc
ENTRY=fer-edge-aarch64
REGISTERED=0
MOUNTED=()
# shellcheck source=chroot_mounts.sh
. "$HERE/chroot_mounts.sh"
# A Pi's root shell, not this machine's environment (its pip settings would leak into the root).
CLEAN_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)

usage() {
    cat <<USAGE
Usage: emulated_pi.sh [--root DIR] [--out DIR] [--photos DIR] [--per-class N]

  --root DIR       the arm64 root to build or reuse (default $ROOT)
  --out DIR        where the runs, the comparison and report.json go (default $OUT)
  --photos DIR     an ImageFolder of real photos (default ../shared/data/photos)
  --per-class N    photos taken from each class (default $PER_CLASS)
Environment: NATIVE_PYTHON, a Python with fer-edge[device] installed, for the native run (default python3).
Exit status: 0 when the emulated install works and agrees with the native run; 1 otherwise;
77 when this machine cannot emulate arm64 (not root, no qemu-user-static, binfmt_misc unavailable).
USAGE
}

log() { printf 'emulated-pi: %s\n' "$*"; }
die() { printf 'emulated-pi: error: %s\n' "$*" >&2; exit 1; }
cannot() { printf 'emulated-pi: cannot emulate here: %s\n' "$*" >&2; exit 77; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
            --out) OUT=${2:?--out needs a folder}; shift 2 ;;
            --photos) PHOTOS=${2:?--photos needs a folder}; shift 2 ;;
            --per-class) PER_CLASS=${2:?--per-class needs a number}; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
    done
}

cleanup() {
    local index
    for (( index=${#MOUNTED[@]} - 1; index >= 0; index-- )); do
        umount -l "${MOUNTED[$index]}" 2>/dev/null || true
    done
    if [ "$REGISTERED" -eq 1 ] && [ -e "$BINFMT/$ENTRY" ]; then
        echo -1 > "$BINFMT/$ENTRY"
        log "removed the binfmt entry $ENTRY"
    fi
}

register_emulator() {
    command -v qemu-aarch64-static >/dev/null || cannot "apt-get install qemu-user-static"
    command -v debootstrap >/dev/null || cannot "apt-get install debootstrap"
    if [ ! -e "$BINFMT/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || cannot "binfmt_misc cannot be mounted"
        MOUNTED+=("$BINFMT")
    fi
    if grep -qs '^enabled' "$BINFMT/qemu-aarch64" "$BINFMT/$ENTRY"; then
        log "arm64 emulation already registered"
        return
    fi
    # F: the kernel opens the emulator now, so it also runs inside the chroot.
    printf '%s' ":$ENTRY:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$(command -v qemu-aarch64-static):F" \
        > "$BINFMT/register" 2>/dev/null || cannot "the kernel refused the binfmt_misc entry"
    REGISTERED=1
    log "registered arm64 emulation ($ENTRY)"
}

build_root() {
    if [ -e "$ROOT/.fer-edge-root" ]; then  # debootstrap finished there before
        log "reusing the arm64 root in $ROOT"
        return
    fi
    log "building a Debian bookworm arm64 root in $ROOT (debootstrap, a few minutes)"
    release_stale_mounts "$ROOT"  # a killed debootstrap leaves its /proc mounted there
    rm -rf --one-file-system "$ROOT"
    mkdir -p "$ROOT"
    debootstrap --arch arm64 --variant=minbase --include=systemd,systemd-sysv,ca-certificates,passwd \
        bookworm "$ROOT" "$MIRROR" > "$OUT/debootstrap.log" 2>&1 || die "debootstrap failed; see $OUT/debootstrap.log"
    touch "$ROOT/.fer-edge-root"
}

stage_inputs() {
    local work=$1 class photos
    rm -rf "$work"
    mkdir -p "$work/photos"
    for class in "$PHOTOS"/*/; do
        mkdir -p "$work/photos/$(basename "$class")"
        mapfile -t photos < <(find "$class" -maxdepth 1 -type f -name '*.jp*g' | sort)
        cp "${photos[@]:0:$PER_CLASS}" "$work/photos/$(basename "$class")/"
    done
    "$NATIVE_PYTHON" "$HERE/compare_arm64.py" video "$CHECKOUT/tests/data/astronaut.jpg" "$work/video.mp4"
    "$NATIVE_PYTHON" "$HERE/compare_arm64.py" pixels "$work/photos" "$work/pixels.npy"  # the classifier's input
    git -C "$CHECKOUT" ls-files -z --cached --others --exclude-standard \
        | tar -C "$CHECKOUT" --null -T - -cf "$work/fer-edge.tar"  # the working tree, as a fresh clone has it
}

install_in_root() {
    local ca=/usr/local/share/host-ca.crt  # Debian's pip reads REQUESTS_CA_BUNDLE, not only PIP_CERT
    rm -rf "$ROOT/opt/src" && mkdir -p "$ROOT/opt/src/fer-edge"
    tar -C "$ROOT/opt/src/fer-edge" -xf "$ROOT/tmp/work/fer-edge.tar"
    log "running install.sh inside the arm64 root (as root, as on a Pi)"
    chroot "$ROOT" /usr/bin/env -i "${CLEAN_ENV[@]}" PIP_CERT="$ca" REQUESTS_CA_BUNDLE="$ca" SSL_CERT_FILE="$ca" \
        bash /opt/src/fer-edge/firmware_scripts/install.sh --source "/opt/src/fer-edge[device]" \
        > "$OUT/install.log" 2>&1 || { tail -n 30 "$OUT/install.log" >&2; die "install.sh failed; see $OUT/install.log"; }
    tail -n 4 "$OUT/install.log"
}

run_all() {  # run_all NAME COMMAND...: the same fer-edge runs, emulated or native, in the work folder's NAME/
    local name=$1; shift
    rm -rf "$name" && mkdir -p "$name"
    "$@" info --json > "$name/info.json"
    "$@" predict photos/*/* --json > "$name/predict.json" 2> "$name/predict.err" || true  # compared below
    "$@" run --source video.mp4 --jsonl "$name/run.jsonl" --smoothing 0 > "$name/run.txt"
    "$@" bench --no-full --data photos --per-class 1 --threads 1 --runs 10 --warmup 2 --json "$name/bench.json" \
        > "$name/bench.txt"
}

in_root() {  # fer-edge as installed in the arm64 root, run from its work folder
    chroot "$ROOT" /usr/bin/env -i "${CLEAN_ENV[@]}" \
        sh -c 'cd /tmp/work && exec /opt/fer-edge/venv/bin/fer-edge "$@"' sh "$@"
}

native_python() {  # NATIVE_PYTHON as an absolute path (the runs cd into the work folder); a venv's link is kept
    command -v "$NATIVE_PYTHON" >/dev/null || die "NATIVE_PYTHON=$NATIVE_PYTHON is not a Python that can run"
    case "$NATIVE_PYTHON" in
        */*) NATIVE_PYTHON="$(cd "$(dirname "$NATIVE_PYTHON")" && pwd)/$(basename "$NATIVE_PYTHON")" ;;
    esac
}

main() {
    parse_args "$@"
    native_python
    [ -d "$PHOTOS" ] || die "no photos at $PHOTOS (../shared/data/photos)"
    [ "$(id -u)" -eq 0 ] || cannot "run as root (binfmt_misc, chroot and mounts need it)"
    private_mounts "$@"
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    ROOT=$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)
    trap cleanup EXIT
    register_emulator
    build_root
    mount_chroot "$ROOT"
    stage_inputs "$ROOT/tmp/work"
    install_in_root
    local work="$ROOT/tmp/work" started=$SECONDS
    log "fer-edge info, predict, run and bench inside the emulated root"
    (cd "$work" && run_all arm64 in_root)
    chroot "$ROOT" /usr/bin/env -i "${CLEAN_ENV[@]}" /opt/fer-edge/venv/bin/python \
        /opt/src/fer-edge/firmware_scripts/compare_arm64.py classify /tmp/work/pixels.npy /tmp/work/arm64/classifier.json
    local emulated=$((SECONDS - started))
    log "the same natively ($NATIVE_PYTHON)"
    (cd "$work" && run_all native "$NATIVE_PYTHON" -m fer_edge)
    "$NATIVE_PYTHON" "$HERE/compare_arm64.py" classify "$work/pixels.npy" "$work/native/classifier.json"
    rm -rf "$OUT/arm64" "$OUT/native" && cp -r "$work/arm64" "$work/native" "$OUT/"
    "$NATIVE_PYTHON" "$HERE/compare_arm64.py" compare "$OUT/native" "$OUT/arm64" --root "$ROOT" \
        --install-log "$OUT/install.log" --emulated-seconds "$emulated" --json "$OUT/report.json"
}

main "$@"

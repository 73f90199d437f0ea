#!/usr/bin/env bash
# Install (or remove) fer-edge as a kiosk service on Raspberry Pi OS 64-bit (Bookworm or later)
# or any Debian arm64/x86_64. Safe to run twice. See `install.sh --help`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/fer-edge
CONFIG_DIR=/etc/fer-edge
UNIT_DIR=/etc/systemd/system
SERVICE_USER=fer-edge
SOURCE="fer-edge[device]"
LOCK="$HERE/requirements-device.txt"
SYSTEM=1
UNINSTALL=0
MQTT_URL=""
MQTT_ENV=""
KIOSK_ID=""

usage() {
    cat <<USAGE
Usage: install.sh [--prefix DIR] [--source SPEC] [--user NAME] [--kiosk-id NAME]
                  [--mqtt URL] [--mqtt-env FILE] [--no-system] [--uninstall]

  --prefix DIR   install the virtual environment under DIR (default $PREFIX)
  --source SPEC  what pip installs (default "$SOURCE"; e.g. "/path/to/checkout[device]")
  --user NAME    system user the service runs as (default $SERVICE_USER)
  --kiosk-id NAME  this kiosk's name in events and MQTT topics (FER_EDGE_KIOSK_ID)
  --mqtt URL     publish events to mqtt://HOST[:PORT]/TOPIC or mqtts://... (FER_EDGE_MQTT)
  --mqtt-env FILE  credentials (FER_EDGE_MQTT_USERNAME=..., _PASSWORD, _CA_FILE, ...), copied to
                 $CONFIG_DIR/mqtt.env readable by root and the service's group only
  --no-system    no apt, user, or systemd changes: a throwaway install under --prefix
                 (config and the rendered unit go to DIR/etc)
  --uninstall    stop and remove the service, the virtual environment and the user
                 (settings in $CONFIG_DIR and logs are kept)
USAGE
}

log() { printf 'fer-edge install: %s\n' "$*"; }
die() { printf 'fer-edge install: error: %s\n' "$*" >&2; exit 1; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
            --source) SOURCE=${2:?--source needs a pip requirement}; shift 2 ;;
            --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
            --kiosk-id) KIOSK_ID=${2:?--kiosk-id needs a name}; shift 2 ;;
            --mqtt) MQTT_URL=${2:?--mqtt needs a URL}; shift 2 ;;
            --mqtt-env) MQTT_ENV=${2:?--mqtt-env needs a file}; shift 2 ;;
            --no-system) SYSTEM=0; shift ;;
            --uninstall) UNINSTALL=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    case "$MQTT_URL" in
        ""|mqtt://?*/?*|mqtts://?*/?*) ;;
        *) die "--mqtt $MQTT_URL: expected mqtt://HOST[:PORT]/TOPIC or mqtts://..." ;;
    esac
    case "$KIOSK_ID" in
        *[/+#[:space:]]*) die "--kiosk-id $KIOSK_ID: no /, +, # or spaces (it becomes part of MQTT topics)" ;;
    esac
    if [ -n "$MQTT_ENV" ] && [ ! -f "$MQTT_ENV" ]; then
        die "--mqtt-env $MQTT_ENV: no such file"
    fi
    if [ "$SYSTEM" -eq 0 ]; then
        CONFIG_DIR="$PREFIX/etc"
        UNIT_DIR="$PREFIX/etc"
    fi
}

check_platform() {
    [ -r /etc/os-release ] || die "no /etc/os-release: only Debian-based systems are supported"
    # shellcheck disable=SC1091
    . /etc/os-release
    case " ${ID:-} ${ID_LIKE:-} " in
        *" debian "*|*" raspbian "*) ;;
        *) die "unsupported system '${ID:-unknown}': Raspberry Pi OS or Debian is required" ;;
    esac
    case "$(uname -m)" in
        aarch64|x86_64) ;;
        *) die "unsupported CPU '$(uname -m)': use a 64-bit OS (aarch64) or x86_64" ;;
    esac
    command -v python3 >/dev/null || [ "$SYSTEM" -eq 1 ] || die "python3 is missing"
    if [ "$SYSTEM" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
        die "run as root (sudo), or use --no-system --prefix DIR for a user-level install"
    fi
}

install_packages() {
    log "installing system packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q python3 python3-venv python3-pip
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
        apt-get install -y -q python3-picamera2
    fi
}

create_user() {
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        log "creating system user $SERVICE_USER"
        useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
    usermod -a -G video "$SERVICE_USER"
}

create_venv() {
    if [ ! -x "$PREFIX/venv/bin/python" ]; then
        log "creating the virtual environment in $PREFIX/venv"
        mkdir -p "$PREFIX"
        # System site packages let the venv see Debian's python3-picamera2 (libcamera).
        python3 -m venv --system-site-packages "$PREFIX/venv"
    fi
    local pip=("$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check)
    # Every dependency is pinned and checked against the SHA-256 of its wheel; then fer-edge itself,
    # built (for a checkout) with the hash-checked build tools, and a check that nothing is missing.
    log "installing the device set with pinned hashes from $(basename "$LOCK")"
    "${pip[@]}" --require-hashes --only-binary=:all: -r "$LOCK" || die "a dependency failed its hash check or has no wheel here"
    log "installing $SOURCE"
    "${pip[@]}" --no-deps --no-build-isolation "$SOURCE"
    check_dependencies || die "fer-edge's device dependencies are incomplete: add them to constraints-device.txt and regenerate $(basename "$LOCK") with lock_device.sh"
    "$PREFIX/venv/bin/fer-edge" --version >/dev/null || die "fer-edge did not install correctly"
}

check_dependencies() {
    # Every requirement of fer-edge and of its device extra installed at an allowed version (pip check
    # ignores extras, and sees Debian's packages through the system site packages).
    "$PREFIX/venv/bin/python" -I - <<'PY'  # -I: never the metadata of a checkout in the current folder
import sys
from importlib.metadata import PackageNotFoundError, requires, version
from packaging.requirements import Requirement

problems = []
for line in requires("fer-edge") or []:
    requirement = Requirement(line)
    if requirement.marker and not requirement.marker.evaluate({"extra": "device"}):
        continue
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        problems.append(f"{requirement}: not installed")
        continue
    if not requirement.specifier.contains(installed, prereleases=True):
        problems.append(f"{requirement}: {installed} installed")
for problem in problems:
    print(f"fer-edge install: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

write_config() {
    mkdir -p "$CONFIG_DIR"
    if [ -e "$CONFIG_DIR/fer-edge.env" ]; then
        log "keeping existing settings in $CONFIG_DIR/fer-edge.env"
    else
        install -m 0644 "$HERE/fer-edge.env" "$CONFIG_DIR/fer-edge.env"
        log "settings written to $CONFIG_DIR/fer-edge.env"
    fi
    if [ -n "$KIOSK_ID" ]; then set_setting FER_EDGE_KIOSK_ID "$KIOSK_ID"; fi
    if [ -n "$MQTT_URL" ]; then set_setting FER_EDGE_MQTT "$MQTT_URL"; fi
    if [ -n "$MQTT_ENV" ]; then
        if [ "$SYSTEM" -eq 1 ]; then
            install -m 0640 -o root -g "$SERVICE_USER" "$MQTT_ENV" "$CONFIG_DIR/mqtt.env"
        else
            install -m 0600 "$MQTT_ENV" "$CONFIG_DIR/mqtt.env"
        fi
        log "MQTT credentials copied to $CONFIG_DIR/mqtt.env (readable by the service only)"
    fi
}

# KEY=VALUE in fer-edge.env: the line replaced, or added.
set_setting() {
    local key=$1 value=$2 file="$CONFIG_DIR/fer-edge.env"
    grep -v "^$key=" "$file" > "$file.tmp" || true
    printf '%s=%s\n' "$key" "$value" >> "$file.tmp"
    chmod 0644 "$file.tmp"
    mv "$file.tmp" "$file"
    log "$key=$value in $file"
}

render_unit() {
    local name=$1
    sed -e "s|/opt/fer-edge|$PREFIX|g" -e "s|/etc/fer-edge|$CONFIG_DIR|g" \
        -e "s|^User=fer-edge|User=$SERVICE_USER|" -e "s|^Group=fer-edge|Group=$SERVICE_USER|" \
        "$HERE/$name" > "$UNIT_DIR/$name.tmp"
    mv "$UNIT_DIR/$name.tmp" "$UNIT_DIR/$name"
}

install_units() {
    mkdir -p "$UNIT_DIR"
    install -m 0755 "$HERE/healthcheck.sh" "$PREFIX/healthcheck.sh"
    for unit in fer-edge.service fer-edge-healthcheck.service fer-edge-healthcheck.timer; do
        render_unit "$unit"
    done
    if [ "$SYSTEM" -eq 1 ] && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now fer-edge.service fer-edge-healthcheck.timer
        log "service started: journalctl -u fer-edge -f"
    elif [ "$SYSTEM" -eq 1 ]; then  # a chroot or an image being built: enable for the next boot
        systemctl enable fer-edge.service fer-edge-healthcheck.timer
        log "systemd is not running here: units enabled for the next boot, not started"
    else
        log "units rendered into $UNIT_DIR (not enabled: --no-system)"
    fi
}

uninstall() {
    if [ "$SYSTEM" -eq 1 ]; then
        systemctl disable --now fer-edge.service fer-edge-healthcheck.timer 2>/dev/null || true
    fi
    rm -f "$UNIT_DIR/fer-edge.service" "$UNIT_DIR/fer-edge-healthcheck.service" "$UNIT_DIR/fer-edge-healthcheck.timer"
    if [ "$SYSTEM" -eq 1 ]; then
        systemctl daemon-reload
        if id -u "$SERVICE_USER" >/dev/null 2>&1; then
            userdel "$SERVICE_USER"
        fi
    fi
    rm -rf "$PREFIX/venv" "$PREFIX/healthcheck.sh"
    log "removed; settings in $CONFIG_DIR and logs are kept"
}

main() {
    parse_args "$@"
    check_platform
    if [ "$UNINSTALL" -eq 1 ]; then
        uninstall
        return
    fi
    if [ "$SYSTEM" -eq 1 ]; then
        install_packages
        create_user
    fi
    create_venv
    write_config
    install_units
    log "done: $PREFIX/venv/bin/fer-edge info"
}

main "$@"

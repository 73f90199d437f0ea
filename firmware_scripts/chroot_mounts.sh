#!/usr/bin/env bash
# Sourced by emulated_pi.sh and booted_unit.sh: what a Debian root needs before install.sh runs in it.
set -euo pipefail

# mount_chroot ROOT: mount /proc, /dev and /dev/pts in ROOT (each appended to the caller's MOUNTED array, for
# its cleanup), and give ROOT the host's resolv.conf and CA bundle (a proxy's CA) as /usr/local/share/host-ca.crt.
# No /sys: under arm64 emulation LiteRT's CPU detection (cpuinfo) crashes reading the host's x86 sysfs; without
# it, it falls back to what qemu reports.
mount_chroot() {
    local root=$1 target
    for target in proc dev dev/pts; do
        mkdir -p "$root/$target"
        case "$target" in
            proc) mount -t proc proc "$root/proc" ;;
            *) mount --bind "/$target" "$root/$target" ;;
        esac
        MOUNTED+=("$root/$target")
    done
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/host-ca.crt"
}

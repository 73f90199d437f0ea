#!/usr/bin/env bash
# Sourced by emulated_pi.sh and booted_unit.sh: what a Debian root needs before install.sh runs in it.
set -euo pipefail

# private_mounts ARGS...: run the calling script again, with ARGS, in a private mount namespace (once), so that
# the mounts it makes in its root exist only while it runs: a run killed before its cleanup (SIGKILL, a session
# that ends) leaves none behind, and an rm -rf of the folder can never reach the host's /dev through them.
private_mounts() {
    [ -z "${FER_EDGE_PRIVATE_MOUNTS:-}" ] || return 0
    command -v unshare >/dev/null || cannot "apt-get install util-linux (unshare keeps the root's mounts private)"
    unshare --mount --propagation private true 2>/dev/null || cannot "unshare --mount is not permitted here"
    FER_EDGE_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
}

# release_stale_mounts ROOT: lazily unmount whatever is still mounted inside ROOT, deepest first: a run from before
# private_mounts, killed before its cleanup, left the host's /dev bound there, and an rm -rf would reach into it.
release_stale_mounts() {
    local root mount
    root=$(realpath "$1")
    while read -r mount; do
        umount -l "$mount" && printf 'released a stale mount: %s\n' "$mount"
    done < <(awk -v root="$root/" 'index($2, root) == 1 {print $2}' /proc/self/mounts | sort -r)
}

# mount_chroot ROOT: mount /proc, /dev and /dev/pts in ROOT (each appended to the caller's MOUNTED array, for
# its cleanup), and give ROOT the host's resolv.conf and CA bundle (a proxy's CA) as /usr/local/share/host-ca.crt.
# No /sys: under arm64 emulation LiteRT's CPU detection (cpuinfo) crashes reading the host's x86 sysfs; without
# it, it falls back to what qemu reports.
mount_chroot() {
    local root=$1 target
    release_stale_mounts "$root"
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

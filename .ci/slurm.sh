#!/usr/bin/env bash
# Debian packages the test-suite needs (SLURM for the real-cluster tests,
# Chromium for the dashboard screenshot).  Idempotent: skips what is present.
#
#   .ci/slurm.sh install       slurmctld slurmd slurm-client munge
#   .ci/slurm.sh install-all   the above plus chromium (one apt-get call)
#   .ci/slurm.sh check         print what is installed; exit 1 if SLURM is missing
#
# Must run as root (CI containers are).  The daemons are NOT started here:
# tests/slurm.py starts a private, throw-away cluster per test session.
set -euo pipefail

SLURM_PKGS=(slurmctld slurmd slurm-client munge)
CHROMIUM_PKGS=(chromium)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

apt_install() {
    # $@ = packages; one update + install; no recommends keeps it small (~13 MB for SLURM)
    [ "$#" -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "$@"
}

missing_slurm() {
    if have sbatch && have slurmctld && have slurmd; then return 0; fi
    printf '%s\n' "${SLURM_PKGS[@]}"
}

missing_chromium() {
    if have chromium || have chromium-browser; then return 0; fi
    printf '%s\n' "${CHROMIUM_PKGS[@]}"
}

cmd="${1:-install}"
case "$cmd" in
    install)
        mapfile -t pkgs < <(missing_slurm)
        if [ "${#pkgs[@]}" -eq 0 ]; then echo "slurm: already installed"; exit 0; fi
        apt_install "${pkgs[@]}"
        ;;
    install-all)
        mapfile -t pkgs < <(missing_slurm; missing_chromium)
        if [ "${#pkgs[@]}" -eq 0 ]; then echo "slurm, chromium: already installed"; exit 0; fi
        apt_install "${pkgs[@]}"
        ;;
    check)
        for b in sbatch squeue slurmctld slurmd chromium; do
            if have "$b"; then echo "$b: $(command -v "$b" || echo /usr/sbin/$b)"; else echo "$b: missing"; fi
        done
        have slurmctld && have sbatch
        ;;
    *)
        echo "usage: $0 {install|install-all|check}" >&2
        exit 2
        ;;
esac

#!/usr/bin/env bash
# CI: every Debian package the tests use (SLURM + munge + chromium), one apt-get.
exec "$(dirname "$0")/slurm.sh" install-all

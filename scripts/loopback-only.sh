#!/usr/bin/env bash
# Runs a command inside a new network namespace that has only loopback, so nothing it starts
# (tests, the services they start, notebook kernels, Chromium) can reach beyond this machine.
# Refuses with one line, instead of running unguarded, where a namespace cannot be made.
# Usage: scripts/loopback-only.sh COMMAND [ARG...]
set -euo pipefail
refuse() { echo "loopback-only: refusing to run the tests unguarded: $*" >&2; exit 3; }
[ "$(id -u)" = 0 ] || refuse "a network namespace needs root (run as root, e.g. sudo make test)"
command -v unshare >/dev/null || refuse "unshare (util-linux) is not installed"
command -v ip >/dev/null || refuse "ip (iproute2) is not installed: apt-get install iproute2"
unshare --net true 2>/dev/null || refuse "unshare --net is not permitted here (no CAP_SYS_ADMIN?)"
exec unshare --net -- bash -c '
  ip link set lo up || { echo "loopback-only: cannot bring up lo in the namespace" >&2; exit 3; }
  echo "loopback-only: running in a network namespace with only loopback ($(ip -o addr show lo | awk "{print \$4}" | paste -sd" "))"
  exec "$@"' loopback-only "$@"

#!/usr/bin/env bash
# Installs the Debian packages incident-kit's demo and tests need, only those missing.
# Usage: scripts/install-system-deps.sh demo|test
set -euo pipefail
case "${1:-test}" in
  demo) pkgs=(postgresql git) ;;
  test) pkgs=(iproute2 util-linux postgresql postgresql-contrib git openssl redis-server prometheus prometheus-alertmanager
              prometheus-node-exporter prometheus-postgres-exporter mariadb-server nginx
              chromium zstd clickhouse-server) ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${missing[*]} (run as root or install them: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Services are started by incident-kit itself on loopback; keep Debian from starting its own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

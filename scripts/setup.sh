#!/usr/bin/env bash
# Installs the system packages the tests and the demo need: redis-server, and kcat (whose bundled
# librdkafka hosts the Kafka-protocol mock cluster). Quiet when everything is present.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "cdc-invalidator: missing ${missing[*]}; install the Debian packages: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "cdc-invalidator: missing ${missing[*]} and no apt-get here; install redis-server and kcat with your package manager" >&2
  exit 1
fi
echo "cdc-invalidator: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package may start a system redis on 6379; the tests start their own on random ports.
command -v redis-server >/dev/null && command -v kcat >/dev/null

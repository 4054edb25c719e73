#!/usr/bin/env bash
# Installs the system packages the tests and the demo need: redis-server, kcat (whose bundled
# librdkafka hosts the Kafka-protocol mock cluster) and postgresql (its binaries, for the tests that
# start a throwaway server). Quiet when everything is present.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
# Postgres for `mappings validate --database` tests; Debian keeps initdb off PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
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
command -v redis-server >/dev/null && command -v kcat >/dev/null
# The Debian packages may start system services (redis on 6379, postgres on 5432); the tests start their own on random ports.

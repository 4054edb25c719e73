#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need on a Debian machine, then fetches the real
# stack's jars once:
#   redis-server   the cache
#   kcat           its bundled librdkafka hosts the Kafka-protocol mock cluster (fast tests)
#   postgresql     initdb/postgres for the throwaway databases (Debezium's source, mappings validate)
#   a JDK 17+      Apache Kafka, Kafka Connect and the Debezium Postgres connector run as Java processes
#   maven          resolves their jars from the Maven registry into .stack/jars (stack/fetch-jars.sh)
# Quiet when everything is present. As root it installs what is missing with apt-get; otherwise it names
# the packages and stops. `--no-stack` skips the JDK, Maven and the jars (the mock-broker tests only).
set -euo pipefail
cd "$(dirname "$0")/.."

stack=1
[ "${1:-}" = "--no-stack" ] && stack=0

have_java() {
  local java=java
  [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java="$JAVA_HOME/bin/java"
  command -v "$java" >/dev/null 2>&1 || return 1
  # "17.0.15" / "21" / "1.8.0_392": the major version must be 17 or more.
  local v
  v=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
# Debian keeps initdb off PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ "$stack" = 1 ]; then
  have_java || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "cdc-invalidator: missing ${missing[*]}; install the Debian packages: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "cdc-invalidator: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
  fi
  echo "cdc-invalidator: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages may start system services (redis on 6379, postgres on 5432); the tests start
  # their own on random ports.
  command -v redis-server >/dev/null && command -v kcat >/dev/null
fi

[ "$stack" = 1 ] && bash stack/fetch-jars.sh
exit 0

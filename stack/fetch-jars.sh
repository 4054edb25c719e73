#!/usr/bin/env bash
# Resolves the real stack's jars (Kafka broker, Kafka Connect, the Debezium Postgres connector) with Maven
# from stack/maven/pom.xml into .stack/jars/<module>/ (git-ignored), once: a stamp holds the POMs' hash, and
# while it matches nothing is fetched — later runs need no network. STACK_JARS_DIR moves the folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jars=${STACK_JARS_DIR:-$root/.stack/jars}
hash=$(cat "$root"/stack/maven/pom.xml "$root"/stack/maven/*/pom.xml | sha256sum | cut -c1-16)
if [ -f "$jars/.stamp" ] && [ "$(cat "$jars/.stamp")" = "$hash" ]; then exit 0; fi
command -v mvn >/dev/null 2>&1 || { echo "cdc-invalidator: the real stack needs Maven (apt-get install maven) to fetch its jars" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "cdc-invalidator: the real stack needs a JDK 17+ (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
echo "cdc-invalidator: fetching the Kafka, Kafka Connect and Debezium jars with Maven into $jars (once)" >&2
rm -rf "$jars"
mkdir -p "$jars"
mvn -q -B -f "$root/stack/maven/pom.xml" -Dstack.jars="$jars" dependency:copy-dependencies
for m in kafka connect debezium-postgres; do
  [ -n "$(ls "$jars/$m"/*.jar 2>/dev/null)" ] || { echo "cdc-invalidator: maven left no jars in $jars/$m" >&2; exit 1; }
done
echo "$hash" >"$jars/.stamp"

#!/usr/bin/env bash
# Builds @confluentinc/kafka-javascript for the bench's client bake-off, from the npm registry's
# tarball only: its own install fetches a prebuilt binary, or librdkafka's dependency sources
# (zlib, OpenSSL, zstd, curl), from hosts outside the registries, so `npm install` of it fails
# here. This builds its bundled librdkafka against Debian's libraries instead (CKJS_LINKING=dynamic:
# librdkafka's ./configure without --install-deps) into .bench/confluent/kafka-javascript (or
# $CDCI_BENCH_CONFLUENT_DIR), where scripts/bench/clients/confluent.ts looks for it. It is not a
# dependency of the project. About 5 minutes on 2 cores. Usage: bash scripts/bench/build-confluent.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=${CDCI_BENCH_CONFLUENT_VERSION:-1.10.1}
dest=${CDCI_BENCH_CONFLUENT_DIR:-$root/.bench/confluent/kafka-javascript}
debs=(build-essential python3 pkg-config libssl-dev zlib1g-dev libzstd-dev libsasl2-dev liblz4-dev libcurl4-openssl-dev)

missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "build-confluent: apt-get install ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "build-confluent: needs the Debian packages ${missing[*]} (apt-get install them as root)" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@confluentinc/kafka-javascript@$version" >/dev/null)
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tmp"/confluentinc-kafka-javascript-*.tgz -C "$dest" --strip-components=1
cd "$dest"
# its runtime and build dependencies (nan, bindings, …), without its install script (the download)
npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock >/dev/null
nodedir=$(dirname "$(dirname "$(command -v node)")")
gyp_args=()
[ -f "$nodedir/include/node/node.h" ] && gyp_args+=("--nodedir=$nodedir")
echo "build-confluent: building librdkafka and the binding in $dest (several minutes)" >&2
CKJS_LINKING=dynamic npm run --silent configure -- "${gyp_args[@]}" >"$tmp/configure.log" 2>&1 || { tail -30 "$tmp/configure.log" >&2; exit 1; }
# the first build has been seen to fail where librdkafka's own make runs inside node-gyp's; the second then passes
CKJS_LINKING=dynamic JOBS=2 npm run --silent build >"$tmp/build.log" 2>&1 ||
  CKJS_LINKING=dynamic JOBS=1 npm run --silent build >"$tmp/build.log" 2>&1 || { grep -iE -m20 'error|undefined' "$tmp/build.log" >&2; tail -20 "$tmp/build.log" >&2; exit 1; }
# a consumer must come up: a binding with unresolved symbols only fails when one is created
node -e "
const k = require('$dest');
const c = new k.KafkaJS.Kafka({ kafkaJS: { brokers: ['127.0.0.1:1'], logLevel: 0 } }).consumer({ kafkaJS: { groupId: 'probe' } });
console.log('build-confluent: ok, ' + require('$dest/package.json').version + ' with librdkafka ' + k.librdkafkaVersion);
process.exit(0);
"

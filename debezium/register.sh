#!/bin/sh
# Registers the Debezium Postgres connector with Kafka Connect, or updates it, then waits until the
# connector and its task are RUNNING. Idempotent: `PUT /connectors/<name>/config` creates the connector
# or replaces its config (a rerun with the same config changes nothing).
#
# POSIX sh + curl only (runs in the curlimages/curl container of docker-compose.yml, or on a host:
#   CONNECT_URL=http://localhost:8083 debezium/register.sh).
#
# Environment:
#   CONNECT_URL       Kafka Connect REST base URL            default http://localhost:8083
#   CONNECTOR_NAME    connector name                         default cdc-invalidator-postgres
#   CONNECTOR_CONFIG  file with the connector's config map   default postgres-connector.json beside this script
#   MAX_TRIES         attempts of each wait (REST up, PUT accepted, RUNNING)   default 60
#   SLEEP_SECONDS     pause between attempts                 default 2
#
# Exit status: 0 when the connector and every task are RUNNING; 1 otherwise, with the last response body
# (the connector status, with the stack trace of a FAILED task) on stderr; 2 for a usage error.
set -eu

CONNECT_URL=${CONNECT_URL:-http://localhost:8083}
CONNECT_URL=${CONNECT_URL%/}
NAME=${CONNECTOR_NAME:-cdc-invalidator-postgres}
SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
CONFIG=${CONNECTOR_CONFIG:-$SCRIPT_DIR/postgres-connector.json}
MAX_TRIES=${MAX_TRIES:-60}
SLEEP_SECONDS=${SLEEP_SECONDS:-2}

log() { printf 'register: %s\n' "$*" >&2; }

case $MAX_TRIES in '' | *[!0-9]*) log "MAX_TRIES must be a number, got '$MAX_TRIES'"; exit 2 ;; esac
case $NAME in '' | *[!A-Za-z0-9._-]*) log "CONNECTOR_NAME may use only letters, digits, '.', '_', '-': '$NAME'"; exit 2 ;; esac
if [ ! -r "$CONFIG" ]; then
  log "cannot read the connector config $CONFIG"
  exit 2
fi
command -v curl >/dev/null 2>&1 || { log "curl is required"; exit 2; }

BODY=$(mktemp)
trap 'rm -f "$BODY"' EXIT
trap 'exit 1' INT TERM

# http METHOD PATH [curl options...]: prints the HTTP status (000 when Connect cannot be reached) and
# leaves the response body in $BODY.
http() {
  _method=$1
  _path=$2
  shift 2
  : >"$BODY"
  curl -sS -o "$BODY" -w '%{http_code}' -X "$_method" --connect-timeout 5 --max-time 30 \
    -H 'Accept: application/json' "$@" "$CONNECT_URL$_path" 2>/dev/null || true
}

fail() {
  log "$*"
  if [ -s "$BODY" ]; then
    log "last response body:"
    cat "$BODY" >&2
    printf '\n' >&2
  fi
  exit 1
}

# 1. Connect's REST API answers.
try=1
while :; do
  code=$(http GET /connectors)
  [ "$code" = 200 ] && break
  [ "$try" -ge "$MAX_TRIES" ] && fail "Kafka Connect at $CONNECT_URL did not answer GET /connectors with 200 (last: $code)"
  log "waiting for Kafka Connect at $CONNECT_URL (HTTP $code, try $try/$MAX_TRIES)"
  try=$((try + 1))
  sleep "$SLEEP_SECONDS"
done

# 2. Create or update the connector. 409 = the Connect group is rebalancing; 5xx/000 = not ready yet.
try=1
while :; do
  code=$(http PUT "/connectors/$NAME/config" -H 'Content-Type: application/json' --data-binary "@$CONFIG")
  case $code in
    201) log "created connector $NAME"; break ;;
    200) log "updated connector $NAME (config unchanged or replaced)"; break ;;
    409 | 5?? | 000) ;;
    *) fail "PUT /connectors/$NAME/config was refused (HTTP $code)" ;;
  esac
  [ "$try" -ge "$MAX_TRIES" ] && fail "PUT /connectors/$NAME/config did not succeed (last HTTP $code)"
  log "PUT /connectors/$NAME/config: HTTP $code, retrying (try $try/$MAX_TRIES)"
  try=$((try + 1))
  sleep "$SLEEP_SECONDS"
done

# 3. Wait until the connector and all its tasks run. The status JSON is read without jq:
#    {"name":…,"connector":{"state":"RUNNING","worker_id":…},"tasks":[{"id":0,"state":"RUNNING",…}],"type":"source"}
try=1
while :; do
  code=$(http GET "/connectors/$NAME/status")
  connector_state=''
  task_states=''
  if [ "$code" = 200 ]; then
    flat=$(tr -d ' \t\r\n' <"$BODY")
    connector_obj=$(printf '%s' "$flat" | sed -n 's/.*"connector":{\([^}]*\)}.*/\1/p')
    connector_state=$(printf '%s' "$connector_obj" | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p')
    tasks=$(printf '%s' "$flat" | sed -n 's/.*"tasks":\[\(.*\)\].*/\1/p')
    task_states=$(printf '%s' "$tasks" | grep -o '"state":"[A-Z_]*"' | sed 's/^"state":"//; s/"$//' | tr '\n' ' ' || true)
    task_states=${task_states% }
    case " $connector_state $task_states " in
      *' FAILED '*) fail "connector $NAME or one of its tasks FAILED" ;;
      *' PAUSED '* | *' STOPPED '*)
        fail "connector $NAME is paused or stopped: resume it with PUT $CONNECT_URL/connectors/$NAME/resume" ;;
    esac
    if [ "$connector_state" = RUNNING ] && [ -n "$task_states" ]; then
      not_running=$(printf '%s\n' "$task_states" | tr ' ' '\n' | grep -v '^RUNNING$' || true)
      if [ -z "$not_running" ]; then
        log "connector $NAME is RUNNING with task(s): $task_states"
        cat "$BODY"
        printf '\n'
        exit 0
      fi
    fi
  fi
  [ "$try" -ge "$MAX_TRIES" ] &&
    fail "connector $NAME not RUNNING after $MAX_TRIES tries (HTTP $code, connector '${connector_state:-?}', tasks '${task_states:-none}')"
  log "waiting for $NAME: HTTP $code, connector '${connector_state:-?}', tasks '${task_states:-none}' (try $try/$MAX_TRIES)"
  try=$((try + 1))
  sleep "$SLEEP_SECONDS"
done

#!/usr/bin/env bash
# guard.sh COMMAND [ARG...]: runs COMMAND and prints its pid on the first line of stdout. When this
# script's stdin reaches end-of-file — the process that started it is gone, even after a SIGKILL —
# COMMAND is killed (SIGKILL) and, if GUARD_CLEAN_DIR is set, that directory is removed. So no broker,
# Connect worker or database of a test outlives the test. Signals meant for COMMAND go to its pid.
set -u
"$@" </dev/null &
pid=$!
echo "$pid"
{
  while read -r _; do :; done
  kill -KILL "$pid" 2>/dev/null
  if [ -n "${GUARD_CLEAN_DIR:-}" ]; then sleep 0.5; rm -rf -- "$GUARD_CLEAN_DIR"; fi
} <&0 &
watcher=$!
wait "$pid"
rc=$?
# Still the child of the process that started it (not re-parented): that process lives, stopped COMMAND
# itself and cleans up. Otherwise the watcher does. (kill -0 would fail on a parent of another user.)
read -r _ _ _ ppid _ </proc/$$/stat
if [ "$ppid" = "$PPID" ]; then kill "$watcher" 2>/dev/null; else wait "$watcher"; fi
exit "$rc"

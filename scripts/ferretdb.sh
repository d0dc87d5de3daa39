#!/usr/bin/env bash
# Local FerretDB service for development (used by `./run services`).
#
#   scripts/ferretdb.sh start    start in the background (SQLite backend, temp
#                                data dir), wait for the port, print the URI
#   scripts/ferretdb.sh stop     stop it and remove its data dir
#   scripts/ferretdb.sh status   print whether it runs (exit 0) or not (exit 3)
#
# Env: CCOPY_FERRETDB_PORT (default 27017), CCOPY_FERRETDB (binary path).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CCOPY_FERRETDB:-$ROOT/.tools/ferretdb/bin/ferretdb}
RUN_DIR="$ROOT/.tools/run"
PID_FILE="$RUN_DIR/ferretdb.pid"
DIR_FILE="$RUN_DIR/ferretdb.dir"
PORT_FILE="$RUN_DIR/ferretdb.port"
LOG_FILE="$RUN_DIR/ferretdb.log"
START_TIMEOUT=10

die() { printf 'ferretdb: error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid of our running FerretDB, or fails.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse by an unrelated process.
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == */ferretdb* ]] || return 1
  echo "$pid"
}

uri() { printf 'mongodb://127.0.0.1:%s/\n' "$1"; }

clear_state() {
  if [[ -f "$DIR_FILE" ]]; then
    local dir
    dir=$(<"$DIR_FILE")
    [[ -n "$dir" && -d "$dir" ]] && rm -rf -- "$dir"
  fi
  rm -f "$PID_FILE" "$DIR_FILE" "$PORT_FILE"
}

cmd_start() {
  local pid port dir
  if pid=$(running_pid); then
    uri "$(<"$PORT_FILE")"
    return 0
  fi
  clear_state # stale files from a crashed or killed run

  [[ -x "$BIN" ]] || die "$BIN not found; run ./run setup"
  port=${CCOPY_FERRETDB_PORT:-27017}
  [[ "$port" =~ ^[0-9]+$ ]] || die "CCOPY_FERRETDB_PORT must be a number, got '$port'"
  port_open "$port" && die "port $port is already in use by another process (set CCOPY_FERRETDB_PORT)"

  mkdir -p "$RUN_DIR"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ccopy-ferretdb.XXXXXX")
  echo "$dir" >"$DIR_FILE"
  echo "$port" >"$PORT_FILE"

  # setsid: not killed with the caller's process group when ./run exits.
  setsid "$BIN" \
    --handler=sqlite --sqlite-url="file:$dir/" \
    --listen-addr="127.0.0.1:$port" \
    --telemetry=disable --debug-addr=- \
    --state-dir="$dir" --log-level=warn \
    </dev/null >"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_FILE" >&2 || true
      clear_state
      die "FerretDB exited during startup (log: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG_FILE" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      clear_state
      die "FerretDB did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.1
  done
  uri "$port"
}

cmd_stop() {
  local pid i
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "ferretdb: stopped (pid $pid)"
  else
    echo "ferretdb: not running"
  fi
  clear_state
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    echo "ferretdb: running (pid $pid) at $(uri "$(<"$PORT_FILE")") data dir $(<"$DIR_FILE")"
  else
    echo "ferretdb: not running"
    return 3
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac

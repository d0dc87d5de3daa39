#!/usr/bin/env bash
# End-to-end demo: a full backup of demo.orders, more writes, an incremental
# backup, and a listing of what the backup holds.
#
#   scripts/demo.sh [OUTDIR]      (default ./demo-backup; run via ./run demo)
#
# Starts its own FerretDB on a free port with a temporary data dir and stops
# it on exit; does not touch a server started with ./run services.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY="$ROOT/.venv/bin/python"
CLI=${CCOPY_BIN:-$ROOT/build/cosmocopy}
FERRETDB=${CCOPY_FERRETDB:-$ROOT/.tools/ferretdb/bin/ferretdb}
OUTDIR=${1:-./demo-backup}

step=0
heading() {
  step=$((step + 1))
  if [[ -t 1 ]]; then
    printf '\n\033[1m== %d. %s\033[0m\n' "$step" "$*"
  else
    printf '\n== %d. %s\n' "$step" "$*"
  fi
}
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
show() { printf '$ %s\n' "$*"; "$@"; }

[[ -x "$CLI" ]] || die "$CLI not found; run ./run build (or ./run demo)"
[[ -x "$FERRETDB" ]] || die "$FERRETDB not found; run ./run setup"
[[ -x "$PY" ]] || die "$PY not found; run ./run setup"

OUTDIR=$(realpath -m -- "$OUTDIR")
case "$OUTDIR" in
  / | "$HOME" | "$ROOT" | "$ROOT"/.git*) die "refusing to use $OUTDIR as the backup directory" ;;
esac

# ------------------------------------------------------------------ FerretDB
heading "starting a private FerretDB (SQLite backend)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ccopy-demo.XXXXXX")
FDB_PID=
cleanup() {
  if [[ -n "$FDB_PID" ]] && kill -0 "$FDB_PID" 2>/dev/null; then
    kill -TERM "$FDB_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$FDB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FDB_PID" 2>/dev/null || true
    wait "$FDB_PID" 2>/dev/null || true
  fi
  rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/data"
"$FERRETDB" --handler=sqlite --sqlite-url="file:$TMP/data/" \
  --listen-addr="127.0.0.1:$PORT" --telemetry=disable --debug-addr=- \
  --state-dir="$TMP" --log-level=warn </dev/null >"$TMP/ferretdb.log" 2>&1 &
FDB_PID=$!
for i in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$FDB_PID" 2>/dev/null || { cat "$TMP/ferretdb.log" >&2; die "FerretDB exited"; }
  ((i < 100)) || { cat "$TMP/ferretdb.log" >&2; die "FerretDB did not start within 10s"; }
  sleep 0.1
done
URI="mongodb://127.0.0.1:$PORT/"
echo "FerretDB listening at $URI"

# Inserts COUNT documents into demo.orders with ObjectId times spread over
# [now-FROM_SEC, now-TO_SEC).
load() {
  PYTHONPATH="$ROOT/tests/support" "$PY" - "$URI" "$@" <<'EOF'
import sys, time
import pymongo, datagen
uri, count, from_sec, to_sec, seed = sys.argv[1], *map(int, sys.argv[2:6])
now = int(time.time())
with pymongo.MongoClient(uri, directConnection=True) as c:
    coll = c.demo.orders
    t0 = time.monotonic()
    n = datagen.insert_spread(coll, now - from_sec, now - to_sec, count,
                              doc_size=1024, seed=seed, keep_ids=False)
    fmt = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    print(f"inserted {n:,} documents (~1 KiB each) with ObjectId times "
          f"{fmt(now - from_sec)} .. {fmt(now - to_sec)} in {time.monotonic() - t0:.1f}s; "
          f"demo.orders now holds {coll.estimated_document_count():,}")
EOF
}

heading "loading demo.orders: 5,000 documents over the last 5 days (up to 30 minutes ago)"
load 5000 $((5 * 86400)) $((30 * 60)) 1

# ------------------------------------------------------------------ full backup
heading "full backup to dir:$OUTDIR"
if [[ -e "$OUTDIR" ]]; then
  echo "removing the previous demo backup at $OUTDIR"
  rm -rf -- "$OUTDIR"
fi
show "$CLI" backup --source "$URI" --db demo --collection orders --to "dir:$OUTDIR" \
  --full --step 1d --compress zstd

# ------------------------------------------------------------------ more writes
heading "new orders arrive: 1,000 documents created in the last 5 minutes"
load 1000 $((5 * 60)) 0 2

# ------------------------------------------------------------------ incremental
heading "incremental backup to dir:$OUTDIR"
echo "It continues from the end of the last completed window. The demo passes --settle-lag 0s"
echo "so it need not wait; scheduled runs keep the default 10m, which catches documents whose"
echo "ObjectId time is already a little in the past when they are written."
show "$CLI" backup --source "$URI" --db demo --collection orders --to "dir:$OUTDIR" \
  --incremental --step 1d --compress zstd --settle-lag 0s

# ------------------------------------------------------------------ list
heading "what the backup holds"
show "$CLI" list --from "dir:$OUTDIR"

printf '\nDone. The backup is in %s\n' "$OUTDIR"

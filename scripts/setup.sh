#!/usr/bin/env bash
# Installs every dependency of the project, idempotently.
#
#   scripts/setup.sh [STEP...]     STEP: apt, ferretdb, venv (default: all)
#
# Quiet and fast (well under a second) when everything is already present;
# prints one line per step only when that step has work to do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FERRETDB_VERSION=v1.24.2
FERRETDB_DIR="$ROOT/.tools/ferretdb"
FERRETDB_BIN="$FERRETDB_DIR/bin/ferretdb"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/requirements.txt"
REQ_STAMP="$VENV/.requirements.sha256"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libmongoc-dev libbson-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev
  python3-venv valgrind
)

export PATH="/usr/local/go/bin:$PATH"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Serialise concurrent setups (e.g. two ./run invocations at once).
mkdir -p "$ROOT/.tools"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.tools/setup.lock"
  flock 9
fi

# ---------------------------------------------------------------- apt
setup_apt() {
  local missing=() p status
  for p in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0

  log "installing apt packages: ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install: ${missing[*]}"
    sudo=(sudo)
  fi
  local out
  out=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -q &&
         "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
           --no-install-recommends "${missing[@]}"; } >"$out" 2>&1 </dev/null; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "apt-get failed"
  fi
  rm -f "$out"
}

# ---------------------------------------------------------------- FerretDB
ferretdb_ok() {
  [[ -x "$FERRETDB_BIN" ]] &&
    "$FERRETDB_BIN" --version 2>/dev/null | grep -q "version: $FERRETDB_VERSION\$"
}

setup_ferretdb() {
  ferretdb_ok && return 0
  command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"

  log "building FerretDB $FERRETDB_VERSION (first time, ~1 min)"
  local build="$FERRETDB_DIR/build" out
  mkdir -p "$build" "$FERRETDB_DIR/bin"
  out="$FERRETDB_DIR/build.log"
  # Plain `go install ...@v1.24.2` does not work: the proxy refuses the
  # module's version list, and a binary built straight from the module cache
  # panics because build/version/version.txt is absent. So: a tiny wrapper
  # module that requires FerretDB, a writable copy of its source with
  # version.txt filled in, and a replace directive pointing at that copy.
  if ! (
    set -euo pipefail
    cd "$build"
    export GOTOOLCHAIN=local
    printf 'module ccopyferretdb\n\ngo 1.24\n\nrequire github.com/FerretDB/FerretDB %s\n' \
      "$FERRETDB_VERSION" >go.mod
    rm -f go.sum
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/FerretDB/FerretDB/cmd/ferretdb"\n' >tools.go
    go mod tidy
    src=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
    [[ -n "$src" && -d "$src" ]] || { echo "cannot locate FerretDB module source" >&2; exit 1; }
    rm -rf src
    cp -r "$src" src
    chmod -R u+w src
    echo "$FERRETDB_VERSION" >src/build/version/version.txt
    go mod edit -replace github.com/FerretDB/FerretDB=./src
    go build -o "$FERRETDB_BIN.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
    mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  ) >"$out" 2>&1 </dev/null; then
    tail -n 30 "$out" >&2
    die "FerretDB build failed (full log: $out)"
  fi
  ferretdb_ok || die "built $FERRETDB_BIN but '--version' does not report $FERRETDB_VERSION"
}

# ---------------------------------------------------------------- venv
setup_venv() {
  [[ -f "$REQUIREMENTS" ]] || die "missing $REQUIREMENTS"
  local want have=""
  want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)

  # A venv whose interpreter vanished (e.g. pyenv upgrade) is rebuilt.
  if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    log "recreating broken virtualenv .venv"
    rm -rf "$VENV"
  fi
  [[ -f "$REQ_STAMP" ]] && have=$(<"$REQ_STAMP")
  [[ -x "$VENV/bin/python" && "$have" == "$want" ]] && return 0

  log "installing Python packages into .venv (tests/requirements.txt)"
  local out
  out=$(mktemp)
  if ! {
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  } >"$out" 2>&1 </dev/null; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "pip install failed"
  fi
  rm -f "$out"
  printf '%s\n' "$want" >"$REQ_STAMP"
}

steps=("$@")
((${#steps[@]})) || steps=(apt ferretdb venv)
for s in "${steps[@]}"; do
  case "$s" in
    apt) setup_apt ;;
    ferretdb) setup_ferretdb ;;
    venv) setup_venv ;;
    *) die "unknown step '$s' (expected: apt, ferretdb, venv)" ;;
  esac
done

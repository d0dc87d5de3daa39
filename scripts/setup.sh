#!/usr/bin/env bash
# Installs every dependency of the project, idempotently.
#
#   scripts/setup.sh [STEP...]     STEP: apt, ferretdb, mongotools, azurite, venv (default: all)
#
# Quiet and fast (well under a second) when everything is already present;
# prints one line per step only when that step has work to do.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FERRETDB_VERSION=v1.24.2
FERRETDB_DIR="$ROOT/.tools/ferretdb"
FERRETDB_BIN="$FERRETDB_DIR/bin/ferretdb"
# mongo-tools (stock mongorestore for the restore tests, mongodump and mongorestore as candidates
# of the benchmarks): the Go module proxy
# here refuses its release tags (100.x.y, not semver), so this pins a commit by
# its pseudo-version: master of 2025-07-15, after 100.12.2, the newest release
# in its CHANGELOG. The checksum database answers 404 for that version here,
# so the script checks the module's hash itself.
MONGO_TOOLS_VERSION=v0.0.0-20250715155915-887641268977
MONGO_TOOLS_SUM="h1:J9wFLko0N7sbovyHahuRw1NyfMUsNhaauLK87wQ3ruc="
MONGO_TOOLS_DIR="$ROOT/.tools/mongo-tools"
MONGORESTORE_BIN="$MONGO_TOOLS_DIR/bin/mongorestore"
MONGODUMP_BIN="$MONGO_TOOLS_DIR/bin/mongodump" # a candidate of the benchmarks (bench/harness.py)
AZURITE_VERSION=3.35.0 # 3.36 needs Node >= 21, 3.37 Node >= 22
AZURITE_NODE_MAJOR=18  # the oldest Node that Azurite 3.35 supports
AZURITE_DIR="$ROOT/.tools/azurite"
AZURITE_BIN="$AZURITE_DIR/node_modules/.bin/azurite-blob"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/requirements.txt"
REQ_STAMP="$VENV/.requirements.sha256"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libmongoc-dev libbson-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev
  libdeflate-dev # gzip members compressed about three times faster than with zlib
  python3-venv valgrind zstd
  clang libclang-rt-dev llvm # libFuzzer and the sanitizer runtimes for ./run fuzz (tests/fuzz)
  maven # resolves mock-oauth2-server (Maven Central) for the OAuth2 tests; Java 17 comes with it
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
  # The output is captured first: `--version | grep -q` under pipefail fails at random when grep
  # exits on the first line and ferretdb dies of SIGPIPE writing the rest.
  local said
  [[ -x "$FERRETDB_BIN" ]] && said=$("$FERRETDB_BIN" --version 2>/dev/null) &&
    grep -q "version: $FERRETDB_VERSION\$" <<<"$said"
}

setup_ferretdb() {
  ferretdb_ok && return 0
  command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"

  log "building FerretDB $FERRETDB_VERSION (first time, ~1 min)"
  local build="$FERRETDB_DIR/build" out="$FERRETDB_DIR/build.log" dir
  mkdir -p "$build" "$FERRETDB_DIR/bin"
  : >"$out"
  # Plain `go install ...@v1.24.2` does not work here: the proxy refuses the
  # module's version list, and a binary built straight from the read-only
  # module cache panics because build/version/version.txt is absent. So we
  # download the module at its exact version, copy its source, fill in
  # version.txt and build it as the main module (FerretDB only reports its
  # version when its own module is the main one). Every step is checked on
  # its own: `set -e` does not apply inside a tested subshell.
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  {
    echo "== go env"
    go version
    go env GOPATH GOMODCACHE GOPROXY GOFLAGS GONOSUMDB GOPRIVATE
  } >>"$out" 2>&1
  ferretdb_step() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    echo "== $what: $*" >>"$out"
    "$@" >>"$out" 2>&1 </dev/null && return 0
    tail -n 30 "$out" >&2
    die "FerretDB build failed while trying to $what (full log: $out)"
  }
  dir=$(cd "$build" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>>"$out" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [[ -z "$dir" || ! -f "$dir/go.mod" ]]; then
    tail -n 30 "$out" >&2
    die "cannot download github.com/FerretDB/FerretDB@$FERRETDB_VERSION from the Go module proxy (full log: $out)"
  fi
  ferretdb_step "remove the previous source copy" rm -rf "$build/src"
  ferretdb_step "copy the module source" cp -r "$dir" "$build/src"
  ferretdb_step "make the source copy writable" chmod -R u+w "$build/src"
  ferretdb_step "write build/version/version.txt" \
    sh -c 'printf "%s\n" "$1" >"$2"' sh "$FERRETDB_VERSION" "$build/src/build/version/version.txt"
  ferretdb_step "compile cmd/ferretdb" \
    sh -c 'cd "$1" && go build -buildvcs=false -trimpath -o "$2" ./cmd/ferretdb' \
    sh "$build/src" "$FERRETDB_BIN.tmp"
  ferretdb_step "install the binary" mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  if ! ferretdb_ok; then
    "$FERRETDB_BIN" --version >>"$out" 2>&1 || true
    tail -n 30 "$out" >&2
    die "built $FERRETDB_BIN but '--version' does not report $FERRETDB_VERSION (full log: $out)"
  fi
}

# ---------------------------------------------------------------- mongo-tools
mongotools_ok() {
  local said tool
  for tool in mongorestore mongodump; do
    [[ -x "$MONGO_TOOLS_DIR/bin/$tool" ]] && said=$("$MONGO_TOOLS_DIR/bin/$tool" --version 2>/dev/null) &&
      grep -qx "$tool version: $MONGO_TOOLS_VERSION" <<<"$said" || return 1
  done
}

setup_mongotools() {
  mongotools_ok && return 0
  command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"

  log "building mongorestore and mongodump (mongo-tools $MONGO_TOOLS_VERSION; first time, ~30 s)"
  local build="$MONGO_TOOLS_DIR/build" out="$MONGO_TOOLS_DIR/build.log" json dir sum
  mkdir -p "$build" "$MONGO_TOOLS_DIR/bin"
  : >"$out"
  # As for FerretDB, `go install .../mongorestore@VERSION` does not work here:
  # it reads the module's version list, which the proxy refuses. So: download
  # the module, check its hash, copy its source and build it as the main
  # module, whose go.sum then verifies every dependency. Pure Go, without the
  # release's build tags (gssapi, failpoints): no Kerberos, which needs cgo.
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  {
    echo "== go env"
    go version
    go env GOPATH GOMODCACHE GOPROXY GOFLAGS GONOSUMDB GOPRIVATE
  } >>"$out" 2>&1
  mongotools_step() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    echo "== $what: $*" >>"$out"
    "$@" >>"$out" 2>&1 </dev/null && return 0
    tail -n 30 "$out" >&2
    die "mongo-tools build failed while trying to $what (full log: $out)"
  }
  json=$(cd "$build" && GONOSUMDB=github.com/mongodb/mongo-tools \
    go mod download -json "github.com/mongodb/mongo-tools@$MONGO_TOOLS_VERSION" 2>>"$out") || true
  printf '%s\n' "$json" >>"$out"
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  if [[ -z "$dir" || ! -f "$dir/go.mod" ]]; then
    tail -n 30 "$out" >&2
    die "cannot download github.com/mongodb/mongo-tools@$MONGO_TOOLS_VERSION from the Go module proxy (full log: $out)"
  fi
  if [[ "$sum" != "$MONGO_TOOLS_SUM" ]]; then
    tail -n 30 "$out" >&2
    die "github.com/mongodb/mongo-tools@$MONGO_TOOLS_VERSION has hash '$sum', expected $MONGO_TOOLS_SUM (full log: $out)"
  fi
  mongotools_step "remove the previous source copy" rm -rf "$build/src"
  mongotools_step "copy the module source" cp -r "$dir" "$build/src"
  mongotools_step "make the source copy writable" chmod -R u+w "$build/src"
  local tool
  for tool in mongorestore mongodump; do
    mongotools_step "compile $tool" \
      sh -c 'cd "$1" && CGO_ENABLED=0 go build -buildvcs=false -trimpath \
               -ldflags "-X main.VersionStr=$2 -X main.GitCommit=${2##*-}" -o "$3" "./$4/main"' \
      sh "$build/src" "$MONGO_TOOLS_VERSION" "$MONGO_TOOLS_DIR/bin/$tool.tmp" "$tool"
    mongotools_step "install $tool" mv -f "$MONGO_TOOLS_DIR/bin/$tool.tmp" "$MONGO_TOOLS_DIR/bin/$tool"
  done
  if ! mongotools_ok; then
    "$MONGORESTORE_BIN" --version >>"$out" 2>&1 || true
    "$MONGODUMP_BIN" --version >>"$out" 2>&1 || true
    tail -n 30 "$out" >&2
    die "built $MONGORESTORE_BIN and $MONGODUMP_BIN but '--version' does not report $MONGO_TOOLS_VERSION (full log: $out)"
  fi
}

# ---------------------------------------------------------------- Azurite
azurite_ok() {
  [[ -x "$AZURITE_BIN" ]] && [[ "$("$AZURITE_BIN" --version 2>/dev/null)" == "$AZURITE_VERSION" ]]
}

setup_azurite() {
  azurite_ok && return 0
  command -v node >/dev/null 2>&1 || die "node not found (Azurite $AZURITE_VERSION needs Node >= $AZURITE_NODE_MAJOR)"
  command -v npm >/dev/null 2>&1 || die "npm not found (needed to install Azurite $AZURITE_VERSION)"
  local node_version major
  node_version=$(node --version 2>/dev/null || true)
  major=${node_version#v}
  major=${major%%.*}
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Node version ('node --version' said '$node_version')"
  ((major >= AZURITE_NODE_MAJOR)) ||
    die "Node $node_version is too old: Azurite $AZURITE_VERSION needs Node >= $AZURITE_NODE_MAJOR"

  log "installing Azurite $AZURITE_VERSION with npm (first time, ~15 s)"
  local out="$AZURITE_DIR/npm-install.log"
  mkdir -p "$AZURITE_DIR"
  if ! npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --loglevel=error \
       "azurite@$AZURITE_VERSION" >"$out" 2>&1 </dev/null; then
    tail -n 30 "$out" >&2
    die "npm install azurite@$AZURITE_VERSION failed (full log: $out)"
  fi
  if ! azurite_ok; then
    { echo "== $AZURITE_BIN --version"; "$AZURITE_BIN" --version; } >>"$out" 2>&1 || true
    tail -n 30 "$out" >&2
    die "installed Azurite but '$AZURITE_BIN --version' does not report $AZURITE_VERSION (full log: $out)"
  fi
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
((${#steps[@]})) || steps=(apt ferretdb mongotools azurite venv)
for s in "${steps[@]}"; do
  case "$s" in
    apt) setup_apt ;;
    ferretdb) setup_ferretdb ;;
    mongotools) setup_mongotools ;;
    azurite) setup_azurite ;;
    venv) setup_venv ;;
    *) die "unknown step '$s' (expected: apt, ferretdb, mongotools, azurite, venv)" ;;
  esac
done

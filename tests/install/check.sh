#!/usr/bin/env bash
# Install the build into a temporary prefix, then build and run a consumer with
# find_package(cosmocopy) (shared and static) and with pkg-config.
# Usage: check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$src/tests/install" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
# What a user runs: the installed command, with a clean environment (no LD_LIBRARY_PATH), where
# it was installed and after the whole tree is moved.
check_command() {
  local bin=$1 out
  out=$(env -i "$bin" --version 2>&1) || { echo "installed $bin does not start: $out"; exit 1; }
  [[ "$out" == cosmocopy* ]] || { echo "installed $bin --version printed: $out"; exit 1; }
  env -i "$bin" options > "$work/options.md" || { echo "installed $bin options failed"; exit 1; }
  grep -q -- '--compress-level' "$work/options.md"
}
check_command "$work/prefix/bin/cosmocopy"
mv "$work/prefix" "$work/moved"
check_command "$work/moved/bin/cosmocopy"
mv "$work/moved" "$work/prefix"
env -i "$work/consumer/consumer_shared"
env -i "$work/consumer/consumer_static"
libdir=$(dirname "$(find "$work/prefix" -name cosmocopy.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs cosmocopy)
cc -std=c11 "$src/tests/install/consumer.c" -o "$work/consumer_pc" $flags
LD_LIBRARY_PATH="$(dirname "$libdir")" "$work/consumer_pc"
echo "installed command, library, headers, CMake package and pkg-config file all work"

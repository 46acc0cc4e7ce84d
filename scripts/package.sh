#!/usr/bin/env bash
# The crates as crates.io would get them: `cargo package` of mango-attr, mango-cli,
# mango-rt and cargo-mango, each verified by building it from its packaged sources
# against the others' packages; then the cargo-mango that verification built (from its
# package, outside this checkout) makes a project that depends on mango-rt by version
# (not by a path into the checkout).
#
#   ./scripts/package.sh
#
# Verification builds into target/e2e, beside the generated projects, whose
# dependencies it shares (without a target directory set, cargo verifies each crate in a
# target directory of its own, compiling every dependency again for each).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'package.sh: %s\n' "$*" >&2; }

TARGET="$PWD/target/e2e"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
# Cargo unpacks the crates it verifies against from a registry of its own in
# $TARGET/package, into $CARGO_HOME/registry/src/-<hash of that path>/, and never
# unpacks a name and version again: a clone at a path used before (and the version
# unchanged) would be verified against the sources packaged then. Those copies go first.
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
for crate in mango-attr mango-cli mango-rt cargo-mango; do
  rm -rf "$CARGO_HOME"/registry/src/-*/"$crate-$VERSION" "$CARGO_HOME"/registry/cache/-*/"$crate-$VERSION.crate"
done
say "cargo package (version $VERSION), verified in $TARGET"
CARGO_TARGET_DIR="$TARGET" cargo package --workspace --locked --allow-dirty \
  --exclude mango-bench --exclude mango-tests -q

PACKAGED="$TARGET/package/cargo-mango-$VERSION"
BINARY="$TARGET/debug/cargo-mango"
[ -f "$PACKAGED/Cargo.toml" ] || { say "no packaged cargo-mango at $PACKAGED"; exit 1; }
[ -x "$BINARY" ] || { say "verification built no cargo-mango at $BINARY"; exit 1; }

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
if ! "$BINARY" mango startproject pkgcheck "$SCRATCH/pkgcheck" >"$SCRATCH/log" 2>&1; then
  cat "$SCRATCH/log" >&2
  say "the packaged cargo-mango could not make a project"
  exit 1
fi
if ! grep -q "^mango-rt = \"$VERSION\"$" "$SCRATCH/pkgcheck/Cargo.toml"; then
  say "the project made by the packaged cargo-mango does not depend on mango-rt = \"$VERSION\":"
  grep -n "mango-rt" "$SCRATCH/pkgcheck/Cargo.toml" >&2 || true
  exit 1
fi
say "a project made by the packaged cargo-mango depends on mango-rt = \"$VERSION\""

#!/usr/bin/env bash
# The crates as crates.io would get them: `cargo package` for mango-attr, mango-cli,
# mango-rt and cargo-mango (each built from its packaged sources against the others'
# packages), then a cargo-mango built from its package, outside this checkout, makes a
# project that depends on mango-rt by version (not by a path into the checkout).
#
#   ./scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'package.sh: %s\n' "$*" >&2; }

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
say "cargo package (version $VERSION)"
cargo package --workspace --locked --allow-dirty --exclude mango-bench --exclude mango-tests -q

PACKAGED="$PWD/target/package/cargo-mango-$VERSION"
say "building cargo-mango from $PACKAGED (mango-cli from its package too)"
cargo build -q --manifest-path "$PACKAGED/Cargo.toml" \
  --config "patch.crates-io.mango-cli.path='$PWD/target/package/mango-cli-$VERSION'" \
  --target-dir "$PWD/target/package-build"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
if ! "$PWD/target/package-build/debug/cargo-mango" mango startproject pkgcheck "$SCRATCH/pkgcheck" >"$SCRATCH/log" 2>&1; then
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

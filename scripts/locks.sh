#!/usr/bin/env bash
# Every Cargo.lock of the repository (the workspace's, the example's, the conformance
# project's) agrees with its manifests. The suite builds with --locked, so a stale one
# fails the stage that builds it, minutes in; this fails in a second, before anything
# builds, and says which file and how to mend it.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
for manifest in Cargo.toml example/Cargo.toml examples/conformance/Cargo.toml; do
  if ! out="$(cargo metadata --locked --format-version 1 --manifest-path "$manifest" 2>&1 >/dev/null)"; then
    failed=1
    if grep -q "cannot update the lock file" <<<"$out"; then
      echo "locks.sh: ${manifest%Cargo.toml}Cargo.lock does not match its manifests (a dependency changed)." >&2
      echo "  Mend it with: cargo metadata --format-version 1 --manifest-path $manifest >/dev/null, then commit the lock file." >&2
    else
      echo "locks.sh: cargo could not read $manifest:" >&2
      echo "$out" >&2
    fi
  fi
done

# The example's and the conformance project's locks pick the workspace's version of
# every crate they share with it: the suite builds them in target/e2e beside the
# generated projects (which start from the workspace's lock), and one crate at another
# version compiles again every crate above it (uuid 1.29.3 in the conformance project's
# lock made its stage rebuild rmcp, mango-rt and all between).
versions() { # name@version, one per line, of a Cargo.lock
  awk '/^name = / { n = $3 } /^version = / { gsub(/"/, "", n); v = $3; gsub(/"/, "", v); print n "@" v }' "$1" | sort -u
}
WORKSPACE_VERSIONS="$(versions Cargo.lock)"
for manifest in example/Cargo.toml examples/conformance/Cargo.toml; do
  lock="${manifest%Cargo.toml}Cargo.lock"
  while IFS=@ read -r name version; do
    if grep -q "^$name@" <<<"$WORKSPACE_VERSIONS" && ! grep -qxF "$name@$version" <<<"$WORKSPACE_VERSIONS"; then
      failed=1
      want="$(grep "^$name@" <<<"$WORKSPACE_VERSIONS" | head -1 | cut -d@ -f2)"
      echo "locks.sh: $lock has $name $version, the workspace's Cargo.lock $name $want: the suite would compile it and every crate above it twice." >&2
      echo "  Mend it with: cargo update -p $name@$version --precise $want --manifest-path $manifest, then commit the lock file." >&2
    fi
  done < <(versions "$lock")
done
exit "$failed"

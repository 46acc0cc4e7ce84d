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
exit "$failed"

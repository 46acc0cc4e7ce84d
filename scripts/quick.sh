#!/usr/bin/env bash
# The inner loop: what to run after an edit, in well under 3 minutes once warm. fmt,
# clippy and the tests of the workspace's crates (unit, in-process TestServer, trybuild
# UI, template snapshots, CLI): no generated project, no service, nothing installed.
#
#   ./scripts/quick.sh
#
# It is not the test suite: `./scripts/test.sh` (what CI runs) is, and it runs these too.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

say "cargo fmt --check, and every Cargo.lock up to date"
./scripts/locks.sh
if [ -x target/tools/bin/cargo-deny ]; then
  target/tools/bin/cargo-deny --log-level error check bans licenses sources
else
  echo "quick.sh: no target/tools/bin/cargo-deny yet (./scripts/test.sh builds it): deny.toml not checked" >&2
fi
cargo fmt --all --check
cargo fmt --all --check --manifest-path example/Cargo.toml
cargo fmt --all --check --manifest-path examples/conformance/Cargo.toml
rustfmt --edition 2024 --check tests/e2e/fixtures/*.rs tests/e2e/guide_prelude.rs

say "cargo clippy -D warnings (the workspace)"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "tests of the workspace's crates (the end-to-end tests are ./scripts/test.sh's)"
cargo test --workspace --locked --exclude mango-tests

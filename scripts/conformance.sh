#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned)
# against examples/conformance over Streamable HTTP: every scenario, the active and the
# pending, with the baseline of those mango does not pass (examples/conformance/baseline.yml,
# each with its reason).
#
#   ./scripts/conformance.sh
#
# Node 22 comes from the npm package `node` (no system install); scripts/node-tools.sh
# installs both once into target/conformance-node. The project builds into target/e2e, beside the
# end-to-end tests' projects, so its dependencies are already compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'conformance.sh: %s\n' "$*" >&2; }

NODE="$(./scripts/node-tools.sh)"
DIR="$PWD/target/conformance-node"
SUITE="$DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"

say "building examples/conformance"
CARGO_TARGET_DIR="$PWD/target/e2e" cargo build -q --locked --manifest-path examples/conformance/Cargo.toml
BINARY="$PWD/target/e2e/debug/conformance"

LOG="$(mktemp)"
"$BINARY" --settings examples/conformance/Mango.toml serve --transport http --port 0 2>"$LOG" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -f "$LOG"' EXIT
URL=""
for _ in $(seq 1 100); do
  URL="$(grep -o 'http://[^ ]*' "$LOG" | head -n 1 || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; say "the server stopped"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG" >&2; say "the server did not say where it listens"; exit 1; }
say "running the suite against $URL"
# The suite's own total ("Total: N passed, M failed") counts the baseline's expected
# failures as failed; it is reworded so that no log reader takes it for failed tests.
"$NODE" "$SUITE" server --url "$URL" --suite all --expected-failures examples/conformance/baseline.yml \
  | sed -E 's/^Total: ([0-9]+) passed, ([0-9]+) failed/Conformance scenarios: \1 pass, \2 fail as the baseline expects (examples\/conformance\/baseline.yml)/'
say "every scenario passes except the baseline's"

#!/usr/bin/env bash
# Installs, once, the test tools that come from npm into target/conformance-node, and
# prints the path of the node that runs them:
#   - node 22 (the npm package `node`: no system install), pinned;
#   - the official MCP conformance suite (@modelcontextprotocol/conformance), pinned;
#   - oauth2-mock-server, pinned: the OAuth authorization server the OAuth tests start
#     (tests/e2e/authorization-server.mjs);
#   - playwright-core, pinned: drives Debian's Chromium in the admin's browser test
#     (tests/e2e/admin.mjs); playwright-core downloads no browser of its own.
#
#   NODE="$(./scripts/node-tools.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

CONFORMANCE_VERSION="0.1.16"
NODE_VERSION="22.23.3"
OAUTH_SERVER_VERSION="8.1.0"
PLAYWRIGHT_VERSION="1.64.1"
DIR="$PWD/target/conformance-node"
say() { printf 'node-tools.sh: %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  say "installing npm from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq nodejs npm >&2
fi
installed() {
  grep -q "\"version\": \"$2\"" "$DIR/node_modules/$1/package.json" 2>/dev/null
}
if ! installed @modelcontextprotocol/conformance "$CONFORMANCE_VERSION" \
  || ! installed node "$NODE_VERSION" \
  || ! installed oauth2-mock-server "$OAUTH_SERVER_VERSION" \
  || ! installed playwright-core "$PLAYWRIGHT_VERSION"; then
  say "installing node@$NODE_VERSION, @modelcontextprotocol/conformance@$CONFORMANCE_VERSION, oauth2-mock-server@$OAUTH_SERVER_VERSION and playwright-core@$PLAYWRIGHT_VERSION into $DIR"
  mkdir -p "$DIR"
  (cd "$DIR" && npm install --no-audit --no-fund --silent \
    "node@$NODE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
    "oauth2-mock-server@$OAUTH_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >&2)
fi
echo "$DIR/node_modules/.bin/node"

#!/usr/bin/env bash
# The whole test suite of mango, from a fresh clone: installs what the tests need, then
# runs every check. `.ci/run` calls exactly this.
#
#   ./scripts/test.sh
#
# What it installs (once; later runs reuse it):
#   - the official MCP Python SDK (`mcp` from PyPI, pinned) in target/venv, the client
#     that drives the end-to-end tests over stdio and HTTP, with `opentelemetry-proto`
#     (the OTLP protobuf definitions the telemetry tests' trace receiver decodes with);
#   - a PostgreSQL server (Debian's package when missing), started on 127.0.0.1:54329
#     with its data in target/postgres (scripts/postgres.sh);
#   - node 22, the official MCP conformance suite and oauth2-mock-server (the OAuth
#     authorization server the OAuth tests start) from npm, pinned, in
#     target/conformance-node (scripts/node-tools.sh), with playwright-core;
#   - Debian's Chromium, which playwright-core drives in the admin's browser test;
#   - Debian's nginx (nginx-light), the load balancer in front of the replicas test's
#     three servers and of the scale benchmark's;
#   - Debian's Prometheus, which scrapes a server's /metrics in the metrics test.
#
# Then the stages: fmt, unit (the workspace's crates, linted), e2e (generated projects),
# example, conformance, packaging, the benchmark in its quick mode (bench/, see the
# guide's Performance page: so that it never rots; timings are not asserted) and the
# replicas test. It ends with the stage table (each stage's seconds; docs/guide/developing.md,
# "Developing mango"), passed or failed. After it, only the PostgreSQL server is left
# running (scripts/postgres.sh keeps it for the next run). The inner loop for day-to-day
# work is ./scripts/quick.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

MCP_VERSION="2.3.0"
OTLP_PROTO_VERSION="1.45.2"
VENV="target/venv"

say() { printf '\n==> %s\n' "$*"; }

# The stage table: `stage NAME "what it does"` starts a stage (ending the one before);
# the table of every stage's seconds and the total is printed when the script exits,
# whether it passed or not (a failed stage is marked FAILED), so CI's log shows where
# the time went.
SUITE_START=$(date +%s)
STAGE_NAME=""
STAGE_START=0
STAGE_ROWS=()
end_stage() {
  if [ -n "$STAGE_NAME" ]; then
    STAGE_ROWS+=("$(printf '| %-12s | %5d | %-6s |' "$STAGE_NAME" $(($(date +%s) - STAGE_START)) "$1")")
    STAGE_NAME=""
  fi
}
stage() {
  end_stage ok
  STAGE_NAME="$1"
  STAGE_START=$(date +%s)
  say "[$1] $2"
}
stage_table() {
  local rc=$?
  if [ "$rc" = 0 ]; then end_stage ok; else end_stage FAILED; fi
  printf '\n==> the stage table (scripts/test.sh, exit %s)\n\n' "$rc"
  printf '| %-12s | %5s | %-6s |\n' stage seconds result
  printf '|--------------|-------|--------|\n'
  local row
  for row in "${STAGE_ROWS[@]}"; do printf '%s\n' "$row"; done
  printf '| %-12s | %5d | %-6s |\n' total $(($(date +%s) - SUITE_START)) "$([ "$rc" = 0 ] && echo ok || echo FAILED)"
}
trap stage_table EXIT
# Stopped by a signal, the table says so (the EXIT trap sees the status).
trap 'exit 130' INT
trap 'exit 143' TERM

# Disk: a clean run builds mango-rt and its dependencies in several feature sets (the
# workspace, the example, trybuild's UI tests, a dozen generated projects, the
# benchmark). Incremental builds' caches only pay for a rebuild after an edit, and
# took 3.7 GB of the 16 a clean run wrote: off unless the caller wants them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# No debug info in the suite's builds: trybuild's workspace does not take our profile, so
# its mango-rt and dependencies got full debug info (1.8 GB for binaries nobody debugs).
# A panic's message still says where it happened.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-false}"
# In CI the machine's disk is the limit (a run failed with "No space left on device"):
# each stage's build output is removed once no later stage reads it.
free_in_ci() {
  if [ "${CI:-}" = "true" ]; then
    rm -rf "$@"
  fi
}

# A full disk fails a build in the middle with rustc's "IO failure on output stream";
# say it at the start instead (a clean run with free_in_ci peaks near 12 GB).
FREE_KB=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${FREE_KB:-0}" -lt $((12 * 1024 * 1024)) ]; then
  echo "warning: $((FREE_KB / 1024)) MB free on $(df -P . | awk 'NR == 2 { print $6 }'); a clean run of the suite writes up to 12 GB: free some (old target/ directories, /tmp) or expect \"No space left on device\"" >&2
fi

stage install "the test tools: the MCP Python SDK, node tools, Chromium, nginx, PostgreSQL, cargo-deny"
# cargo-deny builds while the rest downloads (the fmt stage waits for it).
DENY_VERSION=0.20.2
DENY_PID=""
if ! target/tools/bin/cargo-deny --version 2>/dev/null | grep -qF "$DENY_VERSION"; then
  say "cargo-deny $DENY_VERSION, built from crates.io into target/tools (about a minute, beside the installs below)"
  mkdir -p target/tools
  # A debug build: 76 s here, against 134 s for a release build without its fat LTO and
  # about 200 s with it (one codegen unit: one core for most of it); the checks below
  # take it 3 s instead of 1.
  cargo install --quiet --debug --locked cargo-deny --version "$DENY_VERSION" --root target/tools \
    >target/tools/cargo-deny-install.log 2>&1 &
  DENY_PID=$!
fi
if ! "$VENV/bin/python" -c "import mcp, importlib.metadata as m; assert m.version('mcp') == '$MCP_VERSION'; assert m.version('opentelemetry-proto') == '$OTLP_PROTO_VERSION'" 2>/dev/null; then
  say "installing the MCP Python SDK (mcp==$MCP_VERSION) and opentelemetry-proto==$OTLP_PROTO_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" "opentelemetry-proto==$OTLP_PROTO_VERSION"
fi
export MANGO_TEST_PYTHON="$PWD/$VENV/bin/python"

say "node 22, the MCP conformance suite and an OAuth authorization server (oauth2-mock-server) from npm"
./scripts/node-tools.sh >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
  say "Debian's Chromium, for the admin's browser test (driven by playwright-core)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! [ -x /usr/sbin/nginx ]; then
  say "Debian's nginx, the balancer of the replicas test (tests/tests/replicas.rs)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
  # Installed, not started: the tests start their own, on loopback.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
fi

if ! [ -x /usr/bin/prometheus ]; then
  say "Debian's Prometheus, the scraper of the metrics test (tests/tests/database.rs)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
  # Installed, not started: the test starts its own, on loopback.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || $SUDO service prometheus stop >/dev/null 2>&1 || true
fi

say "PostgreSQL for the database tests (on 127.0.0.1)"
MANGO_TEST_DATABASE_URL="$(./scripts/postgres.sh)"
export MANGO_TEST_DATABASE_URL

if [ -n "$DENY_PID" ] && ! wait "$DENY_PID"; then
  cat target/tools/cargo-deny-install.log >&2
  echo "test.sh: cargo install of cargo-deny $DENY_VERSION failed (its output above)" >&2
  exit 1
fi

stage fmt "cargo fmt --check, every Cargo.lock up to date, cargo deny (bans, licenses, sources)"
./scripts/locks.sh
# What mango's crates depend on (deny.toml): one version of each crate but the
# dependencies' own listed there, permissive licenses, crates.io only.
target/tools/bin/cargo-deny --log-level error check bans licenses sources
cargo fmt --all --check
cargo fmt --all --check --manifest-path example/Cargo.toml
cargo fmt --all --check --manifest-path examples/conformance/Cargo.toml
# The end-to-end fixtures (apps' code the tests copy into real projects; clippy checks
# them once, all together: tests/tests/fixtures.rs).
rustfmt --edition 2024 --check tests/e2e/fixtures/*.rs tests/e2e/guide_prelude.rs

# Where things build (docs/guide/developing.md): the workspace in target/; every
# generated project, the example, the conformance project, the packaged crates and the
# benchmark's smoke run in target/e2e, so that each feature set of mango-rt compiles
# once there for all of them. No release build (docs/guide/developing.md: why).
E2E="$PWD/target/e2e"
# But the project with mango-rt's OAuth and telemetry features, whose graph shares no
# crate with the others' (serde's `rc` and syn's `extra-traits` change every crate above
# them): it builds in a directory of its own, beside target/e2e rather than queued on its
# lock (tests/src/lib.rs, `oauth_target`), and the benchmark's build of that feature set
# follows it there.
E2E_OAUTH="$PWD/target/e2e-oauth"

# Clippy as the code builds. `cargo clippy` compiles the whole dependency graph a second
# time, in check mode, beside the build the tests need; what it does for the crates it
# lints is to compile them with clippy-driver (cargo's rustc-workspace-wrapper, applied
# to a workspace's own crates only) and clippy's arguments (CLIPPY_ARGS). The builds
# below that say "${LINTED[@]}" do the same, so they lint the workspace, the example,
# the conformance project and the fixtures (tests/tests/fixtures.rs) with `-D warnings`
# while building them, and the dependencies compile once: the same lints as
# `cargo clippy --all-targets -- -D warnings` (./scripts/quick.sh runs that). The wrapper
# is cargo configuration, not an environment variable, so that the cargo a test runs
# (trybuild's, a generated project's) builds as it would anywhere.
CLIPPY_DRIVER="$(rustc --print sysroot)/bin/clippy-driver"
LINTED=(--config "build.rustc-workspace-wrapper=\"$CLIPPY_DRIVER\"")
export CLIPPY_ARGS=-Dwarnings

stage unit "tests of the workspace's crates (linted as they build): unit, in-process, trybuild UI, template snapshots, CLI"
# The crates that build on mango-rt test in target/e2e, one package per cargo, so that
# each one's features unify as the projects' will (`cargo test --workspace` unifies every
# member's, a graph of its own): the dependencies they compile there are the ones the
# e2e stage's projects and the benchmark's build then find built. mango-rt's
# dev-dependencies change a dozen crates' features (proptest's regex-syntax, figment's
# test, …), trybuild a few more (toml's), and those compile twice; the rest once.
CARGO_TARGET_DIR="$E2E" cargo "${LINTED[@]}" test --locked -p mango-rt
# mango-rt for PostgreSQL, linted as it builds (the build above is for SQLite): its
# PostgreSQL code held to clippy, its unit tests (the PostgreSQL URL's TLS parameters …)
# and a #[model]'s generated queries on PostgreSQL (tests/models.rs: its own SQL
# functions, its types).
CARGO_TARGET_DIR="$E2E" cargo "${LINTED[@]}" test --locked -p mango-rt --no-default-features --features postgres,testing --lib --test models
# The attributes: trybuild's UI tests (they check in target/e2e/tests/trybuild, a graph of
# their own) and the pass cases. The benchmark's own tests, on the graph its run builds on.
CARGO_TARGET_DIR="$E2E" cargo "${LINTED[@]}" test --locked -p mango-attr
free_in_ci "$E2E/tests"
CARGO_TARGET_DIR="$E2E" cargo "${LINTED[@]}" test --locked -p mango-bench
# The command and what it shares with the binaries, in target/ (a graph without mango-rt).
cargo "${LINTED[@]}" test --locked -p cargo-mango -p mango-cli
# Every later stage makes its projects with the cargo-mango this stage built (not a
# build of its own), kept aside so that target/debug can go.
mkdir -p target/tools
cp target/debug/cargo-mango target/tools/cargo-mango
export MANGO_TEST_CARGO_MANGO="$PWD/target/tools/cargo-mango"
export MANGO_BENCH_CARGO_MANGO="$MANGO_TEST_CARGO_MANGO"

stage e2e "end to end: real projects, driven by the MCP Python SDK, a browser, an OAuth server, PostgreSQL"
# cargo-nextest (on this kind of machine) runs every test binary's tests side by side:
# one test waits on a server while another's project builds. cargo test runs one binary
# at a time.
# Not the example's test binary (tests/tests/example.rs): the example stage runs it, once
# the example has built in target/e2e (not a build of its own beside these).
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run "${LINTED[@]}" --locked -p mango-tests --no-fail-fast -E 'not binary(=example)'
else
  say "cargo-nextest is missing (cargo install cargo-nextest --locked): cargo test runs the end-to-end tests, one binary at a time"
  TEST_BINARIES=()
  for f in tests/tests/*.rs; do
    case "$(basename "$f" .rs)" in example | replicas) ;; *) TEST_BINARIES+=(--test "$(basename "$f" .rs)") ;; esac
  done
  cargo "${LINTED[@]}" test --locked -p mango-tests --no-fail-fast "${TEST_BINARIES[@]}"
fi
# mango-rt's OAuth and telemetry code held to clippy: its library built, linted, on the
# graph the OAuth project above compiled in target/e2e-oauth (only mango-rt compiles
# again).
CARGO_TARGET_DIR="$E2E_OAUTH" cargo "${LINTED[@]}" build -q -p mango-rt --features oauth,telemetry --lib --locked

stage example "tests of the example project (linted as it builds), and its commands through cargo mango"
CARGO_TARGET_DIR="$E2E" cargo "${LINTED[@]}" test --workspace --locked --manifest-path example/Cargo.toml
# tests/tests/example.rs: `cargo mango migrate` and `run` on the example, built in
# target/e2e beside the build above (its test binary was built with the e2e stage's).
cargo "${LINTED[@]}" test -q --locked -p mango-tests --test example

stage conformance "the official MCP conformance suite (@modelcontextprotocol/conformance) against examples/conformance (linted as it builds)"
# (A script's cargo takes the wrapper from the environment; the server it starts runs no
# cargo.)
CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER" ./scripts/conformance.sh

stage packaging "packaging: cargo package of the crates, and a project made by a cargo-mango built from its package"
./scripts/package.sh

stage benchmark "the benchmark's smoke test (0.3 s per cell: it checks that every server answers, not how fast)"
# Debug builds where the end-to-end tests compiled the feature sets its projects use
# (SQLite with OAuth and telemetry in target/e2e-oauth, PostgreSQL and plain SQLite in
# target/e2e); not in target/debug, whose dependencies carry the features every
# workspace member asks for (most crates above tokio would compile again).
# No release build: the smoke test checks that the benchmark runs, not how fast
# (`cargo run -p mango-bench --release -- all` measures, docs/guide/performance.md).
export MANGO_BENCH_BUILD_TARGET="$E2E"
export MANGO_BENCH_OAUTH_BUILD_TARGET="$E2E_OAUTH"
CARGO_TARGET_DIR="$E2E" cargo run -q --locked -p mango-bench -- all --quick
CARGO_TARGET_DIR="$E2E" cargo run -q --locked -p mango-bench -- scale --quick
free_in_ci "$E2E_OAUTH"

stage replicas "the replicas test: 3 servers behind nginx on PostgreSQL (tests/tests/replicas.rs)"
# Its own stage, after the others (its clusters load the machine); its project shares the
# PostgreSQL build of mango-rt the end-to-end tests made in target/e2e.
cargo "${LINTED[@]}" test -q --locked -p mango-tests --features replicas --test replicas
free_in_ci target/debug target/e2e/debug

stage leftovers "nothing left running: every process a test started has stopped (PostgreSQL apart)"
# What a test starts runs from this checkout (target/…: servers, clients, node, nginx's
# master) or is an nginx worker or a headless Chromium; PostgreSQL stays for the next run.
LEFT="$(ps -eo pid=,ppid=,args= | awk -v root="$PWD/target/" -v self="$$" '
  $1 == self || $3 == "ps" || $3 == "awk" { next }
  index($0, "postgres") { next }
  index($0, root) || ($3 == "nginx:" && $4 == "worker" && $2 == 1) || (index($0, "chromium") && index($0, "--headless")) { print }
')"
if [ -n "$LEFT" ]; then
  printf 'still running after the suite (a test that did not stop what it started; on a\nlaptop, also whatever else of this checkout runs):\n%s\n' "$LEFT" >&2
  # Under CI nothing else runs: a leftover is a test's.
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi

//! Helpers of the end-to-end tests: build `cargo-mango` from this checkout, scaffold a
//! real project with it, run the project's server, find the Python MCP client.
//!
//! Every generated project builds into one shared target directory (`target/e2e`), so
//! that the dependencies compile once for all of them; the OAuth + telemetry project,
//! whose graph shares nothing with theirs, into one of its own ([`oauth_target`]).
#![allow(clippy::unwrap_used)] // test support: a failure is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The checkout's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The target directory shared by `cargo-mango` and every generated project.
pub fn e2e_target() -> PathBuf {
    root().join("target").join("e2e")
}

/// `cargo-mango`: `MANGO_TEST_CARGO_MANGO` when set (`scripts/test.sh` sets it to the
/// one its unit stage built), else built from this checkout (once per test process).
pub fn cargo_mango() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("MANGO_TEST_CARGO_MANGO") {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "MANGO_TEST_CARGO_MANGO is {}, which is not a file",
                bin.display()
            );
            return bin;
        }
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "cargo-mango", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(e2e_target())
            .status()
            .unwrap();
        assert!(status.success(), "building cargo-mango failed");
        e2e_target().join("debug").join("cargo-mango")
    })
    .clone()
}

/// A command run the way every test runs one: in `dir`, building into the shared target
/// directory, with none of the caller's `MANGO_SETTINGS` / `MANGO_PROFILE` (a test says
/// what settings it wants), and none of the clippy wrapper `scripts/test.sh` builds the
/// tests with (the projects build as their users build them; [`clippy_clean`] lints).
/// Every helper below starts from this one.
pub fn command_in(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", e2e_target())
        .env_remove("MANGO_SETTINGS")
        .env_remove("MANGO_PROFILE")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    cmd
}

/// `cargo mango <args>` in `dir` (a `Command`, for more settings).
pub fn mango_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = command_in(cargo_mango(), dir);
    cmd.arg("mango").args(args);
    cmd
}

/// `cargo <args>` in `dir`.
pub fn cargo_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = command_in(env!("CARGO"), dir);
    cmd.args(args);
    cmd
}

/// Runs `cargo mango <args>` in `dir`.
pub fn mango(dir: &Path, args: &[&str]) -> Output {
    mango_in(dir, args).output().unwrap()
}

/// Like [`mango`], failing the test when the command fails.
pub fn mango_ok(dir: &Path, args: &[&str]) -> Output {
    let out = mango(dir, args);
    assert!(
        out.status.success(),
        "cargo mango {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `build` once per test run for the project `name`, however many tests and test
/// processes ask: under cargo-nextest every test is a process of its own, so a
/// `OnceLock` alone would build the project once per test, and two processes building
/// it at once would overwrite each other. The first to ask holds a lock file
/// (`target/e2e/projects/<name>.lock`) while it builds and then records the run
/// (`<name>.built`); the others wait on the lock, see the record and build nothing. A
/// run is nextest's `NEXTEST_RUN_ID`, else this process (`cargo test` runs a binary's
/// tests in one process). A failed build records nothing: the next test tries again.
pub fn once_per_run(name: &str, build: impl FnOnce()) {
    let projects = e2e_target().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    let run = std::env::var("NEXTEST_RUN_ID")
        .unwrap_or_else(|_| format!("process {}", std::process::id()));
    let lock = std::fs::File::create(projects.join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let record = projects.join(format!("{name}.built"));
    if std::fs::read_to_string(&record).is_ok_and(|r| r == run) {
        return;
    }
    let _ = std::fs::remove_file(&record);
    build();
    std::fs::write(&record, run).unwrap();
    // The lock is released when `lock` is dropped.
}

/// A project made by `make` (it scaffolds and builds it) once per test run and shared by
/// every test that asks, in this process and in others ([`once_per_run`]). Callers keep
/// the result in a `OnceLock`, so a process asks once.
pub fn shared_site(name: &str, make: impl FnOnce() -> Site) -> Site {
    once_per_run(name, || {
        make();
    });
    Site::at(name)
}

/// The target directory of the project built with mango-rt's `oauth` and `telemetry`
/// features ([`oauth_site`]). Its dependency graph shares nothing with the other
/// projects' (serde's `rc`, syn's `extra-traits`, hyper's client … change every crate
/// above them), so it builds in a directory of its own, beside the shared one rather
/// than queued behind the other projects' builds on that directory's lock.
pub fn oauth_target() -> PathBuf {
    root().join("target").join("e2e-oauth")
}

/// The project built with mango-rt's `oauth` and `telemetry` features, whose app
/// `vault` has items that need scopes and a tool on the database (tests/tests/oauth.rs
/// and telemetry.rs share it: one build for both features), in [`oauth_target`]; built
/// once per run ([`once_per_run`]). Its binary has `testing` too (a module it does not
/// call), so that `cargo test -p vault` (the app's own test, which asks for it) does
/// not compile mango-rt a second time.
pub fn oauth_site() -> Site {
    let name = "oauthsite";
    once_per_run(name, make_oauth_site);
    Site {
        binary: oauth_target().join("debug").join(name),
        ..Site::at(name)
    }
}

fn make_oauth_site() {
    let parent = scratch("oauthsite");
    mango_ok(&parent, &["startproject", "oauthsite"]);
    let dir = parent.join("oauthsite");
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen(
            "mango-rt = { path = ",
            "mango-rt = { features = [\"oauth\", \"telemetry\", \"testing\"], path = ",
            1,
        ),
    )
    .unwrap();
    mango_ok(&dir, &["startapp", "vault"]);
    std::fs::copy(
        root().join("tests/e2e/fixtures/vault.rs"),
        dir.join("apps/vault/src/lib.rs"),
    )
    .unwrap();
    let app = dir.join("apps/vault/Cargo.toml");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, text + "serde_json = \"1\"\n").unwrap();
    build_site_in(dir, "oauthsite", &oauth_target());
}

/// A fresh folder under `target/e2e/projects/` (emptied first).
pub fn scratch(name: &str) -> PathBuf {
    let dir = e2e_target().join("projects").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the tests run in CI, where a missing service is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (on a laptop) or fails (in CI) a test whose service is missing.
pub fn missing(what: &str) {
    if in_ci() {
        panic!(
            "{what} is missing, and under CI=true every test must run: run ./scripts/test.sh, which installs it"
        );
    }
    eprintln!("SKIPPED: {what} is missing; ./scripts/test.sh installs it");
}

/// A Python with the MCP SDK: `MANGO_TEST_PYTHON`, else `target/venv/bin/python`.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("MANGO_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root()
                .join("target")
                .join("venv")
                .join("bin")
                .join("python")
        });
    let ok = Command::new(&python)
        .args(["-c", "import mcp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// Runs the Python client (`tests/e2e/client.py`) with these arguments; returns its
/// stdout, failing the test (with everything it printed) when a check failed.
pub fn python_client(python: &Path, args: &[&str]) -> String {
    python_script(python, "client.py", args)
}

/// Runs a Python script of `tests/e2e` (a client on the MCP Python SDK) with these
/// arguments; returns its stdout, failing the test (with everything it printed) when a
/// check failed.
pub fn python_script(python: &Path, script: &str, args: &[&str]) -> String {
    let child = Command::new(python)
        .arg(root().join("tests").join("e2e").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_timeout(
        child,
        Duration::from_secs(120),
        &format!("the Python MCP client {args:?}"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the Python MCP client failed ({args:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits for a child, killing it (and failing the test) past `limit`: a hung server or
/// client fails the test instead of hanging the suite.
pub fn wait_with_timeout(mut child: Child, limit: Duration, what: &str) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "{what} did not finish within {limit:?}; its stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// The end-to-end project: `startproject e2esite`, apps `calc` and `notes` (the latter
/// with no prefix), the fixtures' tools, `[default.apps.calc] factor = 10`; built once.
///
/// Projects that share a target directory must not have apps of the same name at the
/// same place: Cargo hashes a workspace member by its path inside the workspace, so two
/// such apps would overwrite each other's build. Other test projects name their apps
/// differently.
pub struct Site {
    pub dir: PathBuf,
    pub binary: PathBuf,
}

impl Site {
    pub fn get() -> &'static Site {
        static SITE: OnceLock<Site> = OnceLock::new();
        SITE.get_or_init(|| {
            shared_site("e2esite", || {
                Site::scaffold("e2esite", ["calc", "notes"], |_| {})
            })
        })
    }

    /// The project `name` where the helpers here make it (`scratch(name)/name`), and its
    /// binary in the shared target directory.
    pub fn at(name: &str) -> Site {
        Site {
            dir: e2e_target().join("projects").join(name).join(name),
            binary: e2e_target().join("debug").join(name),
        }
    }

    /// Scaffolds and builds a project like the shared one, with the fixtures `calc` and
    /// `notes` as the apps `apps[0]` and `apps[1]`; `tweak` runs before the build.
    pub fn scaffold(name: &str, apps: [&str; 2], tweak: impl FnOnce(&Path)) -> Site {
        let parent = scratch(name);
        mango_ok(&parent, &["startproject", name]);
        let dir = parent.join(name);
        let fixtures = root().join("tests").join("e2e").join("fixtures");
        for (app, fixture) in apps.iter().zip(["calc", "notes"]) {
            mango_ok(&dir, &["startapp", app]);
            std::fs::copy(
                fixtures.join(format!("{fixture}.rs")),
                dir.join("apps").join(app).join("src").join("lib.rs"),
            )
            .unwrap();
        }
        // The example project (example/, apps `calc`, `greetings` and `notes`) builds in
        // the same target directory: a version of their own keeps these apps' builds
        // apart from its apps of the same name and place.
        for app in apps {
            let manifest = dir.join("apps").join(app).join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            assert!(text.contains("\nversion = \"0.1.0\"\n"), "{text}");
            std::fs::write(
                &manifest,
                text.replacen(
                    "\nversion = \"0.1.0\"\n",
                    &format!("\nversion = \"0.1.0-{name}\"\n"),
                    1,
                ),
            )
            .unwrap();
        }
        let notes = dir.join("apps").join(apps[1]).join("Cargo.toml");
        let text = std::fs::read_to_string(&notes).unwrap();
        std::fs::write(
            &notes,
            text.replace(
                "[package.metadata.mango]\n",
                "[package.metadata.mango]\nprefix = \"\"\n",
            ),
        )
        .unwrap();
        let mut settings = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("Mango.toml"))
            .unwrap();
        writeln!(settings, "\n[default.apps.{}]\nfactor = 10", apps[0]).unwrap();
        tweak(&dir);
        build_site(dir, name)
    }

    /// The project's binary, run in the project's folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command_in(&self.binary, &self.dir);
        cmd.args(args);
        cmd
    }

    /// Starts `serve` over HTTP on a free port; returns the server and its URL.
    pub fn serve_http(&self, extra: &[&str]) -> Server {
        self.serve_http_with_env(extra, &[])
    }

    /// [`Site::serve_http`] with extra environment variables for the server.
    pub fn serve_http_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--transport", "http", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        // What the server logged up to its URL is part of its log too.
        let mut early = String::new();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("the server stopped before listening:\n{early}"))
                .unwrap();
            early.push_str(&line);
            early.push('\n');
            // The MCP endpoint's line (the admin's lines come after it).
            if line.contains("over Streamable HTTP at")
                && let Some(at) = line.find("http://")
            {
                break line[at..].split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so that the server never blocks on a full pipe.
        let log = std::sync::Arc::new(Mutex::new(early));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Server { child, url, log }
    }
}

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: std::sync::Arc<Mutex<String>>,
}

impl Server {
    /// `127.0.0.1:port`.
    pub fn authority(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 POST (no client library: the point is to send what clients do not).
/// Returns (status, headers, body).
pub fn http_post(
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let stream = TcpStream::connect(authority).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {authority}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    exchange(stream, &request)
}

/// A raw HTTP/1.1 GET: (status, headers, body).
pub fn http_get(authority: &str, path: &str) -> (u16, String, String) {
    let stream = TcpStream::connect(authority).unwrap();
    exchange(
        stream,
        &format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"),
    )
}

/// A raw HTTP/1.1 GET with extra headers (a `Cookie`): (status, headers, body).
pub fn http_get_with(
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let stream = TcpStream::connect(authority).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    exchange(stream, &request)
}

/// Writes `request` and reads the whole answer (the server closes the connection):
/// (status, headers, body).
fn exchange(mut stream: TcpStream, request: &str) -> (u16, String, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The node that runs the npm test tools (`scripts/node-tools.sh` installs it with
/// them), when they are installed.
pub fn node_tools() -> Option<PathBuf> {
    let dir = root()
        .join("target")
        .join("conformance-node")
        .join("node_modules");
    let node = dir.join(".bin").join("node");
    (node.is_file()
        && dir
            .join("oauth2-mock-server")
            .join("package.json")
            .is_file())
    .then_some(node)
}

/// A real OAuth authorization server (`tests/e2e/authorization-server.mjs`, on
/// oauth2-mock-server), on loopback; killed when dropped.
pub struct AuthorizationServer {
    child: Child,
    /// Its issuer URL, `http://127.0.0.1:<port>`.
    pub issuer: String,
}

impl AuthorizationServer {
    pub fn start(node: &Path) -> AuthorizationServer {
        let mut child = Command::new(node)
            .arg(
                root()
                    .join("tests")
                    .join("e2e")
                    .join("authorization-server.mjs"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let issuer = line
            .trim()
            .strip_prefix("issuer=")
            .unwrap_or_else(|| panic!("the authorization server did not start: {line:?}"))
            .to_owned();
        AuthorizationServer { child, issuer }
    }

    pub fn authority(&self) -> String {
        self.issuer.trim_start_matches("http://").to_owned()
    }

    /// POSTs JSON to one of its endpoints; the answer's JSON.
    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, _, text) = http_post(
            &self.authority(),
            path,
            &[("Content-Type", "application/json")],
            &body.to_string(),
        );
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// An access token with these claims (`scope`, `aud`, `sub`, `exp_in`, `iss`,
    /// `foreign` …), signed by the server.
    pub fn token(&self, claims: serde_json::Value) -> String {
        self.post("/issue", claims)["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// How many times its JWKS has been fetched.
    pub fn jwks_fetches(&self) -> u64 {
        let (_, _, body) = http_get(&self.authority(), "/stats");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["jwks"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `DELETE` of the MCP session `session` at `path`; the status and the body.
pub fn http_delete(authority: &str, path: &str, session: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "DELETE {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The JSON headers MCP's Streamable HTTP wants.
pub const JSON_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "application/json, text/event-stream"),
];

/// An `initialize` request with a 2025 protocol version.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// A JSON-RPC client over a server's stdio (no client library: raw messages, so tests
/// can send many at once and see exactly what comes back).
pub struct StdioClient {
    child: Child,
    /// What the server wrote to stderr so far (also copied to the test's stderr).
    pub log: std::sync::Arc<Mutex<String>>,
    stdin: std::process::ChildStdin,
    replies: std::sync::mpsc::Receiver<serde_json::Value>,
    next_id: u64,
    early: std::collections::HashMap<u64, serde_json::Value>,
}

impl StdioClient {
    /// Starts `cmd` (a `serve --transport stdio`) and initializes the session.
    pub fn start(mut cmd: Command) -> StdioClient {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let mut client = StdioClient {
            child,
            log,
            stdin,
            replies,
            next_id: 0,
            early: Default::default(),
        };
        let init: serde_json::Value = serde_json::from_str(INITIALIZE).unwrap();
        let reply = client.request("initialize", init["params"].clone());
        assert!(reply.get("result").is_some(), "initialize failed: {reply}");
        client.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    fn send(&mut self, message: &serde_json::Value) {
        writeln!(self.stdin, "{message}").unwrap();
    }

    /// Sends a request without waiting; [`StdioClient::wait_for`] gets its reply.
    pub fn send_request(&mut self, method: &str, params: serde_json::Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        id
    }

    /// The reply to request `id`.
    pub fn wait_for(&mut self, id: u64) -> serde_json::Value {
        if let Some(v) = self.early.remove(&id) {
            return v;
        }
        loop {
            let v = self
                .replies
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no reply to request {id} within 60 s"));
            match v.get("id").and_then(serde_json::Value::as_u64) {
                Some(got) if got == id => return v,
                Some(got) => {
                    self.early.insert(got, v);
                }
                None => {} // a notification
            }
        }
    }

    /// A notification (no reply).
    pub fn notify(&mut self, method: &str, params: serde_json::Value) {
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The reply to request `id` if it comes within `limit`.
    pub fn reply_within(&mut self, id: u64, limit: Duration) -> Option<serde_json::Value> {
        if let Some(v) = self.early.remove(&id) {
            return Some(v);
        }
        let until = std::time::Instant::now() + limit;
        loop {
            let left = until.checked_duration_since(std::time::Instant::now())?;
            let v = self.replies.recv_timeout(left).ok()?;
            match v.get("id").and_then(serde_json::Value::as_u64) {
                Some(got) if got == id => return Some(v),
                Some(got) => {
                    self.early.insert(got, v);
                }
                None => {}
            }
        }
    }

    /// Every reply that has come so far, by request id (taken).
    pub fn replies_so_far(&mut self) -> std::collections::HashMap<u64, serde_json::Value> {
        while let Ok(v) = self.replies.try_recv() {
            if let Some(id) = v.get("id").and_then(serde_json::Value::as_u64) {
                self.early.insert(id, v);
            }
        }
        std::mem::take(&mut self.early)
    }

    /// SIGTERM, as a deployment stops a server: what is in flight finishes, then it
    /// exits (within 30 s, or the test fails).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not exit within 30 s of SIGTERM");
    }

    /// `kill -9` of the server: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One request, waiting for its reply.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.send_request(method, params);
        self.wait_for(id)
    }

    /// `tools/call`; returns the result (or the error object).
    pub fn call(&mut self, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
        let reply = self.request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": arguments}),
        );
        reply.get("result").or(reply.get("error")).cloned().unwrap()
    }

    /// Many `tools/call`s sent at once; their results in the same order.
    pub fn call_many(&mut self, calls: &[(&str, serde_json::Value)]) -> Vec<serde_json::Value> {
        let ids: Vec<u64> = calls
            .iter()
            .map(|(tool, args)| {
                self.send_request(
                    "tools/call",
                    serde_json::json!({"name": tool, "arguments": args}),
                )
            })
            .collect();
        ids.into_iter()
            .map(|id| {
                let reply = self.wait_for(id);
                reply.get("result").or(reply.get("error")).cloned().unwrap()
            })
            .collect()
    }
}

impl Drop for StdioClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log filter under which a server logs every request it receives (rmcp's
/// `received request id=… request=…`, at debug), for tests that wait until a call is
/// under way: `MANGO_LOG=`[`REQUEST_LOG`].
pub const REQUEST_LOG: &str = "info,rmcp::service=debug";

/// A process's resident memory (`VmRSS` of `/proc/<pid>/status`), in MiB.
pub fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        / 1024
}

/// Waits until `log` holds `needle` at least `count` times, failing the test (with the
/// log) past `limit`. For a server started with `MANGO_LOG=`[`REQUEST_LOG`], a call is
/// under way once its request is logged: `"name: \"calc_slow\""`.
pub fn wait_for_log(log: &Mutex<String>, needle: &str, count: usize, limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        let seen = log.lock().unwrap().matches(needle).count();
        if seen >= count {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the server did not log `{needle}` {count} time(s) within {limit:?} ({seen} seen):\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes `text` to `path` with a modification time a second from now, so that cargo
/// sees the file changed since the last build even where file times have a granularity
/// of a second, without the test sleeping for it. (The next build, which the test
/// makes, rebuilds; one within that second would see it changed again.)
pub fn write_newer(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(1))
        .unwrap();
}

/// Whether a `tools/call` result is an error result.
pub fn is_error(result: &serde_json::Value) -> bool {
    result["isError"] == true || result.get("code").is_some()
}

/// The text of a `tools/call` result (or an error's message).
pub fn text(result: &serde_json::Value) -> String {
    if let Some(m) = result.get("message").and_then(serde_json::Value::as_str) {
        return m.to_owned();
    }
    result["content"]
        .as_array()
        .map(|c| c.iter().filter_map(|b| b["text"].as_str()).collect())
        .unwrap_or_default()
}

/// A project with the database fixtures: apps `ledger` (tools that write, fail, panic,
/// hold their connection) and `audit` (depends on ledger; its migration has the same
/// version string). `backend` is "sqlite" or "postgres". `ledger` names the ledger app
/// (projects sharing the target directory need different names, see [`Site`]); the
/// audit app comes only with `with_audit`.
pub fn db_site(
    name: &str,
    backend: &str,
    ledger: &str,
    with_audit: bool,
    tweak: impl FnOnce(&Path),
) -> Site {
    let parent = scratch(name);
    mango_ok(&parent, &["startproject", name]);
    let dir = parent.join(name);
    if backend == "postgres" {
        build_for_postgres(&dir);
    }
    let fixtures = root().join("tests").join("e2e").join("fixtures");
    let apps: &[(&str, &str)] = if with_audit {
        &[(ledger, "ledger"), ("audit", "audit")]
    } else {
        &[(ledger, "ledger")]
    };
    for &(app, fixture) in apps {
        mango_ok(&dir, &["startapp", app]);
        let app_dir = dir.join("apps").join(app);
        let source = std::fs::read_to_string(fixtures.join(format!("{fixture}.rs"))).unwrap();
        std::fs::write(
            app_dir.join("src/lib.rs"),
            source.replace("use ledger as _;", &format!("use {ledger} as _;")),
        )
        .unwrap();
        std::fs::remove_file(app_dir.join("src/schema.rs")).unwrap();
        std::fs::remove_dir_all(app_dir.join("migrations")).unwrap();
        let from = if fixture == "ledger" {
            fixtures.join("ledger").join(backend)
        } else {
            fixtures.join("audit")
        };
        copy_dir(&from, &app_dir.join("migrations"));
    }
    if with_audit {
        let audit = dir.join("apps/audit/Cargo.toml");
        let text = std::fs::read_to_string(&audit).unwrap();
        std::fs::write(
            &audit,
            text.replace(
                "mango-rt.workspace = true",
                &format!("mango-rt.workspace = true\n{ledger} = {{ path = \"../{ledger}\" }}"),
            ),
        )
        .unwrap();
    }
    tweak(&dir);
    build_site(dir, name)
}

/// Syncs and builds a scaffolded project (its binary is `name`) in the shared target
/// directory.
pub fn build_site(dir: PathBuf, name: &str) -> Site {
    build_site_in(dir, name, &e2e_target())
}

/// Like [`build_site`], in the target directory `target`.
fn build_site_in(dir: PathBuf, name: &str, target: &Path) -> Site {
    mango_ok(&dir, &["sync"]);
    let out = cargo_in(&dir, &["build", "-q", "-p", name])
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = target.join("debug").join(name);
    assert!(binary.is_file(), "{} was not built", binary.display());
    Site { dir, binary }
}

/// Fails the test when clippy finds anything in the project at `dir` (every target, `-D
/// warnings`). The fixtures are code a user would write, held to the repository's bar:
/// they are linted once, all together, by `tests/tests/fixtures.rs` (not once per
/// project that copies them), and `scripts/test.sh` checks their formatting.
///
/// It lints as it builds, as `scripts/test.sh` does: clippy-driver compiles the project's
/// own crates (what `cargo clippy` does, in check mode), so the dependencies are the
/// build the other projects share rather than a second, check-mode compile of them all.
/// Without clippy-driver beside cargo, it runs `cargo clippy`.
pub fn clippy_clean(dir: &Path, name: &str) {
    let driver = Path::new(env!("CARGO")).with_file_name("clippy-driver");
    let mut cmd = if driver.is_file() {
        let mut cmd = cargo_in(dir, &["build", "-q", "--workspace", "--all-targets"]);
        cmd.env("RUSTC_WORKSPACE_WRAPPER", &driver)
            .env("CLIPPY_ARGS", "-Dwarnings");
        cmd
    } else {
        cargo_in(
            dir,
            &[
                "clippy",
                "-q",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "clippy found problems in {name} (its apps are the fixtures in tests/e2e/fixtures, and for lintsite the guide's snippets, apps/guide*: the first line of each names its page):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Makes the project in `dir` (just started, no app yet) build for PostgreSQL.
pub fn build_for_postgres(dir: &Path) {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("mango-rt = { path = "), "{text}");
    let text = text.replacen(
        "mango-rt = { path = ",
        "mango-rt = { default-features = false, features = [\"postgres\"], path = ",
        1,
    );
    std::fs::write(&manifest, text).unwrap();
}

/// The PostgreSQL server the tests may use (`MANGO_TEST_DATABASE_URL`, e.g.
/// `postgres://postgres@127.0.0.1:54329/postgres`), if there is one.
pub fn postgres_url() -> Option<String> {
    std::env::var("MANGO_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Creates a fresh database on the test server; returns its URL.
pub fn fresh_postgres_database(base: &str, name: &str) -> String {
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        let out = Command::new("psql")
            .arg(base)
            .args(["-v", "ON_ERROR_STOP=1", "-c", &sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (head, _) = base.rsplit_once('/').unwrap();
    format!("{head}/{name}")
}

/// Runs a command: its exit code, stdout and stderr.
pub fn outcome(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; returns its stdout.
pub fn success(cmd: &mut Command) -> String {
    let (code, stdout, stderr) = outcome(cmd);
    assert_eq!(code, 0, "{cmd:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// A TCP proxy on loopback to `target`, which a test can cut (every connection closed,
/// new ones refused: the database is gone) and restore, on the same port.
pub struct TcpProxy {
    pub port: u16,
    target: String,
    state: std::sync::Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    cut: std::sync::atomic::AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    pub fn start(target: &str) -> TcpProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = TcpProxy {
            port,
            target: target.to_owned(),
            state: Default::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: std::net::TcpListener) {
        let state = self.state.clone();
        let target = self.target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if state.cut.load(std::sync::atomic::Ordering::SeqCst) {
                    return; // the listener closes: new connections are refused
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut streams = state.streams.lock().unwrap();
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                streams.push(client);
                streams.push(server);
            }
        });
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.state
            .cut
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.state.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // Wake the accept loop so that it sees the cut and drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Accepts connections again, on the same port.
    pub fn restore(&self) {
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let listener = loop {
            match std::net::TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        self.serve(listener);
    }
}

/// The `Mcp-Session-Id` header of a response's head.
pub fn session_id(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("mcp-session-id")
            .then(|| v.trim().to_owned())
    })
}

/// The JSON-RPC answer to request `id` in a response body: plain JSON, or the `data:`
/// lines of an event stream.
pub fn reply_in(body: &str, id: u64) -> Option<serde_json::Value> {
    let answers = |v: &serde_json::Value| {
        v["id"] == id && (v.get("result").is_some() || v.get("error").is_some())
    };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body.trim()) {
        return answers(&v).then_some(v);
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(answers)
}

/// A 2025-11-25 session on an HTTP server: `initialize` and `notifications/initialized`
/// sent; its id.
pub fn open_session(authority: &str) -> String {
    let (status, head, body) = http_post(authority, "/mcp", JSON_HEADERS, INITIALIZE);
    assert_eq!(status, 200, "{head}\n{body}");
    let session = session_id(&head).unwrap_or_else(|| panic!("no session id: {head}"));
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", &session));
    headers.push(("MCP-Protocol-Version", "2025-06-18"));
    let (status, _, body) = http_post(
        authority,
        "/mcp",
        &headers,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(status, 202, "{body}");
    session
}

/// Calls `tool` in `session`: the answer to the request, if one came before the
/// response ended.
pub fn call_in_session(
    authority: &str,
    session: &str,
    id: u64,
    tool: &str,
    arguments: serde_json::Value,
) -> Option<serde_json::Value> {
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", session));
    headers.push(("MCP-Protocol-Version", "2025-06-18"));
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}).to_string();
    let (_, _, body) = http_post(authority, "/mcp", &headers, &body);
    reply_in(&body, id)
}

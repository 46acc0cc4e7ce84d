//! `cargo mango serve --reload` on a real project: an edited tool is served without
//! restarting the command, a broken build leaves the last good server serving, stdio is
//! refused, and SIGTERM stops the server with it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mango_tests::{JSON_HEADERS, http_post, mango_in, mango_ok, outcome, scratch};

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The text `rlapp_hello` answers, or `None` while nothing answers.
fn hello(port: u16) -> Option<String> {
    let authority = format!("127.0.0.1:{port}");
    std::net::TcpStream::connect(&authority).ok()?;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rlapp_hello","arguments":{"name":"Ada"}}}"#;
    // A server being swapped may close the connection mid-request: that is "nothing
    // answers" too.
    let (status, _, body) =
        std::panic::catch_unwind(|| http_post(&authority, "/mcp", JSON_HEADERS, body)).ok()?;
    (status == 200).then_some(body)
}

/// How long a build after a change may take. Alone it takes seconds; here the project
/// builds in the suite's shared target directory, where cargo's lock makes it wait for
/// whichever other test is building a project there (minutes, on CI's two cores).
const A_BUILD: Duration = Duration::from_secs(600);

/// Waits until `check` holds (what the server answers, what the command printed); the
/// panic shows what the command printed.
fn wait_for(
    what: &str,
    limit: Duration,
    log: &Mutex<String>,
    mut check: impl FnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed = log.lock().unwrap().clone();
    panic!("{what}: not within {limit:?}\n--- serve --reload printed:\n{printed}");
}

#[test]
fn an_edited_tool_is_served_without_a_restart_and_a_broken_build_changes_nothing() {
    let parent = scratch("reloadsite");
    mango_ok(&parent, &["startproject", "reloadsite"]);
    let dir = parent.join("reloadsite");
    mango_ok(&dir, &["startapp", "rlapp"]);
    let lib = dir.join("apps/rlapp/src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    assert!(source.contains(r#"format!("Hello, {name}!")"#));

    // stdio is refused, saying why.
    let (code, _, err) = outcome(&mut mango_in(
        &dir,
        &["serve", "--reload", "--transport", "stdio"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("HTTP only"), "{err}");

    let port = free_port();
    let mut reload = mango_in(
        &dir,
        &[
            "serve",
            "--reload",
            "-q",
            "--port",
            &port.to_string(),
            "--stateless",
            "--migrate",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Killed with the test, whatever happens (a process left watching the project would
    // rebuild it beside the next run).
    struct Reaper(u32);
    impl Drop for Reaper {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
        }
    }
    let _reaper = Reaper(reload.id());
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let stderr = reload.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let said = |text: &str| log.lock().unwrap().matches(text).count();

    // A copy, so that no lock is held while an assertion formats its message.
    let printed = || log.lock().unwrap().clone();
    wait_for("the first build serving", A_BUILD, &log, || {
        hello(port).is_some_and(|b| b.contains("Hello, Ada!"))
    });

    // Edit the tool's body: the new text is served, by the same command.
    std::fs::write(&lib, source.replace("Hello, {name}!", "Howdy, {name}!")).unwrap();
    let took = wait_for("the edited tool served", A_BUILD, &log, || {
        hello(port).is_some_and(|b| b.contains("Howdy, Ada!"))
    });
    eprintln!("from saving the tool to the new answer: {took:?}");

    // Break the build: the errors are shown, the last good server keeps serving.
    let builds_before = said("serving the new build");
    std::fs::write(
        &lib,
        source.replace("Hello, {name}!", "Howdy, {name}!")
            + "\ncompile_error!(\"broken on purpose\");\n",
    )
    .unwrap();
    wait_for("the failed build reported", A_BUILD, &log, || {
        said("the build failed") > 0
    });
    let shown = printed();
    assert!(
        shown.contains("broken on purpose"),
        "cargo's error is shown: {shown}"
    );
    assert!(hello(port).is_some_and(|b| b.contains("Howdy, Ada!")));
    assert_eq!(said("serving the new build"), builds_before);

    // A burst of writes is one rebuild.
    let rebuilds_before = said("changed; building");
    for i in 0..5 {
        std::fs::write(
            &lib,
            source.replace("Hello, {name}!", &format!("Hi {i}, {{name}}!")),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_for("the last write served", A_BUILD, &log, || {
        hello(port).is_some_and(|b| b.contains("Hi 4, Ada!"))
    });
    assert_eq!(
        said("serving the new build"),
        builds_before + 1,
        "one rebuild for the burst: {}",
        printed()
    );
    assert_eq!(
        said("changed; building"),
        rebuilds_before + 1,
        "one rebuild for the burst: {}",
        printed()
    );

    // A change of the settings starts a new server, though the binary is the same.
    let before = said("serving the new build");
    let settings = dir.join("Mango.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, text + "\n# changed\n").unwrap();
    wait_for("the settings change served", A_BUILD, &log, || {
        said("serving the new build") > before
    });
    // The next change after the burst was this one: no late rebuild of the burst came
    // between (the reloader takes changes in order).
    assert_eq!(
        said("changed; building"),
        rebuilds_before + 2,
        "a rebuild besides the burst's and the settings': {}",
        printed()
    );
    wait_for(
        "the new server answering",
        Duration::from_secs(30),
        &log,
        || hello(port).is_some_and(|b| b.contains("Hi 4, Ada!")),
    );

    // SIGTERM stops the command and its server.
    std::process::Command::new("kill")
        .args(["-TERM", &reload.id().to_string()])
        .status()
        .unwrap();
    let status = reload.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server outlived `serve --reload`"
    );
}

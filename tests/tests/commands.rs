//! Management commands end to end: `#[command]` in a real project, run through the
//! project's binary and through `cargo mango run`.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::OnceLock;

use mango_tests::*;

/// `cmdsite`: app `cmdledger` (the ledger fixture plus the command fixture) and app
/// `cmdother` (a `greet` of its own, and `hello`); its database migrated.
fn site() -> &'static (Site, String) {
    static SITE: OnceLock<(Site, String)> = OnceLock::new();
    SITE.get_or_init(|| {
        let url = format!(
            "sqlite://{}",
            e2e_target().join("projects/cmd-db/db.sqlite3").display()
        );
        let site = shared_site("cmdsite", || {
            let site = db_site("cmdsite", "sqlite", "cmdledger", false, |dir| {
                let fixtures = root().join("tests/e2e/fixtures");
                let lib = dir.join("apps/cmdledger/src/lib.rs");
                let mut text = std::fs::read_to_string(&lib).unwrap();
                text.push_str(&std::fs::read_to_string(fixtures.join("commands.rs")).unwrap());
                std::fs::write(&lib, text).unwrap();
                mango_ok(dir, &["startapp", "cmdother"]);
                let other = dir.join("apps/cmdother");
                std::fs::copy(fixtures.join("other.rs"), other.join("src/lib.rs")).unwrap();
                std::fs::remove_file(other.join("src/schema.rs")).unwrap();
            });
            scratch("cmd-db");
            let (code, _, err) = run(&site, &url, &["migrate"]);
            assert_eq!(code, 0, "{err}");
            site
        });
        (site, url)
    })
}

fn run(site: &Site, url: &str, args: &[&str]) -> (i32, String, String) {
    outcome(
        site.command(args)
            .env("MANGO_DATABASE__URL", url)
            .env("MANGO_LOG", "warn"),
    )
}

fn rows(site: &Site, url: &str) -> i64 {
    let (code, out, err) = run(site, url, &["run", "call", "cmdledger_count"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["structuredContent"]["result"].as_i64().unwrap()
}

#[test]
fn the_list_and_the_help_read_like_manage_py() {
    let (site, url) = site();
    let (code, list, err) = run(site, url, &["run"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("run_list", list);
    let (code, again, _) = run(site, url, &["run", "--list"]);
    assert_eq!((code, &again), (0, &list));
    // `app:command`, the spelling before `app.command`, is still read.
    let (code, help, err) = run(site, url, &["run", "cmdledger:greet", "--help"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("run_greet_help", help);
}

#[test]
fn arguments_in_every_style() {
    let (site, url) = site();
    let (code, out, err) = run(
        site,
        url,
        &["run", "cmdledger.greet", "Ada", "--times", "2", "--shout"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "HELLO, ADA!HELLO, ADA!\n");
    let (code, out, err) = run(site, url, &["run", "numbers", "--to", "3"]);
    assert_eq!(code, 0, "{err}");
    let numbers: Vec<u32> = serde_json::from_str(&out).unwrap();
    assert_eq!(numbers, [1, 2, 3]);
    let (code, out, _) = run(site, url, &["run", "hello"]);
    assert_eq!((code, out.as_str()), (0, "hello from the other app\n"));
}

#[test]
fn a_command_writes_and_a_failing_one_leaves_nothing() {
    let (site, url) = site();
    let before = rows(site, url);
    let (code, out, err) = run(site, url, &["run", "add_rows", "cmd-a", "cmd-b"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{} rows\n", before + 2));
    let (code, _, err) = run(site, url, &["run", "add_rows_then_fail", "cmd-c", "cmd-d"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("failing after adding rows, on purpose"),
        "{err}"
    );
    assert_eq!(rows(site, url), before + 2);
    let (code, _, err) = run(site, url, &["run", "add_then_panic"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the command panicked: panicking after adding a row"),
        "{err}"
    );
    assert_eq!(rows(site, url), before + 2);
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let (site, url) = site();
    let (code, _, err) = run(site, url, &["run", "greet", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`cmdledger.greet` or `cmdother.greet`"),
        "{err}"
    );
    let (code, _, err) = run(site, url, &["run", "gret"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("did you mean") && err.contains("`greet`") && err.contains("[cmdother]"),
        "{err}"
    );
    let (code, _, err) = run(site, url, &["run", "cmdledger.greet"]);
    assert_eq!(code, 2);
    assert!(err.contains("required"), "{err}");
    let (code, _, err) = run(site, url, &["run", "numbers", "--to", "many"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'many'"), "{err}");
}

#[test]
fn built_in_commands() {
    let (site, url) = site();
    let (code, out, err) = run(site, url, &["run", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no problems found"), "{out}");
    assert!(!out.contains("`[input] key` is not set"), "{out}");
    // Stateless without a shared key for round states: a note that says what to set.
    let stateless = outcome(
        site.command(&["run", "check"])
            .env("MANGO_DATABASE__URL", url)
            .env("MANGO_SERVER__STATELESS", "true"),
    );
    assert!(
        stateless.1.contains("`[input] key` is not set")
            && stateless.1.contains("MANGO_INPUT__KEY"),
        "{}",
        stateless.1
    );
    let fresh = format!(
        "sqlite://{}",
        scratch("cmd-fresh").join("db.sqlite3").display()
    );
    // A project as startproject and startapp left it (its migrations not applied yet)
    // passes, with a warning that says what to run; a deployment does not.
    let (code, out, err) = run(site, &fresh, &["run", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("warning: ")
            && out.contains("migration(s) not applied")
            && out.contains("cargo mango migrate")
            && out.contains("no problems found"),
        "{out}"
    );
    let (code, _, err) = run(site, &fresh, &["run", "check", "--deploy"]);
    assert_eq!(code, 1, "{err}");
    for expected in [
        "migration(s) not applied",
        "problem: this is a debug build",
        "problem: [input] key is not set",
    ] {
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
    assert!(!err.contains("warning: "), "{err}");
    let (code, out, _) = run(site, url, &["run", "tools", "--json"]);
    assert_eq!(code, 0);
    let tools: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "cmdledger_insert")
    );
    let (code, _, err) = run(site, url, &["run", "call", "cmdledger_insert", "not json"]);
    assert_eq!(code, 1);
    assert!(err.contains("not valid JSON"), "{err}");
    let (code, _, err) = run(site, url, &["run", "call", "cmdledger_insrt"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `cmdledger_insert`"), "{err}");
}

/// `check --deploy` on settings that must not reach production: each finding names the
/// setting and the fix, and a secret's value is never printed.
#[test]
fn the_deploy_check_names_each_setting_and_its_fix() {
    let (site, url) = site();
    let dir = scratch("cmd-deploy");
    let settings = dir.join("Mango.toml");
    std::fs::write(
        &settings,
        r#"[default.server]
host = "0.0.0.0"
allowed_origins = ["https://*.example.com", "https://app.example.com"]
allowed_hosts = []

[default.auth]
tokens = { ops = "written-in-the-file-SECRET" }

[default.input]
key = "0123456789abcdef0123456789abcdef-in-the-file"

[default.admin]
enabled = true
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$CqaK8rf8NSULb3okTu1rAQ$K2YsYtJvn3UnYS7ruvEpGfZDvxIfIKrY1w+NjCrYzjk"
"#,
    )
    .unwrap();
    let path = settings.display().to_string();
    let (code, out, err) = run(
        site,
        url,
        &["--settings", &path, "run", "check", "--deploy"],
    );
    assert_eq!(code, 1, "{out}{err}");
    for expected in [
        "[server] host = \"0.0.0.0\" listens beyond this machine and `mango.auth` is not listed",
        "allowed_origins has `https://*.example.com`",
        "allowed_hosts = [] accepts any Host header",
        "behind_proxy = true",
        "`auth.tokens.ops` is written in",
        "set MANGO_AUTH__TOKENS__OPS",
        "`input.key` is written in",
        "this is a debug build",
        "[admin] is enabled on host = \"0.0.0.0\" without TLS in front",
        "`admin.password_hash` is written in",
    ] {
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
    assert!(!err.contains("has `https://app.example.com`"), "{err}");
    assert!(
        !err.contains("SECRET") && !err.contains("in-the-file\""),
        "{err}"
    );
    // The same secret from the environment, and a proxy that checks Host: not findings.
    std::fs::write(
        &settings,
        "[default.server]\nhost = \"0.0.0.0\"\nallowed_hosts = []\nbehind_proxy = true\n\n[default.admin]\nenabled = true\n",
    )
    .unwrap();
    let (_, _, err) = outcome(
        site.command(&["--settings", &path, "run", "check", "--deploy"])
            .env("MANGO_DATABASE__URL", url)
            .env("MANGO_AUTH__TOKENS__OPS", "from-the-environment")
            .env("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
    );
    assert!(
        !err.contains("is written in")
            && !err.contains("allowed_hosts")
            && !err.contains("listens beyond")
            && !err.contains("[admin] is enabled on host"),
        "{err}"
    );
    // A proxy on another machine is not believed until trusted_proxies names it.
    assert!(
        err.contains("believes forwarded headers from this machine only"),
        "{err}"
    );
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace(
            "behind_proxy = true\n",
            "behind_proxy = true\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        ),
    )
    .unwrap();
    let (_, _, err) = outcome(
        site.command(&["--settings", &path, "run", "check", "--deploy"])
            .env("MANGO_DATABASE__URL", url)
            .env("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
    );
    assert!(!err.contains("forwarded headers"), "{err}");
}

/// An app's start-up hook runs once per process, before calls and commands; what it
/// builds reaches tools and commands; its shutdown hook runs after the last call; a hook
/// that fails, panics or never finishes stops start-up naming the app and the hook.
#[test]
fn start_up_hooks_build_state_once_and_stop_start_up_when_they_fail() {
    let (site, url) = site();
    let (code, out, err) = run(site, url, &["run", "call", "cmdother_greeting"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("welcome (1 start)"), "{out}");
    let (code, out, err) = run(site, url, &["run", "cmdother.state"]);
    assert_eq!((code, out.trim()), (0, "welcome"), "{err}");

    // Served over HTTP: several requests, one start; the shutdown hook after SIGTERM.
    let mark = scratch("cmd-hooks").join("shutdown.txt");
    let mark_path = mark.display().to_string();
    let mut server = site.serve_http_with_env(
        &["--stateless"],
        &[
            ("MANGO_DATABASE__URL", url.as_str()),
            ("OTHER_SHUTDOWN_FILE", mark_path.as_str()),
        ],
    );
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cmdother_greeting","arguments":{}}}"#;
    for _ in 0..3 {
        let (status, _, body) = http_post(&server.authority(), "/mcp", JSON_HEADERS, call);
        assert!(
            status == 200 && body.contains("welcome (1 start)"),
            "{body}"
        );
    }
    assert!(!mark.exists(), "the shutdown hook ran before the shutdown");
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&mark).unwrap_or_default();
    assert_eq!(text, "welcome after 1 start(s)");

    for (mode, expected) in [
        ("fail", "failed: the greeting service is unreachable"),
        ("panic", "the start-up hook panicked on purpose"),
        ("hang", "did not finish within 1 s"),
    ] {
        let (code, _, err) = outcome(
            site.command(&["run", "call", "cmdother_greeting"])
                .env("MANGO_DATABASE__URL", url)
                .env("MANGO_STARTUP_TIMEOUT", "1")
                .env("OTHER_HOOK", mode),
        );
        assert_eq!(code, 1, "{mode}: {err}");
        assert!(
            err.contains("the start-up hook `start` of the app `cmdother` (")
                && err.contains("apps/cmdother/src/lib.rs:")
                && err.contains(expected),
            "{mode}: {err}"
        );
        let server = site
            .command(&["serve", "--transport", "stdio"])
            .env("MANGO_DATABASE__URL", url)
            .env("MANGO_STARTUP_TIMEOUT", "1")
            .env("OTHER_HOOK", mode)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&server.stderr);
        assert_eq!(server.status.code(), Some(1), "{mode}: {err}");
        assert!(err.contains(expected), "{mode}: {err}");
    }
    // The app's own test: the test server runs the hook too.
    let out = success(&mut mango_tests::cargo_in(
        &site.dir,
        &["test", "-q", "-p", "cmdother"],
    ));
    assert!(out.contains("1 passed"), "{out}");
}

/// `cargo mango install`: the entry written into each client's file (found from a
/// temporary HOME), merged beside the servers already there, the old file kept; a file
/// that is not JSON refused and left untouched; `--dry-run` and `mcp-json` write
/// nothing; an unknown client is a usage error listing the known ones.
#[test]
fn install_writes_each_clients_entry_and_keeps_the_rest() {
    let (site, url) = site();
    let home = scratch("cmd-install-home");
    let install = |args: &[&str]| {
        let mut all = vec!["install"];
        all.extend_from_slice(args);
        all.extend(["--profile", "dev", "-q"]);
        outcome(
            mango_tests::mango_in(&site.dir, &all)
                .env("HOME", &home)
                .env_remove("XDG_CONFIG_HOME")
                .env("MANGO_DATABASE__URL", url),
        )
    };
    let desktop = home.join(".config/Claude/claude_desktop_config.json");
    std::fs::create_dir_all(desktop.parent().unwrap()).unwrap();
    let before = r#"{"mcpServers": {"other": {"command": "/bin/other"}}, "theme": "dark"}"#;
    std::fs::write(&desktop, before).unwrap();
    let (code, out, err) = install(&["claude-desktop", "--env", "MANGO_LOG=warn"]);
    assert_eq!(code, 0, "{out}{err}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&desktop).unwrap()).unwrap();
    assert_eq!(config["theme"], "dark");
    assert_eq!(config["mcpServers"]["other"]["command"], "/bin/other");
    let entry = &config["mcpServers"]["cmdsite"];
    let command = entry["command"].as_str().unwrap();
    assert!(
        std::path::Path::new(command).is_absolute() && command.ends_with("/cmdsite"),
        "{entry}"
    );
    assert_eq!(
        entry["args"],
        serde_json::json!(["serve", "--transport", "stdio"])
    );
    assert_eq!(entry["env"]["MANGO_LOG"], "warn");
    let settings = entry["env"]["MANGO_SETTINGS"].as_str().unwrap();
    assert!(settings.ends_with("/Mango.toml") && std::path::Path::new(settings).is_file());
    let backup = desktop.with_extension("json.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
    // The entry runs: the installed command serves over stdio.
    let mut client = StdioClient::start({
        let mut cmd = Command::new(command);
        cmd.args(["serve", "--transport", "stdio"])
            .env("MANGO_SETTINGS", settings)
            .env("MANGO_DATABASE__URL", url);
        cmd
    });
    let r = client.call("cmdother_greeting", serde_json::json!({}));
    assert!(text(&r).contains("welcome"), "{r}");

    // Cursor (in HOME), VS Code and Claude Code (in the project), each its own shape.
    let (code, _, err) = install(&["cursor", "--name", "mine"]);
    assert_eq!(code, 0, "{err}");
    let cursor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join(".cursor/mcp.json")).unwrap())
            .unwrap();
    assert!(
        cursor["mcpServers"]["mine"]["command"].is_string(),
        "{cursor}"
    );
    for (client, file, key) in [
        ("vscode", ".vscode/mcp.json", "servers"),
        ("claude-code", ".mcp.json", "mcpServers"),
    ] {
        let (code, _, err) = install(&[client]);
        assert_eq!(code, 0, "{client}: {err}");
        let path = site.dir.join(file);
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            config[key]["cmdsite"]["type"], "stdio",
            "{client}: {config}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    // Not JSON: refused, untouched. --dry-run and mcp-json write nothing.
    std::fs::write(&desktop, "{ not json").unwrap();
    let (code, _, err) = install(&["claude-desktop"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is not valid JSON") && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&desktop).unwrap(), "{ not json");
    std::fs::remove_file(&desktop).unwrap();
    let (code, out, _) = install(&["claude-desktop", "--dry-run"]);
    assert!(
        code == 0 && out.contains("not written: --dry-run") && out.contains("cmdsite"),
        "{out}"
    );
    assert!(!desktop.exists());
    let (code, out, _) = install(&["mcp-json"]);
    assert_eq!(code, 0);
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        printed["mcpServers"]["cmdsite"]["command"].is_string(),
        "{out}"
    );
    let (code, _, err) = install(&["claude-web"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("claude-desktop") && err.contains("mcp-json"),
        "{err}"
    );
}

#[test]
fn through_cargo_mango_too() {
    let (site, url) = site();
    let out = success(mango_in(&site.dir, &["run", "-q", "hello"]).env("MANGO_DATABASE__URL", url));
    assert_eq!(out, "hello from the other app\n");
    let list = success(&mut mango_in(&site.dir, &["run", "-q"]));
    assert!(
        list.starts_with("Commands (run one with `cargo mango run <command>`"),
        "{list}"
    );
    let (code, _, _) = outcome(&mut mango_in(&site.dir, &["run", "-q", "nope"]));
    assert_eq!(code, 2);
    let report = success(mango_in(&site.dir, &["check", "-q"]).env("MANGO_DATABASE__URL", url));
    assert!(report.contains("no problems found"), "{report}");
}

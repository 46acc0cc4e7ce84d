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
        let url = format!(
            "sqlite://{}",
            scratch("cmd-db").join("db.sqlite3").display()
        );
        let (code, _, err) = run(&site, &url, &["migrate"]);
        assert_eq!(code, 0, "{err}");
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
    let (code, _, err) = run(site, &fresh, &["run", "check"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("migration(s) not applied"), "{err}");
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

/// The example project's `export` and `import` commands, on a database of the test's
/// own, through `cargo mango run` (the example builds in its own target directory: its
/// apps' paths would clash with other test projects' in the shared one).
#[test]
fn the_example_exports_and_imports_notes_through_cargo_mango() {
    let manifest = root().join("example/Cargo.toml");
    let url = format!(
        "sqlite://{}",
        scratch("example-db").join("db.sqlite3").display()
    );
    let mango = |args: &[&str]| {
        let (command, rest) = args.split_first().unwrap();
        let out = Command::new(cargo_mango())
            .args(["mango", command, "-q", "--manifest-path"])
            .arg(&manifest)
            .args(rest)
            .env_remove("CARGO_TARGET_DIR")
            .env("MANGO_DATABASE__URL", &url)
            .env("MANGO_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = mango(&["migrate"]);
    assert_eq!(code, 0, "{err}");
    for text in ["buy mangoes", "call Ada"] {
        let (code, _, err) = mango(&[
            "run",
            "call",
            "notes_add",
            &format!(r#"{{"text": "{text}"}}"#),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, exported, err) = mango(&["run", "export"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        exported,
        "{\"id\":1,\"text\":\"buy mangoes\"}\n{\"id\":2,\"text\":\"call Ada\"}\n"
    );
    let (_, since, _) = mango(&["run", "export", "--since", "1"]);
    assert_eq!(since, "{\"id\":2,\"text\":\"call Ada\"}\n");
    let file = scratch("example-import").join("notes.jsonl");
    std::fs::write(&file, &exported).unwrap();
    let (code, out, err) = mango(&["run", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "imported 2 notes\n");
    // A bad line: nothing of the file is imported.
    std::fs::write(&file, "{\"text\": \"fine\"}\nnot json\n").unwrap();
    let (code, _, err) = mango(&["run", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
    let (_, all, _) = mango(&["run", "export"]);
    assert_eq!(all.lines().count(), 4, "{all}");
}

//! A project exactly as `startproject` and `startapp` write it: it builds, its app's
//! own tests pass, and its example tool and command work.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use mango_tests::*;

#[test]
fn a_fresh_app_builds_tests_serves_and_runs_its_command() {
    let parent = scratch("freshsite");
    mango_ok(&parent, &["startproject", "freshsite"]);
    let dir = parent.join("freshsite");
    // An app name no other test project uses (the target directory is shared).
    mango_ok(&dir, &["startapp", "freshapp"]);

    let out = Command::new(env!("CARGO"))
        .args(["test", "-q", "--workspace"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", e2e_target())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 passed"),
        "the template's two tests: {stdout}"
    );

    let url = format!(
        "sqlite://{}",
        scratch("freshsite-db").join("db.sqlite3").display()
    );
    let run = |args: &[&str]| {
        let out = Command::new(cargo_mango())
            .arg("mango")
            .args(args)
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", e2e_target())
            .env("MANGO_DATABASE__URL", &url)
            .env("MANGO_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&["migrate", "-q"]).contains("Applied freshapp"));
    run(&[
        "run",
        "-q",
        "call",
        "freshapp_add_item",
        r#"{"name": "first"}"#,
    ]);
    let report = run(&["run", "-q", "freshapp_report", "--verbose"]);
    assert_eq!(report, "1 items\n     1  first\n");
    let listed = run(&["run", "-q", "call", "freshapp_list_items"]);
    assert!(listed.contains(r#""name": "first""#), "{listed}");
}

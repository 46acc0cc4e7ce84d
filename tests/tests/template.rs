//! A project exactly as `startproject` and `startapp` write it: it builds, its app's
//! own tests pass, and its example tool and command work.
#![allow(clippy::unwrap_used)]

use mango_tests::*;

#[test]
fn a_fresh_app_builds_tests_serves_and_runs_its_command() {
    let parent = scratch("freshsite");
    mango_ok(&parent, &["startproject", "freshsite"]);
    let dir = parent.join("freshsite");
    // An app name no other test project uses (the target directory is shared).
    mango_ok(&dir, &["startapp", "freshapp"]);

    let stdout = success(&mut cargo_in(&dir, &["test", "-q", "--workspace"]));
    assert!(
        stdout.contains("2 passed"),
        "the template's two tests: {stdout}"
    );

    let url = format!(
        "sqlite://{}",
        scratch("freshsite-db").join("db.sqlite3").display()
    );
    let run = |args: &[&str]| {
        success(
            mango_in(&dir, args)
                .env("MANGO_DATABASE__URL", &url)
                .env("MANGO_LOG", "warn"),
        )
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

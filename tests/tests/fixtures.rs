//! The fixtures (the apps' code that the end-to-end tests copy into real projects) and
//! the template's app are code a user would write: clippy holds them to the
//! repository's bar. They are linted here once, all in one project, rather than again
//! in every project that copies them (`scripts/test.sh` checks their formatting).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use mango_tests::*;

/// The apps of the lint project: (app, fixtures appended in order, migrations folder).
/// Every fixture is here once; those the tests append to the ledger are appended to a
/// copy of it, as the tests do (`faults.rs` apart: it repeats two of the others' names).
const APPS: &[(&str, &[&str], Option<&str>)] = &[
    ("lintcalc", &["calc"], None),
    ("lintnotes", &["notes"], None),
    (
        "lintledger",
        &["ledger", "commands", "middleware"],
        Some("ledger/sqlite"),
    ),
    ("lintfaults", &["ledger", "faults"], Some("ledger/sqlite")),
    ("lintaudit", &["audit"], Some("audit")),
    ("lintother", &["other"], None),
    ("lintorders", &["orders"], Some("orders/postgres")),
    ("lintshop", &["shop"], Some("shop/sqlite")),
    ("lintvault", &["vault"], None),
];

#[test]
fn the_fixtures_and_the_template_pass_clippy() {
    let fixtures = root().join("tests/e2e/fixtures");
    let listed: Vec<&str> = APPS
        .iter()
        .flat_map(|(_, f, _)| f.iter().copied())
        .collect();
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(fixture) = name.strip_suffix(".rs") {
            assert!(
                listed.contains(&fixture),
                "the fixture {name} is not linted: add it to APPS in tests/tests/fixtures.rs"
            );
        }
    }

    let name = "lintsite";
    let parent = scratch(name);
    mango_ok(&parent, &["startproject", name]);
    let dir = parent.join(name);
    // The template's app as `startapp` writes it.
    mango_ok(&dir, &["startapp", "lintfresh"]);
    for (app, sources, migrations) in APPS {
        mango_ok(&dir, &["startapp", app]);
        let app_dir = dir.join("apps").join(app);
        let mut source = String::new();
        for fixture in *sources {
            source.push_str(
                &std::fs::read_to_string(fixtures.join(format!("{fixture}.rs"))).unwrap(),
            );
        }
        std::fs::write(
            app_dir.join("src/lib.rs"),
            source.replace("use ledger as _;", "use lintledger as _;"),
        )
        .unwrap();
        std::fs::remove_file(app_dir.join("src/schema.rs")).unwrap();
        if let Some(from) = migrations {
            std::fs::remove_dir_all(app_dir.join("migrations")).unwrap();
            copy_dir(&fixtures.join(from), &app_dir.join("migrations"));
        }
    }
    // What the tests add to the apps' manifests: the audit app depends on the ledger,
    // the vault app's tests on serde_json.
    edit(&dir.join("apps/lintaudit/Cargo.toml"), |text| {
        text.replacen(
            "mango-rt.workspace = true",
            "mango-rt.workspace = true\nlintledger = { path = \"../lintledger\" }",
            1,
        )
    });
    edit(&dir.join("apps/lintvault/Cargo.toml"), |text| {
        text + "serde_json = \"1\"\n"
    });
    mango_ok(&dir, &["sync"]);
    clippy_clean(&dir, name);
}

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, change(text)).unwrap();
}

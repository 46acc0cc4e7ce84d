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
    // Every Rust snippet of the README and the guide compiles: each is an app of its
    // own, beside the prelude of what it takes as given (its table, model, settings and
    // helpers), with lints off (a snippet shows one thing; its `req` may go unused).
    let prelude = root().join("tests/e2e/guide_prelude.rs");
    for (i, (place, snippet)) in guide_snippets().iter().enumerate() {
        let app = format!("guide{i}");
        mango_ok(&dir, &["startapp", &app]);
        let src = dir.join("apps").join(&app).join("src");
        std::fs::copy(&prelude, src.join("guide_prelude.rs")).unwrap();
        std::fs::remove_file(src.join("schema.rs")).unwrap();
        std::fs::write(
            src.join("lib.rs"),
            format!(
                "//! The snippet at {place}.\n#![allow(warnings, clippy::all, clippy::pedantic)]\n\
                 mod guide_prelude;\n#[allow(unused_imports)]\nuse guide_prelude::*;\n\n{snippet}"
            ),
        )
        .unwrap();
    }
    mango_ok(&dir, &["sync"]);
    clippy_clean(&dir, name);
}

/// The ```rust blocks of README.md and docs/guide/*.md, each with where it is
/// (`docs/guide/tutorial.md:40`), dedented (a block may sit in a list item).
fn guide_snippets() -> Vec<(String, String)> {
    let mut pages = vec![root().join("README.md")];
    let mut guide: Vec<_> = std::fs::read_dir(root().join("docs/guide"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guide.sort();
    pages.extend(guide);
    let mut snippets = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        let mut open: Option<(usize, usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let indent = line.len() - line.trim_start().len();
            match &mut open {
                None if line.trim_start().starts_with("```rust") => {
                    let info = line.trim_start().trim_start_matches("```");
                    assert!(
                        !info.contains("ignore") && !info.contains("no_run"),
                        "{name}:{}: a guide's snippet is compiled (tests/tests/fixtures.rs): no `ignore`",
                        n + 1
                    );
                    open = Some((n + 1, indent, String::new()));
                }
                None => {}
                Some((start, fence, code)) => {
                    if line.trim() == "```" {
                        snippets.push((format!("{name}:{start}"), std::mem::take(code)));
                        open = None;
                    } else {
                        code.push_str(line.get(*fence..).unwrap_or(line.trim_start()));
                        code.push('\n');
                    }
                }
            }
        }
        assert!(open.is_none(), "{name}: a ```rust block is not closed");
    }
    assert!(
        snippets.len() >= 10,
        "only {} snippets found",
        snippets.len()
    );
    snippets
}

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, change(text)).unwrap();
}

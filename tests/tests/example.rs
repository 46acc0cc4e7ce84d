//! The example project (example/) through `cargo mango`: its management commands on a
//! database of the test's own.
//!
//! `scripts/test.sh` runs this binary in its example stage, after the example's own
//! tests have built the example in the shared target directory (`target/e2e`), rather
//! than beside the end-to-end tests (`cargo nextest run -p mango-tests --test example`
//! alone runs it). The end-to-end projects' apps are named or versioned apart from the
//! example's `calc`, `greetings` and `notes`, so the builds do not overwrite each other.
#![allow(clippy::unwrap_used)]

use mango_tests::*;

/// The example's `export` and `import` commands, through `cargo mango run
/// --manifest-path example/Cargo.toml`.
#[test]
fn the_example_exports_and_imports_notes_through_cargo_mango() {
    let manifest = root().join("example/Cargo.toml");
    let url = format!(
        "sqlite://{}",
        scratch("example-db").join("db.sqlite3").display()
    );
    let mango = |args: &[&str]| {
        let (command, rest) = args.split_first().unwrap();
        outcome(
            command_in(cargo_mango(), &root())
                .args(["mango", command, "-q", "--manifest-path"])
                .arg(&manifest)
                .args(rest)
                .env("MANGO_DATABASE__URL", &url)
                .env("MANGO_LOG", "warn"),
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

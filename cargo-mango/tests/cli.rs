//! `cargo mango` from the command line: what it writes, and what it refuses (writing
//! nothing then).

use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

fn mango(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cargo-mango").expect("the cargo-mango binary");
    cmd.arg("mango").current_dir(dir);
    cmd
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

fn project(tmp: &Path) -> std::path::PathBuf {
    mango(tmp)
        .args(["startproject", "mysite"])
        .assert()
        .success();
    tmp.join("mysite")
}

#[test]
fn startproject_writes_a_workspace_with_settings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    mango(tmp.path())
        .args(["startproject", "mysite"])
        .assert()
        .success()
        .stderr(contains("cargo mango startapp"));
    let dir = tmp.path().join("mysite");
    let files = listing(&dir);
    for expected in [
        ".gitignore",
        "Cargo.lock",
        "Cargo.toml",
        "Mango.toml",
        "README.md",
        "apps/README.md",
        "manage/Cargo.toml",
        "manage/main.rs",
    ] {
        assert!(
            files.contains(&expected.to_owned()),
            "{expected} missing from {files:?}"
        );
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("mango-rt = { path = \""), "{manifest}");
    assert!(
        manifest.contains("members = [\"apps/*\", \"manage\"]"),
        "{manifest}"
    );
    // No staging folder is left behind.
    assert_eq!(
        listing(tmp.path())
            .iter()
            .filter(|p| p.contains(".mango-new"))
            .count(),
        0
    );
}

#[test]
fn startproject_refuses_bad_names_and_non_empty_folders() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for bad in ["my site", "1site", "fn", "std", "mango-rt"] {
        mango(tmp.path())
            .args(["startproject", bad])
            .assert()
            .code(2)
            .stderr(contains("is not a valid project name"));
    }
    std::fs::create_dir(tmp.path().join("taken")).expect("mkdir");
    std::fs::write(tmp.path().join("taken/keep.txt"), "mine").expect("write");
    mango(tmp.path())
        .args(["startproject", "mysite", "taken"])
        .assert()
        .code(2)
        .stderr(contains("already exists and is not empty"));
    assert_eq!(listing(tmp.path()), ["taken", "taken/keep.txt"]);
    // An empty folder is fine.
    std::fs::create_dir(tmp.path().join("empty")).expect("mkdir");
    mango(tmp.path())
        .args(["startproject", "mysite", "empty"])
        .assert()
        .success();
    assert!(tmp.path().join("empty/Mango.toml").is_file());
}

#[test]
fn startapp_installs_an_app_with_nothing_else_to_edit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = project(tmp.path());
    mango(&dir.join("apps"))
        .args(["startapp", "notes"])
        .assert()
        .success()
        .stderr(contains("notes_<fn name>"));
    let manifest =
        std::fs::read_to_string(dir.join("apps/notes/Cargo.toml")).expect("app manifest");
    assert!(manifest.contains("[package.metadata.mango]"));
    let main = std::fs::read_to_string(dir.join("manage/main.rs")).expect("main.rs");
    assert!(main.contains("use notes as _;"), "{main}");
    let deps = std::fs::read_to_string(dir.join("manage/Cargo.toml")).expect("manage");
    assert!(
        deps.contains("notes = { path = \"../apps/notes\" }"),
        "{deps}"
    );
}

#[test]
fn startapp_refuses_bad_names_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = project(tmp.path());
    mango(&dir).args(["startapp", "notes"]).assert().success();
    let before = listing(&dir);
    let workspace = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
    let cases = [
        ("Notes", "lower-case"),
        ("my-app", "is not allowed"),
        ("2fast", "lower-case"),
        ("match", "Rust keyword"),
        ("notes", "already exists"),
        ("serde", "a crate in this project's build"),
        ("tokio", "a crate in this project's build"),
        ("mysite", "the project's binary"),
        ("mango_rt", "taken by Rust or by mango"),
    ];
    for (name, why) in cases {
        mango(&dir)
            .args(["startapp", name])
            .assert()
            .code(2)
            .stderr(contains("is not a valid app name"))
            .stderr(contains(why));
    }
    assert_eq!(listing(&dir), before);
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest"),
        workspace
    );
}

#[test]
fn startapp_outside_a_project_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    mango(tmp.path())
        .args(["startapp", "notes"])
        .assert()
        .code(1)
        .stderr(contains("no mango project here"))
        .stderr(contains("cargo mango startproject"));
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn startapp_adds_the_member_keeping_comments_when_no_glob_covers_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = project(tmp.path());
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("manifest");
    let text = text.replace(
        "members = [\"apps/*\", \"manage\"]",
        "members = [\n    # the binary\n    \"manage\",\n]",
    );
    std::fs::write(&path, &text).expect("write");
    mango(&dir).args(["startapp", "notes"]).assert().success();
    let after = std::fs::read_to_string(&path).expect("manifest");
    assert!(after.contains("# the binary"), "{after}");
    assert!(after.contains("\"apps/notes\""), "{after}");
    assert!(
        after.contains("# Debug builds: quick to rebuild"),
        "{after}"
    );
}

#[test]
fn a_bad_app_table_is_reported_with_its_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = project(tmp.path());
    mango(&dir).args(["startapp", "notes"]).assert().success();
    let manifest = dir.join("apps/notes/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace(
            "[package.metadata.mango]\n",
            "[package.metadata.mango]\nprefx = \"n\"\n",
        ),
    )
    .expect("write");
    mango(&dir)
        .arg("sync")
        .assert()
        .code(1)
        .stderr(contains("apps/notes/Cargo.toml"))
        .stderr(contains("unknown key `prefx`"));
}

#[test]
fn removing_an_app_folder_unlinks_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = project(tmp.path());
    mango(&dir).args(["startapp", "notes"]).assert().success();
    mango(&dir).args(["startapp", "tasks"]).assert().success();
    std::fs::remove_dir_all(dir.join("apps/notes")).expect("rm");
    mango(&dir)
        .arg("sync")
        .assert()
        .success()
        .stderr(contains("1 installed app (tasks)"));
    let main = std::fs::read_to_string(dir.join("manage/main.rs")).expect("main.rs");
    assert!(
        !main.contains("notes") && main.contains("use tasks as _;"),
        "{main}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    mango(tmp.path()).arg("nonsense").assert().code(2);
    mango(tmp.path())
        .args(["serve", "--transport", "carrier-pigeon"])
        .assert()
        .code(2);
    mango(tmp.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("startproject"));
}

/// The exit codes, pinned: 0 success, 1 failure, 2 usage (the same as the project
/// binary's, which `cargo mango` hands on; both come from `mango_cli::Exit`).
#[test]
fn exit_codes_are_pinned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    mango(tmp.path()).arg("--version").assert().code(0);
    // Usage: an unknown subcommand, a bad flag of the binary (refused before any build),
    // a refused name.
    mango(tmp.path()).arg("nonsense").assert().code(2);
    mango(tmp.path())
        .args(["migrate", "--list", "notes"])
        .assert()
        .code(2)
        .stderr(contains("--list"));
    mango(tmp.path())
        .args(["startproject", "Bad Name"])
        .assert()
        .code(2);
    // Failure: the command line was right, the place was not.
    mango(tmp.path())
        .args(["serve", "--port", "0"])
        .assert()
        .code(1)
        .stderr(contains("no mango project here"));
    // Build options stand anywhere among the binary's arguments (as the README's first
    // command has them): here the manifest is taken as cargo's, and `--migrate` as the
    // binary's.
    mango(tmp.path())
        .args([
            "serve",
            "--migrate",
            "--manifest-path",
            "nowhere/Cargo.toml",
        ])
        .assert()
        .code(1)
        .stderr(contains("nowhere/Cargo.toml"));
    mango(tmp.path())
        .args(["serve", "--bogus", "--manifest-path", "nowhere/Cargo.toml"])
        .assert()
        .code(2)
        .stderr(contains("--bogus"));
    // The binary's own help, through `--`, without a build.
    mango(tmp.path())
        .args(["serve", "--", "--help"])
        .assert()
        .code(0)
        .stdout(contains("--transport"));
}

#[test]
fn completions_are_printed_for_each_shell() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cargo"),
        ("fish", "complete -c cargo"),
    ] {
        mango(tmp.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains(marker))
            .stdout(contains("startproject"));
    }
    mango(tmp.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(contains("bash"));
}

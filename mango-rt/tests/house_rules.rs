//! House rules the compiler does not check (CONTRIBUTING.md).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The error types of every `Result<…>` in `text` (comments left out), with their line.
fn error_types(text: &str) -> Vec<(usize, String)> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("Result<") {
        let start = from + at + "Result<".len();
        from = start;
        // The generic arguments, to the matching `>`; the last top-level one is the error.
        let (mut depth, mut last_comma, mut end) = (1, None, None);
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            match b {
                b'<' | b'(' | b'[' => depth += 1,
                b'>' | b')' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                b',' if depth == 1 => last_comma = Some(i),
                _ => {}
            }
        }
        if let (Some(comma), Some(end)) = (last_comma, end) {
            let line = code[..start].matches('\n').count() + 1;
            found.push((line, code[comma + 1..end].trim().to_owned()));
        }
    }
    found
}

#[test]
fn the_rules_finder_sees_an_error_type() {
    let found = error_types("fn f() -> Result<Vec<(u8, u8)>, String> {}\n// Result<(), String>");
    assert_eq!(found, vec![(1, "String".to_owned())]);
}

/// Errors are types (an enum per concern, with `thiserror`), never a bare `String`: a
/// caller can tell the cases apart, and a message is written once.
#[test]
fn no_result_has_a_string_for_its_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 20, "mango-rt's sources were not found");
    let mut offending = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a source file");
        for (line, error) in error_types(&text) {
            if error == "String" || error == "std::string::String" {
                offending.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "a Result with a String error; give it an error type (a thiserror enum):\n  {}",
        offending.join("\n  ")
    );
}

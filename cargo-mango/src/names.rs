//! What names `startproject` and `startapp` accept.

use crate::error::{Error, Result};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Crates every Rust program can name, and mango's own.
const RESERVED: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "build",
    "mango",
    "mango_rt",
    "mango_attr",
    "cargo_mango",
    "manage",
];

fn invalid(name: &str, what: &'static str, why: impl Into<String>) -> Error {
    Error::InvalidName {
        name: name.to_owned(),
        what,
        why: why.into(),
    }
}

fn check_common(name: &str, what: &'static str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid(name, what, "it is empty"));
    }
    if KEYWORDS.contains(&name) {
        return Err(invalid(name, what, "it is a Rust keyword"));
    }
    if RESERVED.contains(&name.replace('-', "_").as_str()) {
        return Err(invalid(
            name,
            what,
            "the name is taken by Rust or by mango itself",
        ));
    }
    if name.len() > 64 {
        return Err(invalid(name, what, "it is longer than 64 characters"));
    }
    Ok(())
}

/// A project name: a Cargo package name (`my-site`, `my_site`), since it names the
/// project's binary.
pub fn check_project(name: &str) -> Result<()> {
    const WHAT: &str = "project";
    check_common(name, WHAT)?;
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(invalid(name, WHAT, "it must start with a letter"));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(invalid(
            name,
            WHAT,
            format!("`{c}` is not allowed; use letters, digits, `_` and `-`"),
        ));
    }
    Ok(())
}

/// An app name: a Rust identifier in lower case (it is the crate's name and the default
/// prefix of its tools).
pub fn check_app(name: &str) -> Result<()> {
    const WHAT: &str = "app";
    check_common(name, WHAT)?;
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return Err(invalid(
            name,
            WHAT,
            "it must start with a lower-case letter (a-z)",
        ));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(invalid(
            name,
            WHAT,
            format!(
                "`{c}` is not allowed; an app's name is a Rust identifier in lower case (a-z, 0-9, _)"
            ),
        ));
    }
    Ok(())
}

/// Whether two crate names are the same to Cargo (`-` and `_` are one).
pub fn same_crate(a: &str, b: &str) -> bool {
    a.replace('-', "_") == b.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_lower_case_identifiers() {
        assert!(check_app("notes").is_ok());
        assert!(check_app("notes_2").is_ok());
        for bad in [
            "", "Notes", "2notes", "my-app", "fn", "std", "mango_rt", "a b", "é",
        ] {
            assert!(check_app(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn project_names_are_package_names() {
        assert!(check_project("mysite").is_ok());
        assert!(check_project("my-site").is_ok());
        for bad in ["", "-x", "1x", "my site", "my/site", "self", "test"] {
            assert!(check_project(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn dashes_and_underscores_are_one_to_cargo() {
        assert!(same_crate("my-app", "my_app"));
        assert!(!same_crate("my_app", "myapp"));
    }
}

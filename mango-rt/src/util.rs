//! Small helpers every layer may use: "did you mean", panic messages, plurals.

use std::any::Any;

/// "; did you mean `a` or `b`?" for the candidates close to `name` (empty if none is).
pub(crate) fn did_you_mean(name: &str, candidates: impl Iterator<Item = String>) -> String {
    let mut close: Vec<(f64, String)> = candidates
        .map(|c| (strsim::jaro_winkler(name, &c), c))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    close.dedup_by(|a, b| a.1 == b.1);
    if close.is_empty() {
        return String::new();
    }
    let names: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect();
    format!("; did you mean {}?", names.join(" or "))
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// "1 tool", "2 tools".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let names = ["notes_add", "tasks_list"].map(str::to_owned);
        assert_eq!(
            did_you_mean("notes_ad", names.iter().cloned()),
            "; did you mean `notes_add`?"
        );
        assert_eq!(did_you_mean("zzz", names.into_iter()), "");
        assert_eq!(plural(1, "tool"), "1 tool");
        assert_eq!(plural(0, "app"), "0 apps");
    }
}

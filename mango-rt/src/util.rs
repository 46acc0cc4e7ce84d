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

/// A URL with its password replaced by `***` (in the user info, and a `password=` of the
/// query, as libpq takes it), for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (url, None),
    };
    let mut out = match url.split_once("://") {
        None => url.to_owned(),
        Some((scheme, rest)) => {
            let (authority, tail) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
                    None => format!("{scheme}://{authority}{tail}"),
                },
                None => format!("{scheme}://{authority}{tail}"),
            }
        }
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=app&password=s3cret&sslmode=require"),
            "postgres://db/x?user=app&password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://db.sqlite3"), "sqlite://db.sqlite3");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
    }
}

/// Whether `host` is this machine only.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

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
/// Whether two secrets (tokens, user names, CSRF values) are equal, in time that depends
/// only on their lengths (`subtle`): the one comparison of secrets in mango.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

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
    fn secrets_are_equal_only_when_every_byte_and_the_length_are() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }

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

/// What an argument's name says it holds a secret.
pub(crate) fn secret_like(name: &str) -> bool {
    // Most names are lower case already: no copy for them (this runs for every
    // argument of every call).
    let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    };
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "private_key",
        "authorization",
        "credential",
        "cookie",
        "session",
    ]
    .iter()
    .any(|s| name.contains(s))
        || name == "key"
        || name.ends_with("_key")
}

/// `text`, cut to at most `max` bytes (at a character boundary) with its whole size
/// noted, when it is longer: what logs and audit rows keep of an argument list or an
/// error, so that a client's 4 MiB string does not become 4 MiB of log.
pub(crate) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut: {} bytes in all]", &text[..end], text.len()).into()
}

#[cfg(test)]
mod clip_tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character_and_notes_the_size() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééé", 3), "é… [cut: 6 bytes in all]");
    }

    #[test]
    fn random_hex_is_lowercase_hex_of_its_length_and_differs() {
        let (a, b) = (random_hex(16), random_hex(16));
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(random_hex(0), "");
    }
}

/// `bytes` random bytes, as hex (ids, leases, one-time keys).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness (never seen on Linux): the clock is a poor but unique seed.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        buf = nanos.to_le_bytes().repeat(bytes / 16 + 1);
        buf.truncate(bytes);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes * 2);
    for b in buf {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

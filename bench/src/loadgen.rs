//! A closed-loop load generator for MCP over Streamable HTTP (stateless JSON mode):
//! `concurrency` keep-alive connections, each sending its next request as soon as the
//! last answer is in, for a fixed time after a warm-up.
//!
//! Counting rule: a reply counts only if it is HTTP 200 with a JSON-RPC `result` whose
//! `isError` is not true; anything else is an error.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Latencies of the counted replies, in microseconds, sorted.
    #[serde(skip)]
    pub latencies_us: Vec<u32>,
    /// The server's CPU time over the measured time (every thread's), in ns, when its
    /// process was given and could be read.
    pub server_cpu_ns: Option<u64>,
}

impl Stats {
    pub fn requests_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The server's CPU time per counted reply, in µs, when it was measured.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let ns = self.server_cpu_ns?;
        (self.ok > 0).then(|| ns as f64 / 1000.0 / self.ok as f64)
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Whether a raw HTTP reply counts (see the module's counting rule).
pub fn counts(status: u16, body: &[u8]) -> bool {
    if status != 200 {
        return false;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v
            .get("result")
            .is_some_and(|r| r.get("isError") != Some(&serde_json::Value::Bool(true))),
        Err(_) => false,
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `buf` (filled from
/// `stream` as needed); returns the status and body, and leaves any bytes after it in
/// `buf`.
pub async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    loop {
        if let Some((status, head_len, body_len)) = parse_head(buf)? {
            while buf.len() < head_len + body_len {
                read_more(stream, buf).await?;
            }
            let body = buf[head_len..head_len + body_len].to_vec();
            buf.drain(..head_len + body_len);
            return Ok((status, body));
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// `(status, head length, body length)` once the head is complete.
pub fn parse_head(buf: &[u8]) -> std::io::Result<Option<(u16, usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body_len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| std::io::Error::other("no Content-Length (a streamed reply?)"))?;
    Ok(Some((status, end + 4, body_len)))
}

/// The bytes of one `POST` of `body` to `path`, with `headers` (lines, each ending in
/// `\r\n`) besides the usual.
pub fn request(authority: &str, path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One connection's loop until `until`; latencies count only after `measure_from`.
async fn connection(
    authority: String,
    request: Vec<u8>,
    measure_from: Instant,
    until: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let Ok(mut stream) = TcpStream::connect(&authority).await else {
        stats.errors += 1;
        return stats;
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(32 * 1024);
    while Instant::now() < until {
        let sent = Instant::now();
        if stream.write_all(&request).await.is_err() {
            stats.errors += 1;
            break;
        }
        let result = read_response(&mut stream, &mut buf).await;
        let took = sent.elapsed();
        if sent < measure_from {
            continue;
        }
        match result {
            Ok((status, body)) if counts(status, &body) => {
                stats.ok += 1;
                stats
                    .latencies_us
                    .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
            }
            Ok(_) => stats.errors += 1,
            Err(_) => {
                stats.errors += 1;
                break;
            }
        }
    }
    stats
}

/// Every thread's time on a CPU so far in process `pid`, in ns
/// (`/proc/<pid>/task/*/schedstat`; a thread that ends between the listing and its read
/// is left out).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for thread in threads.flatten() {
        if let Ok(text) = std::fs::read_to_string(thread.path().join("schedstat"))
            && let Some(ns) = text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        {
            total += ns;
        }
    }
    Some(total)
}

/// Drives `authority` with `concurrency` connections posting `body` (with `headers`,
/// see [`request`]): `warmup`, then `duration` measured; with `server` (its process id),
/// the server's CPU time over the measured time too.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    authority: &str,
    path: &str,
    headers: &str,
    body: &str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    server: Option<u32>,
) -> Stats {
    let request = request(authority, path, headers, body);
    let start = Instant::now();
    let measure_from = start + warmup;
    let until = measure_from + duration;
    // The server's CPU time from the measured time's start to its end.
    let sampler = server.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let before = cpu_ns(pid);
            tokio::time::sleep_until(until.into()).await;
            let after = cpu_ns(pid);
            Some(after?.saturating_sub(before?))
        })
    });
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(connection(
                authority.to_owned(),
                request.clone(),
                measure_from,
                until,
            ))
        })
        .collect();
    let mut total = Stats::default();
    for task in tasks {
        if let Ok(stats) = task.await {
            total.merge(stats);
        }
    }
    if let Some(sampler) = sampler {
        total.server_cpu_ns = sampler.await.ok().flatten();
    }
    total.seconds = duration.as_secs_f64();
    total.latencies_us.sort_unstable();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successful_results_count() {
        assert!(counts(
            200,
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#
        ));
        assert!(counts(
            200,
            br#"{"jsonrpc":"2.0","id":1,"result":{"isError":false}}"#
        ));
        assert!(!counts(
            200,
            br#"{"jsonrpc":"2.0","id":1,"result":{"isError":true}}"#
        ));
        assert!(!counts(
            200,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#
        ));
        assert!(!counts(500, br#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(!counts(200, b"not json"));
    }

    #[test]
    fn heads_are_parsed_and_partial_ones_wait() {
        let reply =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            parse_head(reply).ok().flatten(),
            Some((200, reply.len() - 2, 2))
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le").ok().flatten(),
            None
        );
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err(),
            "a reply without a length"
        );
    }

    #[test]
    fn quantiles_and_rates() {
        let stats = Stats {
            ok: 4,
            errors: 1,
            seconds: 2.0,
            latencies_us: vec![1000, 2000, 3000, 4000],
            server_cpu_ns: Some(6_000_000),
        };
        assert_eq!(stats.requests_per_second(), 2.0);
        assert_eq!(
            stats.cpu_us_per_request(),
            Some(1500.0),
            "per counted reply"
        );
        assert_eq!(stats.quantile_ms(0.0), 1.0);
        assert_eq!(stats.quantile_ms(1.0), 4.0);
    }

    /// A real server on loopback: counted replies and errors.
    #[tokio::test]
    async fn drives_a_real_server() {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut n = 0u32;
                    loop {
                        let mut chunk = [0u8; 4096];
                        let Ok(read) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..read]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let Some((_, head_len, body_len)) = parse_head_request(&buf[..end + 4])
                            else {
                                return;
                            };
                            if buf.len() < head_len + body_len {
                                break;
                            }
                            buf.drain(..head_len + body_len);
                            n += 1;
                            let body = if n.is_multiple_of(2) {
                                r#"{"jsonrpc":"2.0","id":1,"result":{"isError":true}}"#
                            } else {
                                r#"{"jsonrpc":"2.0","id":1,"result":{}}"#
                            };
                            let reply = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if socket.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let stats = run(
            &addr,
            "/mcp",
            "",
            "{}",
            2,
            Duration::from_millis(20),
            Duration::from_millis(200),
            Some(std::process::id()),
        )
        .await;
        assert!(stats.ok > 10, "{stats:?}");
        assert!(
            stats.cpu_us_per_request().is_some_and(|us| us > 0.0),
            "the server here is this process, so its CPU is read: {stats:?}"
        );
        let diff = stats.ok.abs_diff(stats.errors);
        assert!(diff <= 4, "every other reply is an error result: {stats:?}");
    }

    fn parse_head_request(head: &[u8]) -> Option<(u16, usize, usize)> {
        let text = std::str::from_utf8(head).ok()?;
        let len = text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })?;
        Some((0, head.len(), len))
    }
}

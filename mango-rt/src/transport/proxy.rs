//! Behind a reverse proxy (`[server] behind_proxy`): what a trusted proxy says about the
//! request as the client sent it, believed; the same headers from anyone else, removed.
//!
//! From a peer in `[server] trusted_proxies`, before anything else reads the request:
//! - the client's address replaces the peer's (the rate limit, the audit log, the
//!   admin's login limit read it): the rightmost address of `X-Forwarded-For` that is
//!   not itself a trusted proxy;
//! - `X-Forwarded-Host` replaces `Host`, so the `allowed_hosts` check (the MCP
//!   endpoint's and the admin's) and the admin's same-origin check see what the client
//!   asked for;
//! - `X-Forwarded-Proto` (`http` or `https`) is kept, alone, for what asks whether the
//!   client is on TLS (the admin's `Secure` cookie);
//! - when the proxy named the host or the scheme, the public origin
//!   (`https://mcp.example.com`) goes into the request's extensions as
//!   [`PublicOrigin`], for the absolute URLs mango builds (OAuth's resource).
//!
//! `X-Forwarded-*` are read when the proxy sent any of them; otherwise RFC 7239's
//! `Forwarded` (its last element, the one the nearest proxy added). A proxy must set the
//! headers it uses (replace, not pass on, what the client sent): `run nginx` does.
//!
//! From any other peer the headers are removed, so nothing downstream can believe them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::settings::IpNet;

/// The scheme and host the client used, as a trusted proxy said: `https://mcp.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicOrigin(pub(crate) String);

/// The proxies whose headers are believed.
#[derive(Debug, Clone)]
pub(crate) struct Proxies(Arc<[IpNet]>);

impl Proxies {
    pub(crate) fn new(nets: Vec<IpNet>) -> Proxies {
        Proxies(nets.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// The layer's function (`axum::middleware::map_request_with_state`).
pub(crate) async fn forwarded(State(proxies): State<Proxies>, mut req: Request) -> Request {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let said = match peer {
        Some(ip) if proxies.trusts(ip) => Some(Said::read(req.headers(), &proxies)),
        _ => None,
    };
    let headers = req.headers_mut();
    for name in [
        X_FORWARDED_FOR,
        X_FORWARDED_HOST,
        X_FORWARDED_PROTO,
        X_FORWARDED_PORT,
        FORWARDED,
    ] {
        headers.remove(name);
    }
    let Some(said) = said else {
        return req;
    };
    let host = said.host.and_then(|h| HeaderValue::from_str(&h).ok());
    // The public origin when the proxy named the host or the scheme (a proxy that says
    // neither leaves the URLs mango builds as they are).
    let public = host.is_some() || said.proto.is_some();
    if let Some(host) = host {
        headers.insert(header::HOST, host);
    }
    if let Some(proto) = said.proto {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if public && let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let origin = PublicOrigin(format!("{}://{host}", said.proto.unwrap_or("http")));
        req.extensions_mut().insert(origin);
    }
    if let Some(ip) = said.client
        && let Some(ConnectInfo(addr)) = req.extensions_mut().get_mut::<ConnectInfo<SocketAddr>>()
    {
        *addr = SocketAddr::new(ip, 0);
    }
    req
}

/// What a trusted proxy said.
#[derive(Debug, Default, PartialEq, Eq)]
struct Said {
    client: Option<IpAddr>,
    host: Option<String>,
    proto: Option<&'static str>,
}

impl Said {
    fn read(headers: &HeaderMap, proxies: &Proxies) -> Said {
        let x_forwarded = [&X_FORWARDED_FOR, &X_FORWARDED_HOST, &X_FORWARDED_PROTO]
            .iter()
            .any(|name| headers.contains_key(*name));
        if x_forwarded {
            return Said {
                client: client(&entries(headers, &X_FORWARDED_FOR), proxies),
                host: entries(headers, &X_FORWARDED_HOST)
                    .last()
                    .and_then(|h| host(h)),
                proto: entries(headers, &X_FORWARDED_PROTO)
                    .last()
                    .and_then(|p| proto(p)),
            };
        }
        rfc7239(&entries(headers, &FORWARDED), proxies)
    }
}

/// The comma-separated entries of every `name` header, in order.
fn entries(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

/// The client among the addresses the proxies added, left to right: the rightmost one
/// that is not a trusted proxy (those left of it are what the client wrote, not
/// believed). Garbage where the client should be: none.
fn client(chain: &[impl AsRef<str>], proxies: &Proxies) -> Option<IpAddr> {
    let mut last = None;
    for entry in chain.iter().rev() {
        let ip = address(entry.as_ref())?;
        if !proxies.trusts(ip) {
            return Some(ip);
        }
        last = Some(ip);
    }
    last
}

/// An address of `X-Forwarded-For` or of `Forwarded: for=`: `203.0.113.7`,
/// `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.rsplit_once(':')?.0.parse().ok()
}

/// A host as a `Host` header may carry it (a name or address, a port): anything else
/// is not believed.
fn host(text: &str) -> Option<String> {
    let text = text.trim().trim_matches('"');
    let fine = !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    fine.then(|| text.to_owned())
}

fn proto(text: &str) -> Option<&'static str> {
    match text.trim().trim_matches('"').to_ascii_lowercase().as_str() {
        "https" => Some("https"),
        "http" => Some("http"),
        _ => None,
    }
}

/// RFC 7239's `Forwarded`: `for` from its elements as `X-Forwarded-For` would list
/// them, `host` and `proto` from the last element (the nearest proxy's).
fn rfc7239(elements: &[String], proxies: &Proxies) -> Said {
    let pairs = |element: &str| -> Vec<(String, String)> {
        element
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect()
    };
    let value = |element: &str, key: &str| {
        pairs(element)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    };
    let fors: Vec<String> = elements.iter().filter_map(|e| value(e, "for")).collect();
    let last = elements.last().map(String::as_str).unwrap_or("");
    Said {
        client: client(&fors, proxies),
        host: value(last, "host").and_then(|h| host(&h)),
        proto: value(last, "proto").and_then(|p| proto(&p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn proxies() -> Proxies {
        Proxies::new(
            ["127.0.0.1", "10.0.0.0/8"]
                .iter()
                .filter_map(|n| IpNet::parse(n))
                .collect(),
        )
    }

    /// The request as the layer leaves it, from `peer`: its peer, `Host`,
    /// `X-Forwarded-Proto` and public origin.
    fn through(
        peer: [u8; 4],
        headers: &[(&str, &str)],
    ) -> (String, Option<String>, Option<String>, Option<String>) {
        let mut builder = Request::builder()
            .uri("/mcp")
            .header("host", "127.0.0.1:8000");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut req = builder.body(Body::empty()).expect("a request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 4000))));
        let req = futures_util::FutureExt::now_or_never(forwarded(State(proxies()), req))
            .expect("the layer does not wait");
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_default(),
            header("host"),
            header("x-forwarded-proto"),
            req.extensions().get::<PublicOrigin>().map(|o| o.0.clone()),
        )
    }

    /// From a trusted proxy: the client's address (the rightmost one not a proxy; what
    /// the client wrote before it is not believed), its Host and its scheme.
    #[test]
    fn a_trusted_proxy_is_believed() {
        let (peer, host, proto, origin) = through(
            [127, 0, 0, 1],
            &[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3"),
                ("x-forwarded-host", "mcp.example.com"),
                ("x-forwarded-proto", "https"),
            ],
        );
        assert_eq!(peer, "203.0.113.7:0");
        assert_eq!(host.as_deref(), Some("mcp.example.com"));
        assert_eq!(proto.as_deref(), Some("https"));
        assert_eq!(origin.as_deref(), Some("https://mcp.example.com"));
        // Only the address: the Host is the one the request has, and no public origin.
        let (peer, host, proto, origin) =
            through([127, 0, 0, 1], &[("x-forwarded-for", "2001:db8::1")]);
        assert_eq!(peer, "[2001:db8::1]:0");
        assert_eq!(host.as_deref(), Some("127.0.0.1:8000"));
        assert_eq!(proto, None);
        assert_eq!(origin, None);
        // Only the scheme: the public origin is the request's Host over it.
        let (_, _, _, origin) = through([127, 0, 0, 1], &[("x-forwarded-proto", "https")]);
        assert_eq!(origin.as_deref(), Some("https://127.0.0.1:8000"));
    }

    #[test]
    fn rfc_7239_is_read_without_x_forwarded() {
        let (peer, host, proto, origin) = through(
            [10, 0, 0, 9],
            &[(
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https;host=mcp.example.com:8443",
            )],
        );
        assert_eq!(peer, "[2001:db8::7]:0");
        assert_eq!(host.as_deref(), Some("mcp.example.com:8443"));
        assert_eq!(proto.as_deref(), Some("https"));
        assert_eq!(origin.as_deref(), Some("https://mcp.example.com:8443"));
    }

    /// From anyone else the headers are removed: nothing downstream can believe them.
    #[test]
    fn anyone_else_is_ignored() {
        let (peer, host, proto, origin) = through(
            [203, 0, 113, 50],
            &[
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "https"),
                ("forwarded", "for=10.0.0.1;host=evil.example;proto=https"),
            ],
        );
        assert_eq!(peer, "203.0.113.50:4000");
        assert_eq!(host.as_deref(), Some("127.0.0.1:8000"));
        assert_eq!(proto, None);
        assert_eq!(origin, None);
    }

    /// Garbage from a trusted proxy is not believed, and does not stop the request.
    #[test]
    fn garbage_is_not_believed() {
        let (peer, host, proto, _) = through(
            [127, 0, 0, 1],
            &[
                ("x-forwarded-for", "not an address"),
                ("x-forwarded-host", "evil.example/path?x"),
                ("x-forwarded-proto", "gopher"),
            ],
        );
        assert_eq!(peer, "127.0.0.1:4000");
        assert_eq!(host.as_deref(), Some("127.0.0.1:8000"));
        assert_eq!(proto, None);
    }
}

//! mango as an OAuth 2.1 resource server, against a real authorization server process
//! (oauth2-mock-server from npm, on loopback: tests/e2e/authorization-server.mjs): the
//! metadata, the 401 and 403 challenges, JWT access tokens (audience, expiry, issuer,
//! unknown and rotated keys, forged algorithms, oversized and malformed headers), an
//! authorization server whose keys are garbage or never come, token introspection,
//! scopes hiding and refusing items, and the official Python SDK's OAuth client finding
//! its way from a 401 to a token.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use mango_tests::{
    AuthorizationServer, INITIALIZE, JSON_HEADERS, Server, Site, http_get, http_get_with,
    http_post, missing, node_tools, python, python_script, scratch, session_id, success,
    wait_for_log,
};
use serde_json::{Value, json};

/// The project of mango-rt's `oauth` and `telemetry` features
/// ([`mango_tests::oauth_site`]).
fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(mango_tests::oauth_site)
}

/// The node that runs the authorization server, or `None` (skipped, or failed in CI).
fn node() -> Option<std::path::PathBuf> {
    let node = node_tools();
    if node.is_none() {
        missing("node and oauth2-mock-server (./scripts/node-tools.sh)");
    }
    node
}

/// The vault's server, protected by `issuer`'s tokens, stateless (each POST stands
/// alone), with `env` on top.
fn serve(issuer: &str, env: &[(&str, &str)]) -> Server {
    serve_with(&["--stateless"], issuer, env)
}

/// The vault's server with `args`, protected by `issuer`'s tokens, with `env` on top.
fn serve_with(args: &[&str], issuer: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
        ("MANGO_AUTH__OAUTH__ISSUER", issuer),
        ("MANGO_AUTH__OAUTH__CLAIMS", r#"["email"]"#),
        ("MANGO_AUTH__OAUTH__TIMEOUT", "1"),
    ];
    all.extend_from_slice(env);
    site().serve_http_with_env(args, &all)
}

/// A POST of `body` with `Authorization: <auth>`: (status, headers, body).
fn post(server: &Server, auth: Option<&str>, body: &Value) -> (u16, String, String) {
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("MCP-Protocol-Version", "2025-11-25"));
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    http_post(&server.authority(), "/mcp", &headers, &body.to_string())
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
}

/// A call of `tool` with the bearer token `token`: (status, headers, body).
fn call_as(server: &Server, token: &str, tool: &str, arguments: Value) -> (u16, String, String) {
    post(server, Some(&bearer(token)), &call(tool, arguments))
}

/// `vault_whoami` as `token`, again every 50 ms until `done` says so of its answer
/// (status, body), or 15 s have passed: the last answer.
fn retry_until(
    server: &Server,
    token: &str,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String, String) {
    let started = Instant::now();
    loop {
        let (status, head, body) = call_as(server, token, "vault_whoami", json!({}));
        if done(status, &body) || started.elapsed() > Duration::from_secs(15) {
            return (status, head, body);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The `WWW-Authenticate` header of a response's head.
fn challenge(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no WWW-Authenticate in {head}"))
}

/// The text of a tool call's answer.
fn text_of(body: &str) -> String {
    let answer: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

#[test]
fn jwt_access_tokens_from_a_real_authorization_server() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    let server = serve(&auth.issuer, &[]);
    let resource = server.url.clone();

    // The metadata, where the spec says, naming the authorization server and the
    // scopes the apps declare.
    let (status, _, body) = http_get(
        &server.authority(),
        "/.well-known/oauth-protected-resource/mcp",
    );
    assert_eq!(status, 200, "{body}");
    let metadata: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metadata["resource"], json!(resource));
    assert_eq!(metadata["authorization_servers"], json!([auth.issuer]));
    assert_eq!(
        metadata["scopes_supported"],
        json!(["vault:admin", "vault:read", "vault:write"])
    );

    // No token: 401, pointing at the metadata, with the scopes to ask for.
    let (status, head, _) = post(&server, None, &call("vault_whoami", json!({})));
    assert_eq!(status, 401);
    let www = challenge(&head);
    assert!(
        www.contains(&format!(
            "resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
            server.authority()
        )) && www.contains("scope=\"vault:admin vault:read vault:write\"")
            && !www.contains("error="),
        "{www}"
    );

    // A valid token: the identity reaches the tool (subject, scopes, a chosen claim).
    let reader = auth.token(json!({"aud": resource, "scope": "vault:read", "sub": "alice", "email": "alice@example.com"}));
    let (status, _, body) = call_as(&server, &reader, "vault_whoami", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(text_of(&body), "alice|vault:read|alice@example.com|oauth");
    let (status, _, body) = call_as(&server, &reader, "vault_peek", json!({}));
    assert_eq!(
        (status, text_of(&body).as_str()),
        (200, "the vault holds 3 coins")
    );

    // What the token may not use is not listed, and a call of it is 403 with the
    // scope that would do.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (_, _, body) = post(&server, Some(&bearer(&reader)), &list);
    let names: Vec<String> = serde_json::from_str::<Value>(&body).unwrap()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "vault_ask",
            "vault_clock",
            "vault_later",
            "vault_peek",
            "vault_slowly",
            "vault_whoami"
        ],
        "{body}"
    );
    let (status, head, body) = call_as(&server, &reader, "vault_deposit", json!({"coins": 1}));
    assert_eq!(status, 403, "{body}");
    let www = challenge(&head);
    assert!(
        www.contains("error=\"insufficient_scope\"") && www.contains("scope=\"vault:write\""),
        "{www}"
    );
    assert!(
        body.contains("\"id\":7") && body.contains("vault:write"),
        "{body}"
    );
    let prompt = json!({"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "vault_audit"}});
    let (status, _, _) = post(&server, Some(&bearer(&reader)), &prompt);
    assert_eq!(status, 403);
    let read = json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "vault://ledger"}});
    let (status, _, body) = post(&server, Some(&bearer(&reader)), &read);
    assert!(
        status == 200 && body.contains("deposited on Monday"),
        "{status} {body}"
    );
    let writer = auth.token(json!({"aud": resource, "scope": "vault:read vault:write"}));
    let (status, _, body) = call_as(&server, &writer, "vault_deposit", json!({"coins": 2}));
    assert_eq!(
        (status, text_of(&body).as_str()),
        (200, "deposited 2 coins")
    );

    // Tokens that must not pass: each a 401 with `invalid_token` and the reason.
    let refused = |auth_header: &str, reason: &str| {
        let (status, head, body) =
            post(&server, Some(auth_header), &call("vault_whoami", json!({})));
        assert_eq!(status, 401, "{reason}: {body}");
        let www = challenge(&head);
        assert!(www.contains("error=\"invalid_token\""), "{www}");
        assert!(body.contains(reason), "expected {reason:?} in {body}");
    };
    let other_audience =
        auth.token(json!({"aud": "http://elsewhere.example/mcp", "scope": "vault:read"}));
    refused(&bearer(&other_audience), "not for this server");
    let expired = auth.token(json!({"aud": resource, "exp_in": -120}));
    refused(&bearer(&expired), "expired");
    let wrong_issuer = auth.token(json!({"aud": resource, "iss": "http://impostor.example"}));
    refused(&bearer(&wrong_issuer), "impostor.example");
    let no_audience = auth.token(json!({"scope": "vault:read"}));
    refused(&bearer(&no_audience), "no `aud` claim");

    // A key the authorization server never published: the keys are fetched again, and
    // the token still refused.
    let before = auth.jwks_fetches();
    let forged = auth.token(json!({"aud": resource, "foreign": true}));
    refused(
        &bearer(&forged),
        "no key of the authorization server has the id",
    );
    assert!(
        auth.jwks_fetches() > before,
        "an unknown kid fetches the keys again"
    );
    // A rotated key: published after the server fetched the keys, accepted at once.
    auth.post("/rotate", json!({}));
    let rotated = auth.token(json!({"aud": resource, "sub": "rotated"}));
    let (status, _, body) = call_as(&server, &rotated, "vault_whoami", json!({}));
    assert_eq!(status, 200, "{body}");
    assert!(text_of(&body).starts_with("rotated|"), "{body}");

    // Forged algorithms: `none`, and HS256 keyed with the RSA key's public modulus.
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(reader.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let claims = json!({"iss": auth.issuer, "aud": resource, "sub": "mallory", "scope": "vault:write", "exp": 4102444800u64});
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": header["kid"]})),
        b64(&claims)
    );
    refused(&bearer(&none), "not a JWT");
    let (_, _, jwks) = http_get(&auth.authority(), "/jwks");
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    let modulus = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
    let signing = format!(
        "{}.{}",
        b64(&json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]})),
        b64(&claims)
    );
    let signature = hmac_sha256(modulus.as_bytes(), signing.as_bytes());
    let hs256 = format!(
        "{signing}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    );
    refused(&bearer(&hs256), "HS256 are not accepted");

    // Bad headers: too long, malformed, another scheme.
    refused(&bearer(&"a".repeat(9000)), "longer than");
    refused("Bearer", "not `Bearer <token>`");
    refused("Basic YWxpY2U6c2VjcmV0", "not `Bearer <token>`");
    refused("Bearer two tokens", "not `Bearer <token>`");
    refused(&bearer("not-a-jwt"), "not a JWT");

    // The server is still serving, and logged no token.
    let (status, _, _) = call_as(&server, &reader, "vault_peek", json!({}));
    assert_eq!(status, 200);
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains(&reader) && !log.contains("panicked"), "{log}");
}

/// HMAC-SHA256 (RFC 2104), to forge the token a confused verifier would accept.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Keys that never come, then garbage: every token is refused, quickly; once the keys
/// are served again, tokens pass with no restart.
/// A session belongs to the OAuth subject that opened it: a request in it with another
/// subject's token is refused (404, as for a session that does not exist) and logged;
/// a new token of the same subject (a refreshed one) goes on in it.
#[test]
fn a_session_belongs_to_the_subject_that_opened_it() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    let server = serve_with(&[], &auth.issuer, &[]);
    let resource = server.url.clone();
    let token = |sub: &str| {
        bearer(&auth.token(json!({"aud": resource, "scope": "vault:read", "sub": sub, "email": format!("{sub}@example.com")})))
    };
    let alice = token("alice");
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Authorization", &alice));
    let (status, head, body) = http_post(&server.authority(), "/mcp", &headers, INITIALIZE);
    assert_eq!(status, 200, "{body}");
    let session = session_id(&head).unwrap();
    let in_session = |authorization: &str| {
        let mut headers = JSON_HEADERS.to_vec();
        headers.push(("Authorization", authorization));
        headers.push(("Mcp-Session-Id", &session));
        headers.push(("MCP-Protocol-Version", "2025-06-18"));
        http_post(
            &server.authority(),
            "/mcp",
            &headers,
            &call("vault_whoami", json!({})).to_string(),
        )
    };
    let (status, _, body) = in_session(&token("mallory"));
    assert_eq!(status, 404, "mallory used alice's session: {body}");
    assert!(body.contains("no session has the id"), "{body}");
    wait_for_log(
        &server.log,
        "refused a request in a session another caller opened",
        1,
        Duration::from_secs(10),
    );
    let (status, _, body) = in_session(&token("alice"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alice|vault:read"), "{body}");
}

#[test]
fn an_authorization_server_that_fails_refuses_tokens_and_nothing_hangs() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    auth.post("/jwks-mode", json!({"mode": "hang"}));
    let server = serve(&auth.issuer, &[("MANGO_AUTH__OAUTH__JWKS_RETRY", "1")]);
    let token = auth.token(json!({"aud": server.url, "scope": "vault:read"}));
    let started = Instant::now();
    let (status, _, body) = call_as(&server, &token, "vault_whoami", json!({}));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("could not be fetched"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a hanging JWKS is bounded by [auth.oauth] timeout (1 s here): {:?}",
        started.elapsed()
    );

    // Within the back-off after a failure ([auth.oauth] jwks_retry, 1 s here) tokens
    // are refused at once, the earlier failure given, and the keys are not asked for.
    let failed = Instant::now();
    let fetches = auth.jwks_fetches();
    auth.post("/jwks-mode", json!({"mode": "garbage"}));
    let (status, _, body) = call_as(&server, &token, "vault_whoami", json!({}));
    // (Unless this machine was too slow for the back-off to still hold.)
    if failed.elapsed() < Duration::from_millis(900) {
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("could not be fetched"), "{body}");
        assert_eq!(auth.jwks_fetches(), fetches, "fetched within the back-off");
    }
    // Past it, the keys are fetched again: garbage, then (served again) the keys.
    let (status, _, body) = retry_until(&server, &token, |_, body| {
        body.contains("did not answer JSON")
    });
    assert_eq!(status, 401, "{body}");
    auth.post("/jwks-mode", json!({"mode": "normal"}));
    let (status, _, body) = retry_until(&server, &token, |status, _| status == 200);
    assert_eq!(status, 200, "{body}");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}

/// Opaque tokens, checked by token introspection (RFC 7662) with this server's client
/// credentials (the secret from the environment, never in the log).
#[test]
fn opaque_tokens_through_introspection() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    let introspection = format!("{}/introspect", auth.issuer);
    let server = serve(
        &auth.issuer,
        &[
            (
                "MANGO_AUTH__OAUTH__INTROSPECTION_URL",
                introspection.as_str(),
            ),
            ("MANGO_AUTH__OAUTH__CLIENT_ID", "mango-rs"),
            ("MANGO_AUTH__OAUTH__CLIENT_SECRET", "introspection-secret"),
            ("MANGO_LOG", "debug"),
        ],
    );
    let opaque = |claims: Value| {
        auth.post("/opaque", claims)["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let token = opaque(json!({"aud": server.url, "scope": "vault:read", "sub": "bob"}));
    let (status, _, body) = call_as(&server, &token, "vault_whoami", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(text_of(&body), "bob|vault:read|-|oauth");
    let (status, _, _) = call_as(&server, &token, "vault_deposit", json!({"coins": 1}));
    assert_eq!(status, 403);

    let (status, _, body) = post(
        &server,
        Some(&bearer("0123456789abcdef0123456789abcdef")),
        &call("vault_whoami", json!({})),
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not active"), "{body}");
    let elsewhere = opaque(json!({"aud": "http://elsewhere.example/mcp"}));
    let (status, _, body) = call_as(&server, &elsewhere, "vault_whoami", json!({}));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not for this server"), "{body}");
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.contains("introspection-secret") && !log.contains(&token),
        "{log}"
    );
}

/// Behind a reverse proxy (`[server] behind_proxy`) without `[auth.oauth] resource`:
/// the resource is the public URL a trusted proxy names (`X-Forwarded-Host`/`-Proto`),
/// in the metadata, in the 401's `resource_metadata` and as the tokens' audience; the
/// same headers from a peer that is not a trusted proxy change nothing.
#[test]
fn behind_a_proxy_the_public_url_is_the_resource() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    let proxy_env = [
        ("MANGO_SERVER__BEHIND_PROXY", "true"),
        ("MANGO_SERVER__ALLOWED_HOSTS", r#"["mcp.example.test"]"#),
    ];
    let forwarded = [
        ("Host", "10.1.2.3:8000"),
        ("X-Forwarded-Host", "mcp.example.test"),
        ("X-Forwarded-Proto", "https"),
    ];
    let post_via = |server: &Server, token: Option<&str>| {
        let mut headers = JSON_HEADERS.to_vec();
        headers.push(("MCP-Protocol-Version", "2025-11-25"));
        headers.extend_from_slice(&forwarded);
        let auth = token.map(bearer);
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let body = call("vault_whoami", json!({})).to_string();
        http_post(&server.authority(), "/mcp", &headers, &body)
    };
    let metadata_via = |server: &Server| {
        let (status, _, body) = http_get_with(
            &server.authority(),
            "/.well-known/oauth-protected-resource/mcp",
            &forwarded[1..],
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["resource"].clone()
    };
    let public = "https://mcp.example.test/mcp";

    // This machine is a trusted proxy by default (the tests' requests come from it).
    let server = serve(&auth.issuer, &proxy_env);
    assert_eq!(metadata_via(&server), json!(public));
    let (status, head, _) = post_via(&server, None);
    assert_eq!(status, 401);
    let www = challenge(&head);
    assert!(
        www.contains(
            "resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\""
        ),
        "{www}"
    );
    let for_public = auth.token(json!({"aud": public, "scope": "vault:read", "sub": "alice"}));
    let (status, _, body) = post_via(&server, Some(&for_public));
    assert_eq!(status, 200, "{body}");
    assert_eq!(text_of(&body), "alice|vault:read|-|oauth");
    // A token for the address the server listens on is not for the public URL.
    let for_listener =
        auth.token(json!({"aud": server.url, "scope": "vault:read", "sub": "alice"}));
    let (status, _, body) = post_via(&server, Some(&for_listener));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not for this server"), "{body}");
    drop(server);

    // Another peer's forwarded headers are removed: the listener's URL stays the
    // resource, and the Host it sent is the one checked.
    let mut untrusted = proxy_env.to_vec();
    untrusted.push(("MANGO_SERVER__TRUSTED_PROXIES", r#"["192.0.2.0/24"]"#));
    let server = serve(&auth.issuer, &untrusted);
    assert_eq!(metadata_via(&server), json!(server.url));
    let (status, head, _) = post_via(&server, None);
    assert_eq!(status, 401);
    let www = challenge(&head);
    assert!(
        www.contains(&format!(
            "resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
            server.authority()
        )),
        "{www}"
    );
    let (status, _, body) = post_via(&server, Some(&for_public));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not for this server"), "{body}");
    // With a token for it, the Host it sent (not mcp.example.test) is refused.
    let for_listener =
        auth.token(json!({"aud": server.url, "scope": "vault:read", "sub": "alice"}));
    let (status, _, body) = post_via(&server, Some(&for_listener));
    assert_eq!(status, 403, "{body}");
}

/// The official MCP Python SDK's OAuth client (client credentials): from the 401 to the
/// metadata, to the authorization server's metadata, to a token for this server's URL,
/// to the tools.
#[test]
fn the_python_sdk_discovers_the_authorization_server_and_gets_in() {
    let Some(node) = node() else { return };
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    let auth = AuthorizationServer::start(&node);
    // Both eras: 2026-07-28 on a stateless server, a 2025-11-25 session on the other.
    let stateless = serve(&auth.issuer, &[]);
    let sessions = site().serve_http_with_env(
        &[],
        &[
            ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
            ("MANGO_AUTH__OAUTH__ISSUER", auth.issuer.as_str()),
        ],
    );
    for (server, args) in [(&stateless, vec![]), (&sessions, vec!["--legacy"])] {
        let mut args = args;
        args.extend([server.url.as_str(), auth.issuer.as_str()]);
        let out = python_script(&python, "oauth_client.py", &args);
        let report: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| panic!("{out}"));
        assert_eq!(
            report["whoami"],
            json!("vault-client|vault:admin vault:read vault:write|-|oauth"),
            "{out}"
        );
        assert_eq!(report["deposit"], json!("deposited 5 coins"), "{out}");
        assert!(report["tools"].as_array().unwrap().len() == 7, "{out}");
    }
}

/// The app's own test on `mango_rt::testing::TestServer`: scopes hide and refuse.
#[test]
fn the_apps_own_test_of_its_scopes_passes() {
    let stdout = success(
        mango_tests::cargo_in(&site().dir, &["test", "-q", "-p", "vault"])
            .env("CARGO_TARGET_DIR", mango_tests::oauth_target())
            .env_remove("MANGO_MIDDLEWARE"),
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// `cargo mango check` explains the OAuth settings and what is likely missing; wrong
/// ones stop start-up with what to write.
#[test]
fn check_explains_the_oauth_settings_and_start_up_refuses_wrong_ones() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let out = site()
            .command(args)
            .env_remove("MANGO_MIDDLEWARE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = run(&[], &["run", "check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("auth: none")
            && text.contains("items declare the scopes vault:admin, vault:read, vault:write"),
        "{text}"
    );
    let (code, text) = run(
        &[
            ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
            ("MANGO_AUTH__OAUTH__ISSUER", "https://auth.example.com"),
            (
                "MANGO_AUTH__OAUTH__INTROSPECTION_URL",
                "https://auth.example.com/introspect",
            ),
        ],
        &["run", "check"],
    );
    assert_eq!(code, Some(0), "{text}");
    for expected in [
        "auth: OAuth resource server for tokens of `https://auth.example.com`",
        "introspection (RFC 7662) at https://auth.example.com/introspect",
        "note: [auth.oauth] client_id is not set",
        "note: [auth.oauth] resource is not set",
        "scopes_supported: vault:admin vault:read vault:write",
    ] {
        assert!(text.contains(expected), "expected {expected:?} in {text}");
    }
    for (env, expected) in [
        (
            vec![("MANGO_AUTH__OAUTH__ISSUER", "https://auth.example.com")],
            "`mango.auth` is not listed",
        ),
        (
            vec![
                ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
                ("MANGO_AUTH__OAUTH__ISSUER", "auth.example.com"),
            ],
            "issuer: `auth.example.com` is not a URL",
        ),
        (
            vec![
                ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
                ("MANGO_AUTH__OAUTH__ISSUER", "https://auth.example.com"),
                ("MANGO_AUTH__OAUTH__ALGORITHMS", r#"["HS256"]"#),
            ],
            "shared-secret algorithm",
        ),
        (
            vec![("MANGO_MIDDLEWARE", r#"["mango.auth"]"#)],
            "[auth] accepts nothing: set `users = true`",
        ),
    ] {
        let (code, text) = run(&env, &["serve", "--transport", "stdio"]);
        assert_eq!(code, Some(1), "{env:?}: {text}");
        assert!(
            text.contains(expected),
            "{env:?}: expected {expected:?} in {text}"
        );
    }
}

/// `[auth] link_oauth`: an OAuth token's `email` names a user of the database
/// (`[auth] users`), whose groups add scopes; a token of nobody known keeps its own; a
/// user deactivated adds nothing more; the link without users is refused at start-up.
#[test]
fn oauth_callers_linked_to_users_get_their_groups_scopes() {
    let Some(node) = node() else { return };
    let auth = AuthorizationServer::start(&node);
    let dir = scratch("oauth-users");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
    let env = [
        ("MANGO_DATABASE__URL", url.as_str()),
        ("MANGO_AUTH__USERS", "true"),
        ("MANGO_AUTH__TOKEN_CACHE", "0"),
        ("MANGO_AUTH__LINK_OAUTH", "email"),
    ];
    let run = |args: &[&str]| {
        let mut cmd = site().command(args);
        cmd.envs(env.iter().copied())
            .env("MANGO_MIDDLEWARE", r#"["mango.auth"]"#)
            .env("MANGO_AUTH__OAUTH__ISSUER", &auth.issuer)
            .env("MANGO_AUTH__OAUTH__CLAIMS", r#"["email"]"#);
        success(&mut cmd)
    };
    run(&["migrate"]);
    run(&["run", "createuser", "carol", "--email", "carol@example.com"]);
    run(&[
        "run",
        "group",
        "tellers",
        "--scope",
        "vault:write",
        "--member",
        "carol",
    ]);
    let server = serve(&auth.issuer, &env);
    let resource = server.url.clone();
    let carol = auth.token(json!({"aud": resource, "scope": "vault:read", "sub": "c-123", "email": "carol@example.com"}));
    let (status, _, body) = call_as(&server, &carol, "vault_whoami", json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text_of(&body),
        "c-123|vault:read vault:write|carol@example.com|oauth"
    );
    let (status, _, body) = call_as(&server, &carol, "vault_deposit", json!({"coins": 1}));
    assert_eq!(status, 200, "the group's scope lets carol deposit: {body}");
    let dave = auth.token(
        json!({"aud": resource, "scope": "vault:read", "sub": "d-9", "email": "dave@example.com"}),
    );
    let (_, _, body) = call_as(&server, &dave, "vault_whoami", json!({}));
    assert_eq!(text_of(&body), "d-9|vault:read|dave@example.com|oauth");
    run(&["run", "changeuser", "carol", "--active", "false"]);
    let (_, _, body) = call_as(&server, &carol, "vault_whoami", json!({}));
    assert_eq!(text_of(&body), "c-123|vault:read|carol@example.com|oauth");
    drop(server);
    // The link needs users and the claim kept.
    let mut cmd = site().command(&["run", "check"]);
    cmd.env("MANGO_MIDDLEWARE", r#"["mango.auth"]"#)
        .env("MANGO_AUTH__OAUTH__ISSUER", &auth.issuer)
        .env("MANGO_AUTH__LINK_OAUTH", "email");
    let (code, out, err) = mango_tests::outcome(&mut cmd);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("link_oauth = \"email\"")
            && err.contains("add \"email\" to [auth.oauth] claims"),
        "{err}"
    );
}

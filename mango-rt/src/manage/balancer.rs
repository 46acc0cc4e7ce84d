//! `nginx`: the configuration of an nginx in front of several replicas of the project,
//! made from what the binary knows (its tools' annotations, its settings).

use std::sync::Arc;

use clap::Args;

use crate::call::{BoxFuture, Output};
use crate::runtime::Runtime;

/// `nginx --replica [NAME=]HOST:PORT … [--listen ADDR]`.
#[derive(Args)]
pub(super) struct NginxArgs {
    /// A replica's address, as nginx reaches it (repeat for each); `NAME=HOST:PORT` names
    /// it (default r1, r2 …): start that replica with MANGO_SERVER__REPLICA=NAME.
    #[arg(long = "replica", required = true, value_name = "[NAME=]HOST:PORT")]
    replicas: Vec<String>,
    /// Where nginx listens (`listen` directive).
    #[arg(long, default_value = "80")]
    listen: String,
}

struct Replica {
    name: String,
    address: String,
}

/// A replica's name: what session ids start with, and nginx matches on.
pub(crate) fn replica_name_problem(name: &str) -> Option<String> {
    (name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then(|| {
        format!(
            "`{name}` is not a replica name: use 1 to 32 characters of A-Z a-z 0-9 _ - (session ids start with it)"
        )
    })
}

/// Why a `--replica` cannot be one.
#[derive(Debug, thiserror::Error)]
enum BadReplica {
    #[error("--replica {arg}: {problem}")]
    Name { arg: String, problem: String },

    #[error(
        "--replica {0}: give the replica's address as HOST:PORT (127.0.0.1:8001, app-2.internal:8000)"
    )]
    Address(String),

    #[error("--replica {arg}: two replicas are named `{name}`")]
    Twice { arg: String, name: String },
}

fn replicas(args: &[String]) -> Result<Vec<Replica>, BadReplica> {
    let mut out: Vec<Replica> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let (name, address) = match arg.split_once('=') {
            Some((name, address)) => (name.to_owned(), address.to_owned()),
            None => (format!("r{}", i + 1), arg.clone()),
        };
        if let Some(problem) = replica_name_problem(&name) {
            return Err(BadReplica::Name {
                arg: arg.clone(),
                problem,
            });
        }
        let port_ok = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok || address.contains(char::is_whitespace) || address.contains(';') {
            return Err(BadReplica::Address(arg.clone()));
        }
        if out.iter().any(|r| r.name == name) {
            return Err(BadReplica::Twice {
                arg: arg.clone(),
                name,
            });
        }
        out.push(Replica { name, address });
    }
    Ok(out)
}

/// What may be sent again to another replica, when the one that had it failed before
/// answering: the methods that change nothing.
const SAFE_METHODS: &str = "server/discover|ping|tools/list|resources/list|resources/templates/list|resources/read|prompts/list|prompts/get|completion/complete";

pub(super) fn nginx(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: NginxArgs = match super::commands::parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let replicas = match replicas(&args.replicas) {
            Ok(r) => r,
            Err(e) => return Output::Error(e.to_string()),
        };
        Output::Text(config(&rt, &replicas, &args.listen))
    })
}

fn config(rt: &Runtime, replicas: &[Replica], listen: &str) -> String {
    let (project, _) = rt.server_info();
    let id: String = project
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = &rt.settings().server;
    let retried: Vec<&str> =
        rt.tools
            .list
            .iter()
            .filter(|t| {
                t.tool.annotations.as_ref().is_some_and(|a| {
                    a.idempotent_hint == Some(true) || a.read_only_hint == Some(true)
                })
            })
            .map(|t| t.name())
            .collect();
    let mut c = String::new();
    c.push_str(&format!(
        "# nginx in front of {n} replicas of `{project}` (made by `run nginx`; nginx 1.18 or later).
# Include it in nginx's `http` block (on Debian: /etc/nginx/conf.d/{id}.conf).
#
# Every replica runs the same release binary, with the same settings from the environment:
#   MANGO_PROFILE=prod MANGO_DATABASE__URL=postgres://… MANGO_INPUT__KEY=… (the same on all)
#   MANGO_SERVER__BEHIND_PROXY=true MANGO_SERVER__REPLICA=<its name below>
#   ./{project} serve --transport http --stateless --host … --port …
# Stateless: any request can go to any replica (protocol 2026-07-28, and 2025-11-25
# clients without sessions). Without --stateless, a 2025-11-25 session lives on the
# replica that made it: its id starts with that replica's name, and the map below sends
# the session's requests there.
",
        n = replicas.len()
    ));
    c.push_str(&format!("\nupstream {id}_replicas {{\n"));
    for r in replicas {
        c.push_str(&format!(
            "    server {} max_fails=1 fail_timeout=5s;  # {}\n",
            r.address, r.name
        ));
    }
    c.push_str("    keepalive 64;\n}\n");
    let admin = rt
        .settings()
        .admin
        .enabled
        .then(|| rt.settings().admin.path.trim_end_matches('/').to_owned());
    if admin.is_some() {
        c.push_str(&format!(
            "\n# The admin's login sessions live in the replica that made them: one browser, one\n# replica (by its address).\nupstream {id}_admin {{\n    ip_hash;\n"
        ));
        for r in replicas {
            c.push_str(&format!("    server {};  # {}\n", r.address, r.name));
        }
        c.push_str("}\n");
    }
    c.push_str(&format!(
        "\n# A session's requests go to the replica that made it.\nmap $http_mcp_session_id ${id}_upstream {{\n    default {id}_replicas;\n"
    ));
    for r in replicas {
        c.push_str(&format!("    \"~^{}\\.\" {};\n", r.name, r.address));
    }
    c.push_str("}\n");
    c.push_str(&format!(
        "
# What nginx may send again to another replica when the one it chose fails before it
# answers: requests that change nothing, and calls of the tools marked idempotent or
# read_only (the Mcp-Method and Mcp-Name headers of protocol 2026-07-28 say which).
# Any other call is sent once: nginx retries it only when it never reached a replica.
map \"$http_mcp_method:$http_mcp_name\" ${id}_retry {{
    default 0;
    \"~^({SAFE_METHODS}):\" 1;
"
    ));
    for name in &retried {
        c.push_str(&format!("    \"tools/call:{name}\" 1;\n"));
    }
    c.push_str("}\n");
    let body_mb = s.max_request_bytes.div_ceil(1024 * 1024).max(1);
    c.push_str(&format!(
        "
server {{
    listen {listen};
    client_max_body_size {body_mb}m;  # [server] max_request_bytes
    proxy_http_version 1.1;
    proxy_set_header Connection \"\";
    proxy_set_header Host $host;
    # What the client sent, for mango ([server] behind_proxy, trusted_proxies): set here,
    # never passed on from the client.
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Forwarded \"\";
    # Streams (subscriptions/listen, a session's SSE) pass through as they come.
    proxy_buffering off;
    proxy_read_timeout 1h;
    proxy_connect_timeout 2s;
    proxy_next_upstream_tries 3;

    location / {{
        error_page 418 = @{id}_retry;
        if (${id}_retry) {{
            return 418;
        }}
        proxy_pass http://${id}_upstream;
        proxy_next_upstream error timeout;
    }}

    location @{id}_retry {{
        proxy_pass http://${id}_upstream;
        proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;
    }}
"
    ));
    if let Some(path) = admin {
        c.push_str(&format!(
            "
    location ^~ {path}/ {{
        proxy_pass http://{id}_admin;
    }}
"
        ));
    }
    c.push_str("}\n");
    c
}

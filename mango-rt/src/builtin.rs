//! The commands every project has, listed with the apps' own under `[mango]`:
//! `check`, `tools` and `call`.

use crate::command::CommandEntry;
use crate::inject::Call;
use crate::output::{BoxFuture, ToolOutput};
use crate::server::RequestParts;
use clap::{Args, FromArgMatches};

/// The app name the built-in commands are listed under.
pub const BUILTIN_APP: &str = "mango";

/// The built-in commands (in mango-rt itself: a plain array, not the link-time list).
pub static BUILTINS: [CommandEntry; 3] = [
    CommandEntry {
        app: BUILTIN_APP,
        name: "check",
        about: "Check the project: settings, apps, tool names (for MCP and for common clients), pending migrations.\n\nExits 1 when something needs fixing.",
        args: |cmd| cmd,
        run: check,
        atomic: None,
        file: file!(),
        line: line!(),
    },
    CommandEntry {
        app: BUILTIN_APP,
        name: "tools",
        about: "List every tool, as clients see it (`--json`: with its input and output schema).",
        args: ToolsArgs::augment_args,
        run: tools,
        atomic: None,
        file: file!(),
        line: line!(),
    },
    CommandEntry {
        app: BUILTIN_APP,
        name: "call",
        about: "Call one tool in-process and print its result, like `fastmcp call`: call <tool> '{\"arg\": 1}'.",
        args: CallArgs::augment_args,
        run: call_tool,
        atomic: None,
        file: file!(),
        line: line!(),
    },
];

fn parse<T: FromArgMatches>(matches: &clap::ArgMatches) -> Result<T, ToolOutput> {
    T::from_arg_matches(matches).map_err(|e| ToolOutput::Error(e.to_string()))
}

/// Characters that MCP allows in a tool name but the function-calling APIs of common
/// model providers do not (their names are `^[a-zA-Z0-9_-]{1,64}$`).
fn client_problem(name: &str) -> Option<&'static str> {
    name.contains('.')
        .then_some("has `.`, which some clients' model APIs refuse in tool names")
}

fn check(_: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let rt = call.context().runtime().clone();
        let mut report = String::new();
        let mut problems = Vec::new();
        let s = &rt.settings;
        report.push_str(&format!(
            "settings: {} (profile `{}`) read and checked\n",
            s.display_path().display(),
            s.profile
        ));
        report.push_str(&format!(
            "apps: {}\n",
            rt.apps
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        report.push_str(&format!(
            "tools: {}, every name unique, 1 to 64 characters of A-Z a-z 0-9 _ - .\n",
            rt.tools.len()
        ));
        for t in &rt.tools {
            if let Some(problem) = client_problem(t.name) {
                problems.push(format!(
                    "the tool `{}` ({}) {problem}; rename it with #[tool(name = \"…\")]",
                    t.name,
                    t.entry.location()
                ));
            }
        }
        let listed: Vec<String> = rt.middleware.iter().map(|m| m.qualified()).collect();
        report.push_str(&format!(
            "middleware: {}\n",
            if listed.is_empty() {
                "none listed".to_owned()
            } else {
                listed.join(" → ")
            }
        ));
        for m in crate::middleware::MIDDLEWARE.iter() {
            if !listed.contains(&m.qualified()) {
                report.push_str(&format!(
                    "note: the middleware `{}` ({}:{}) is registered but not listed in `middleware`, so it does not run\n",
                    m.qualified(),
                    m.file,
                    m.line
                ));
            }
        }
        if !crate::migrate::MIGRATIONS.is_empty() {
            match crate::migrate::pending_names(&rt).await {
                Ok(pending) if pending.is_empty() => {
                    report.push_str("migrations: all applied\n");
                }
                Ok(pending) => problems.push(format!(
                    "{} migration(s) not applied: {}; run `cargo mango migrate`",
                    pending.len(),
                    pending.join(", ")
                )),
                Err(e) => problems.push(format!("the database could not be checked: {e}")),
            }
        }
        if problems.is_empty() {
            report.push_str("no problems found\n");
            ToolOutput::Text(report)
        } else {
            for p in &problems {
                report.push_str(&format!("problem: {p}\n"));
            }
            report.push_str(&format!("{} problem(s) found", problems.len()));
            ToolOutput::Error(report)
        }
    })
}

/// `tools [--json]`.
#[derive(Args)]
struct ToolsArgs {
    /// Every tool with its input and output schema, as JSON.
    #[arg(long)]
    json: bool,
}

fn tools(matches: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let args: ToolsArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let rt = call.context().runtime().clone();
        if args.json {
            let tools: Vec<&rmcp::model::Tool> = rt.tools.iter().map(|t| &t.tool).collect();
            return ToolOutput::json(&tools);
        }
        let width = rt.tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for t in &rt.tools {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("{:<width$}  {summary}\n", t.name));
        }
        ToolOutput::Text(text)
    })
}

/// `call <tool> [<json>]`.
#[derive(Args)]
struct CallArgs {
    /// The tool's exposed name.
    tool: String,
    /// Its arguments, as a JSON object.
    #[arg(default_value = "{}")]
    arguments: String,
}

fn call_tool(matches: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let args: CallArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let arguments = match serde_json::from_str::<serde_json::Value>(&args.arguments) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => {
                return ToolOutput::Error(format!(
                    "the arguments must be a JSON object, like '{{\"a\": 1}}', not {other}"
                ));
            }
            Err(e) => {
                return ToolOutput::Error(format!("the arguments are not valid JSON: {e}"));
            }
        };
        let rt = call.context().runtime().clone();
        match rt
            .call(&args.tool, arguments, RequestParts::in_process())
            .await
        {
            Some(result) => {
                let failed = result.is_error == Some(true);
                let json = serde_json::to_string_pretty(&result).unwrap_or_default();
                if failed {
                    ToolOutput::Error(json)
                } else {
                    ToolOutput::Text(json)
                }
            }
            None => ToolOutput::Error(rt.unknown_tool(&args.tool)),
        }
    })
}

// ---- built-in middleware: off until `Mango.toml` lists them ----

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use crate::middleware::{MiddlewareEntry, Next, Request, Response, StepFuture};

/// The built-in middleware (a plain array, like the built-in commands).
pub static MIDDLEWARE_BUILTINS: [MiddlewareEntry; 4] = [
    MiddlewareEntry {
        app: BUILTIN_APP,
        name: "timing",
        around: timing,
        list: None,
        file: file!(),
        line: line!(),
    },
    MiddlewareEntry {
        app: BUILTIN_APP,
        name: "auth",
        around: auth,
        list: None,
        file: file!(),
        line: line!(),
    },
    MiddlewareEntry {
        app: BUILTIN_APP,
        name: "rate_limit",
        around: rate_limit,
        list: None,
        file: file!(),
        line: line!(),
    },
    MiddlewareEntry {
        app: BUILTIN_APP,
        name: "timeout",
        around: timeout,
        list: None,
        file: file!(),
        line: line!(),
    },
];

/// `mango.timing`: one `tracing` event per call, with the tool, app, transport, time
/// and outcome.
fn timing(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let started = Instant::now();
        let response = next.run(req).await;
        tracing::info!(
            tool = req.tool,
            app = req.app,
            transport = %req.transport,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            outcome = if response.is_error() { "error" } else { "ok" },
            "tool call"
        );
        response
    })
}

/// `mango.auth`: over HTTP the transport's layer has already refused requests without a
/// valid bearer token (401) and named the caller; over stdio the local user is trusted
/// as `local` unless `[auth] stdio = "deny"`.
fn auth(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        use crate::context::TransportKind;
        match req.transport {
            TransportKind::Http if req.identity.is_none() => {
                return Response::error("not authenticated: send `Authorization: Bearer <token>`");
            }
            TransportKind::Stdio
                if req.settings().auth.stdio == crate::settings::StdioAuth::Deny =>
            {
                return Response::error(
                    "calls over stdio are refused here ([auth] stdio = \"deny\")",
                );
            }
            TransportKind::Http => {}
            _ => {
                req.identity.get_or_insert_with(|| "local".to_owned());
            }
        }
        next.run(req).await
    })
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

static BUCKETS: LazyLock<Mutex<HashMap<String, Bucket>>> = LazyLock::new(Default::default);

/// `mango.rate_limit`: a token bucket per caller (`[rate_limit] per_minute`, `burst`).
fn rate_limit(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let limits = &req.settings().rate_limit;
        let per_second = f64::from(limits.per_minute.max(1)) / 60.0;
        let capacity = f64::from(limits.burst.max(1));
        let key = req
            .identity
            .clone()
            .unwrap_or_else(|| format!("anonymous ({})", req.transport));
        let wait = {
            let mut buckets = BUCKETS.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
            bucket.tokens = (bucket.tokens
                + now.duration_since(bucket.at).as_secs_f64() * per_second)
                .min(capacity);
            bucket.at = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                None
            } else {
                Some((1.0 - bucket.tokens) / per_second)
            }
        };
        match wait {
            None => next.run(req).await,
            Some(seconds) => Response::error(format!(
                "rate limit: {key} may make {} calls a minute (bursts of {}); try again in {seconds:.1} s",
                limits.per_minute, limits.burst
            )),
        }
    })
}

/// `mango.timeout`: a call that runs past `[timeout] seconds` is stopped, gets an error
/// result, and its transaction is rolled back.
fn timeout(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let seconds = req.settings().timeout.seconds.max(0.001);
        match tokio::time::timeout(Duration::from_secs_f64(seconds), next.run(req)).await {
            Ok(response) => response,
            Err(_) => Response::error(format!(
                "the call ran longer than {seconds} s ([timeout] seconds) and was stopped; what it changed was rolled back"
            )),
        }
    })
}

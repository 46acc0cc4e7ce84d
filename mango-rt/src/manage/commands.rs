//! The commands every project has, listed with the apps' own under `[mango]`:
//! `check`, `tools` and `call`. They work on the runtime itself.

use std::sync::Arc;

use clap::{Args, FromArgMatches};

use crate::call::{BoxFuture, Caller, Channel, Output, TransportKind};
use crate::registry::{BUILTIN_APP, EntryMeta, MIDDLEWARE};
use crate::runtime::Runtime;

/// A built-in command: like an app's `#[command]`, but run with the runtime.
pub(super) struct Builtin {
    pub meta: EntryMeta,
    pub about: &'static str,
    pub args: fn(clap::Command) -> clap::Command,
    pub run: fn(Arc<Runtime>, clap::ArgMatches) -> BoxFuture<Output>,
}

const fn meta(name: &'static str, line: u32) -> EntryMeta {
    EntryMeta {
        app: BUILTIN_APP,
        name,
        module_path: module_path!(),
        file: file!(),
        line,
    }
}

/// The built-in commands.
pub(super) static BUILTINS: [Builtin; 20] = [
    Builtin {
        meta: meta("check", line!()),
        about: "Check the project: settings, apps, tool names (for MCP and for common clients), authentication, pending migrations (a warning).\n\nExits 1 when something needs fixing; with --deploy, also on what must not reach production.",
        args: CheckArgs::augment_args,
        run: check,
    },
    Builtin {
        meta: meta("tools", line!()),
        about: "List every tool, as clients see it (`--json`: with its input and output schema).",
        args: ToolsArgs::augment_args,
        run: tools,
    },
    Builtin {
        meta: meta("call", line!()),
        about: "Call one tool in-process and print its result, like `fastmcp call`: call <tool> '{\"arg\": 1}' (--resource <uri> reads a resource, --prompt <name> gets a prompt).",
        args: CallArgs::augment_args,
        run: call_tool,
    },
    Builtin {
        meta: meta("audit", line!()),
        about: "Print the newest calls of the audit log (`mango.audit`), newest first (--app, --name, --outcome ok|tool_error|protocol_error, --limit, --json); --prune removes the rows past [audit] retention_days and retention_rows.",
        args: AuditArgs::augment_args,
        run: audit,
    },
    Builtin {
        meta: meta("inspectdb", line!()),
        about: "Print the database's tables (columns, primary and foreign keys) and the migrations not applied yet, as JSON: what `cargo mango migrate` writes each app's schema.rs from, and `makemigrations --diff` compares it with.",
        args: |cmd| cmd,
        run: inspectdb,
    },
    Builtin {
        meta: meta("adminpassword", line!()),
        about: "Hash a password for the admin pages ([admin]): reads it from stdin and prints the line that sets MANGO_ADMIN__PASSWORD_HASH (keep it in the environment, not in Mango.toml).",
        args: |cmd| cmd,
        run: admin_password,
    },
    Builtin {
        meta: meta("items", line!()),
        about: "Print every tool, resource, resource template and prompt, as clients see them, as JSON.",
        args: |cmd| cmd,
        run: items,
    },
    Builtin {
        meta: meta("createsuperuser", line!()),
        about: "Make a superuser ([auth] users): every scope, the admin. The password is read from stdin (--noinput: from MANGO_SUPERUSER_PASSWORD; --username or MANGO_SUPERUSER_USERNAME names it).",
        args: super::users::CreateSuperuserArgs::augment_args,
        run: super::users::create_superuser,
    },
    Builtin {
        meta: meta("createuser", line!()),
        about: "Make a user ([auth] users): createuser <name> [--staff] [--scope s]… [--password-stdin].",
        args: super::users::CreateUserArgs::augment_args,
        run: super::users::create_user,
    },
    Builtin {
        meta: meta("changepassword", line!()),
        about: "Set a user's password, read from stdin ([auth] users).",
        args: super::users::ChangePasswordArgs::augment_args,
        run: super::users::change_password,
    },
    Builtin {
        meta: meta("changeuser", line!()),
        about: "Change a user ([auth] users): --active false (its tokens stop working), --staff, --superuser, --scope s… (its scopes).",
        args: super::users::ChangeUserArgs::augment_args,
        run: super::users::change_user,
    },
    Builtin {
        meta: meta("deleteuser", line!()),
        about: "Delete a user and its tokens ([auth] users).",
        args: super::users::DeleteUserArgs::augment_args,
        run: super::users::delete_user,
    },
    Builtin {
        meta: meta("users", line!()),
        about: "List the users, their scopes, groups and tokens (by prefix) ([auth] users; --json).",
        args: super::users::UsersArgs::augment_args,
        run: super::users::list_users,
    },
    Builtin {
        meta: meta("group", line!()),
        about: "Make or change a group ([auth] users): group <name> --scope s… [--member user…]; its members have its scopes.",
        args: super::users::GroupArgs::augment_args,
        run: super::users::group,
    },
    Builtin {
        meta: meta("createtoken", line!()),
        about: "Make an API token for a user ([auth] users): createtoken <user> [--scope s]… [--expires 30d] [--name what-for]. Printed once; only its SHA-256 is kept.",
        args: super::users::CreateTokenArgs::augment_args,
        run: super::users::create_token,
    },
    Builtin {
        meta: meta("revoketoken", line!()),
        about: "Revoke a user's token by its prefix ([auth] users); every server refuses it within [auth] token_cache seconds.",
        args: super::users::RevokeTokenArgs::augment_args,
        run: super::users::revoke_token,
    },
    Builtin {
        meta: meta("worker", line!()),
        about: "Run the apps' #[job]s until SIGTERM or Ctrl-C (--workers N at once; [jobs] workers by default): beside `serve`, or instead of its workers ([jobs] workers = 0). On PostgreSQL any number of them, on any machine, share the queue.",
        args: super::jobs::WorkerArgs::augment_args,
        run: super::jobs::worker,
    },
    Builtin {
        meta: meta("jobs", line!()),
        about: "List the jobs, newest first (--status, --limit, --json); `jobs retry <id>` queues a failed or cancelled one again; `jobs cancel <id>` cancels one (a running one stops within a third of [jobs] lease, rolled back); `jobs run` runs the due ones now and exits.",
        args: super::jobs::JobsArgs::augment_args,
        run: super::jobs::jobs,
    },
    Builtin {
        meta: meta("tasks", line!()),
        about: "List the tasks of #[tool(task)] calls, newest first (--status, --limit, --json: tool, arguments, owner, status, result or error); `tasks cancel <id>` stops one (within a quarter of a second on whichever server runs it; rolled back).",
        args: super::jobs::TasksArgs::augment_args,
        run: super::jobs::tasks,
    },
    Builtin {
        meta: meta("nginx", line!()),
        about: "Print the configuration of an nginx in front of replicas of this project: nginx --replica 127.0.0.1:8001 --replica 127.0.0.1:8002 [--listen 80]. Sessions go to the replica that made them; only calls of tools marked idempotent or read_only are retried on another replica (docs/deploy.md).",
        args: super::balancer::NginxArgs::augment_args,
        run: super::balancer::nginx,
    },
];

pub(super) fn parse<T: FromArgMatches>(matches: &clap::ArgMatches) -> Result<T, Output> {
    T::from_arg_matches(matches).map_err(|e| Output::Error(e.to_string()))
}

/// Characters that MCP allows in a tool name but the function-calling APIs of common
/// model providers do not (their names are `^[a-zA-Z0-9_-]{1,64}$`).
fn client_problem(name: &str) -> Option<&'static str> {
    name.contains('.')
        .then_some("has `.`, which some clients' model APIs refuse in tool names")
}

/// `check [--deploy]`.
#[derive(Args)]
struct CheckArgs {
    /// Also fail on what must not reach production: an open bind without
    /// authentication, wildcard origins, any Host accepted, secrets in Mango.toml,
    /// pending migrations, a debug build, no key for round states.
    #[arg(long)]
    deploy: bool,
}

fn check(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: CheckArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let mut report = String::new();
        let mut problems = Vec::new();
        let s = rt.settings();
        report.push_str(&format!(
            "settings: {} (profile `{}`) read and checked\n",
            s.display_path().display(),
            s.profile
        ));
        report.push_str(&format!(
            "apps: {}\n",
            rt.apps()
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        report.push_str(&format!(
            "tools: {}, every name unique, 1 to 64 characters of A-Z a-z 0-9 _ - .\n",
            rt.tools.list.len()
        ));
        for t in &rt.tools.list {
            if let Some(problem) = client_problem(t.name()) {
                problems.push(format!(
                    "the tool `{}` ({}) {problem}; rename it with #[tool(name = \"…\")]",
                    t.name(),
                    t.entry.meta.location()
                ));
            }
        }
        let listed: Vec<String> = rt.middleware.iter().map(|m| m.meta.qualified()).collect();
        report.push_str(&format!(
            "middleware: {}\n",
            if listed.is_empty() {
                "none listed".to_owned()
            } else {
                listed.join(" → ")
            }
        ));
        for m in MIDDLEWARE.iter() {
            if !listed.contains(&m.meta.qualified()) {
                report.push_str(&format!(
                    "note: the middleware `{}` ({}) is registered but not listed in `middleware`, so it does not run\n",
                    m.meta.qualified(),
                    m.meta.location()
                ));
            }
        }
        for line in crate::builtin::auth::explain(s, &rt.declared_scopes()) {
            report.push_str(&line);
            report.push('\n');
        }
        if s.auth.users {
            for line in crate::builtin::users::explain(rt.database()).await {
                report.push_str(&line);
                report.push('\n');
            }
        }
        let (admin_problems, admin_notes) = admin_findings(s);
        problems.extend(admin_problems);
        for note in admin_notes {
            report.push_str(&note);
            report.push('\n');
        }
        if s.input.key.is_none() && s.server.stateless {
            report.push_str(
                "note: `[input] key` is not set: each server process signs 2026-07-28 round states with a key of its own, so replicas behind a balancer (and a restarted server) refuse each other's; set MANGO_INPUT__KEY to one secret of at least 32 bytes\n",
            );
        }
        if !rt.migrator.is_empty() {
            match rt.migrator.pending_names(rt.database()).await {
                Ok(pending) if pending.is_empty() => {
                    report.push_str("migrations: all applied\n");
                }
                Ok(pending) => {
                    let what = format!(
                        "{} migration(s) not applied: {}; run `cargo mango migrate` (or serve with --migrate)",
                        pending.len(),
                        pending.join(", ")
                    );
                    // A project just made has its apps' first migrations pending: a
                    // warning, as Django's runserver gives; a deployment must not.
                    if args.deploy {
                        problems.push(what);
                    } else {
                        report.push_str(&format!("warning: {what}\n"));
                    }
                }
                Err(e) => problems.push(format!("the database could not be checked: {e}")),
            }
        }
        // What `cargo mango check` found comparing each app's schema.rs with its
        // tables (it reads the files; this binary has only the database).
        if let Ok(models) = std::env::var("MANGO_CHECK_MODELS") {
            for line in models.lines().filter(|l| !l.is_empty()) {
                match line.strip_prefix("problem: ") {
                    Some(p) => problems.push(p.to_owned()),
                    None => report.push_str(&format!("{line}\n")),
                }
            }
        }
        if args.deploy {
            let mut found = deploy_problems(s);
            if s.auth.users {
                found.extend(crate::builtin::users::guessable_superusers(rt.database()).await);
            }
            if found.is_empty() {
                report.push_str("deploy: no problem found in the settings for production\n");
            }
            problems.extend(found);
        }
        if problems.is_empty() {
            report.push_str("no problems found\n");
            Output::Text(report)
        } else {
            for p in &problems {
                report.push_str(&format!("problem: {p}\n"));
            }
            report.push_str(&format!("{} problem(s) found", problems.len()));
            Output::Error(report)
        }
    })
}

/// `inspectdb`: the database as it is, for `cargo mango` (Django's `inspectdb`).
fn inspectdb(rt: Arc<Runtime>, _: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let pending = if rt.migrator.is_empty() {
            Vec::new()
        } else {
            match rt.migrator.pending_names(rt.database()).await {
                Ok(p) => p,
                Err(e) => return Output::Error(e.to_string()),
            }
        };
        match crate::db::migrate::with_sync_db(rt.database(), crate::db::inspect::tables).await {
            Ok(tables) => Output::json(&serde_json::json!({
                "backend": crate::db::BACKEND,
                "pending": pending,
                "tables": tables,
            })),
            Err(e) => Output::Error(e.to_string()),
        }
    })
}

/// `adminpassword`: the argon2 hash of the password read from stdin.
fn admin_password(_: Arc<Runtime>, _: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        use std::io::{BufRead, IsTerminal, Write};
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "the admin's password (it shows as you type; or pipe it in): "
            );
            let _ = err.flush();
        }
        let mut line = String::new();
        if let Err(e) = stdin.lock().read_line(&mut line) {
            return Output::Error(format!("the password could not be read from stdin: {e}"));
        }
        let password = line.trim_end_matches(['\r', '\n']);
        if password.chars().count() < 8 {
            return Output::Error(
                "the password is shorter than 8 characters: choose a longer one".into(),
            );
        }
        let hashed = tokio::task::spawn_blocking({
            let password = password.to_owned();
            move || crate::builtin::password::hash_password(&password)
        })
        .await;
        match hashed {
            Ok(Ok(hash)) => Output::Text(format!("MANGO_ADMIN__PASSWORD_HASH='{hash}'")),
            Ok(Err(e)) => Output::Error(format!("the password could not be hashed: {e}")),
            Err(e) => Output::Error(format!("the password could not be hashed: {e}")),
        }
    })
}

/// What `check` says of `[admin]`: problems, and notes.
fn admin_findings(s: &crate::settings::Settings) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let a = &s.admin;
    if !a.enabled {
        return (problems, notes);
    }
    if s.server.transport != crate::settings::ServeTransport::Http {
        notes.push(format!(
            "note: [admin] is enabled but the server speaks stdio: the admin is served at {} only by `serve --transport http`",
            a.path
        ));
    }
    match a.password_hash.as_ref().map(crate::Secret::expose) {
        Some(hash) => problems.extend(crate::builtin::password::hash_problem(hash).map(|e| e.to_string())),
        // Without a password, only the one-time link logs in (a developer's profile on
        // loopback).
        None if !(a.dev_login
            && matches!(s.profile.as_str(), "default" | "dev")
            && crate::util::is_loopback(&s.server.host)) =>
        {
            notes.push(
            "warning: [admin] is enabled but no password is set, so nobody can log in: set MANGO_ADMIN__PASSWORD_HASH (`cargo mango run adminpassword` makes one)".into(),
        )
        }
        None => {}
    }
    (problems, notes)
}

/// What `check --deploy` refuses in `s`: each names the setting and the fix.
fn deploy_problems(s: &crate::settings::Settings) -> Vec<String> {
    let mut found = Vec::new();
    let server = &s.server;
    let http = server.transport == crate::settings::ServeTransport::Http;
    let auth = crate::builtin::Builtin::Auth.listed(s);
    if http && !crate::util::is_loopback(&server.host) && !auth {
        found.push(format!(
            "[server] host = \"{}\" listens beyond this machine and `mango.auth` is not listed: anyone who reaches the port may call every item; add \"mango.auth\" to `middleware` with [auth] tokens or [auth.oauth] (or listen on host = \"127.0.0.1\")",
            server.host
        ));
    }
    for origin in &server.allowed_origins {
        let host = origin.split("://").nth(1).unwrap_or(origin);
        if origin == "*" || origin == "null" || host.starts_with('*') {
            found.push(format!(
                "[server] allowed_origins has `{origin}`: any web page of those origins may call this server from a visitor's browser; list the exact origins of your web apps (`https://app.example.com`), or none"
            ));
        }
    }
    if http && server.allowed_hosts.is_empty() && !server.behind_proxy {
        found.push(
            "[server] allowed_hosts = [] accepts any Host header (DNS rebinding); list the hostnames clients use, or, when a reverse proxy in front checks Host, say so with [server] behind_proxy = true".into(),
        );
    }
    if http
        && server.behind_proxy
        && !crate::util::is_loopback(&server.host)
        && server.proxy_nets().iter().all(|net| net.is_loopback())
    {
        found.push(format!(
            "[server] behind_proxy = true on host = \"{}\" believes forwarded headers from this machine only ([server] trusted_proxies = {:?}): a proxy on another machine is not believed (every client would seem to be the proxy, and the Host checked its own); list the proxies' addresses or network in trusted_proxies",
            server.host, server.trusted_proxies
        ));
    }
    for key in &s.secrets_in_file {
        let variable = format!("MANGO_{}", key.to_uppercase().replace('.', "__"));
        found.push(format!(
            "`{key}` is written in {}: a secret belongs in the environment; remove it from the file and set {variable}",
            s.display_path().display()
        ));
    }
    if cfg!(debug_assertions) {
        found.push(
            "this is a debug build (slower, and it prints more of its insides): build with the release profile, `cargo mango serve --release`, or `cargo build --release`".into(),
        );
    }
    if http && s.admin.enabled && !crate::util::is_loopback(&server.host) && !server.behind_proxy {
        found.push(format!(
            "[admin] is enabled on host = \"{}\" without TLS in front: the admin's password and session cookie would cross the network in clear; put a reverse proxy that terminates TLS in front (and say so with [server] behind_proxy = true), or disable the admin in this profile",
            server.host
        ));
    }
    #[cfg(feature = "postgres")]
    if let Ok(connector) = crate::db::pg::Connector::new(&s.database.url)
        && let Some(host) = connector.clear_beyond_loopback()
    {
        found.push(format!(
            "[database] url connects to PostgreSQL on {host} without sslmode=require, verify-ca or verify-full: the database's password and every row would cross the network in clear (or to whoever answers in its place); add ?sslmode=verify-full&sslrootcert=<the CA's PEM file> to the URL (docs/deploy.md, PostgreSQL)"
        ));
    }
    if http && s.input.key.is_none() {
        found.push(
            "[input] key is not set: 2026-07-28 round states are signed with a key made at start-up, so a restart or another replica refuses them; set MANGO_INPUT__KEY to a secret of at least 32 bytes (`openssl rand -hex 32`), the same on every replica".into(),
        );
    }
    found
}

/// `audit [--prune] [--app A] [--name N] [--outcome O] [--limit N] [--json]`.
#[derive(Args)]
struct AuditArgs {
    /// Remove the rows past `[audit] retention_days` and `retention_rows`.
    #[arg(long)]
    prune: bool,
    /// Only this app's calls.
    #[arg(long)]
    app: Option<String>,
    /// Only calls of this tool, resource or prompt (its exposed name).
    #[arg(long)]
    name: Option<String>,
    /// Only calls that ended so: ok, tool_error, protocol_error, input_required,
    /// cancelled.
    #[arg(long)]
    outcome: Option<String>,
    /// How many rows.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// The rows as JSON.
    #[arg(long)]
    json: bool,
}

fn audit(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: AuditArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !crate::builtin::Builtin::Audit.listed(rt.settings()) {
            return Output::Error(
                "the audit log is off: add \"mango.audit\" to `middleware` in Mango.toml, then `cargo mango migrate` (it creates the table mango_audit)".into(),
            );
        }
        const OUTCOMES: [&str; 5] = [
            "ok",
            "tool_error",
            "protocol_error",
            "input_required",
            "cancelled",
        ];
        if let Some(o) = &args.outcome
            && !OUTCOMES.contains(&o.as_str())
        {
            return Output::Error(format!(
                "--outcome {o}: the outcomes are {}",
                OUTCOMES.join(", ")
            ));
        }
        let db = rt.database();
        if args.prune {
            let a = &rt.settings().audit;
            return match crate::builtin::audit::prune(db, a.retention_days, a.retention_rows).await
            {
                Ok(n) => Output::Text(format!(
                    "removed {n} audit row(s) (retention_days = {}, retention_rows = {})\n",
                    a.retention_days, a.retention_rows
                )),
                Err(e) => Output::Error(format!("the audit log could not be pruned: {e}")),
            };
        }
        let filter = crate::builtin::audit::Filter {
            app: args.app,
            name: args.name,
            outcome: args.outcome,
            ..Default::default()
        };
        let rows = match crate::builtin::audit::recent(db, args.limit.max(1), filter).await {
            Ok(rows) => rows,
            Err(e) => {
                return Output::Error(format!(
                    "the audit log could not be read ({e}); has `cargo mango migrate` created mango_audit?"
                ));
            }
        };
        if args.json {
            return Output::json(&rows);
        }
        let mut text = String::new();
        for r in &rows {
            text.push_str(&format!(
                "#{} {} {} {} {} ({}, {:.1} ms, {}){}\n  arguments: {}\n",
                r.id,
                crate::builtin::audit::when(r.at_ms),
                r.kind,
                r.name,
                r.outcome,
                r.transport,
                r.duration_ms,
                r.caller.as_deref().unwrap_or("anonymous"),
                r.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                r.arguments
            ));
        }
        if rows.is_empty() {
            text.push_str("no calls logged\n");
        }
        Output::Text(text)
    })
}

/// `tools [--json]`.
#[derive(Args)]
struct ToolsArgs {
    /// Every tool with its input and output schema, as JSON.
    #[arg(long)]
    json: bool,
}

fn tools(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: ToolsArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if args.json {
            return Output::json(&rt.tools.listed);
        }
        let width = rt
            .tools
            .list
            .iter()
            .map(|t| t.name().len())
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for t in &rt.tools.list {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("{:<width$}  {summary}\n", t.name()));
        }
        Output::Text(text)
    })
}

/// `call <tool> [<json>]`, `call --resource <uri>`, `call --prompt <name> [<json>]`.
#[derive(Args)]
struct CallArgs {
    /// The tool's exposed name (with --resource: the URI; with --prompt: the prompt's name).
    name: String,
    /// The arguments, as a JSON object.
    #[arg(default_value = "{}")]
    arguments: String,
    /// Read the resource NAME (a URI) instead of calling a tool.
    #[arg(long, conflicts_with = "prompt")]
    resource: bool,
    /// Get the prompt NAME instead of calling a tool.
    #[arg(long)]
    prompt: bool,
}

/// What a protocol-level answer prints: its JSON, or the error.
fn answer<T: serde::Serialize>(result: Result<T, rmcp::model::ErrorData>) -> Output {
    match result {
        Ok(value) => Output::Text(serde_json::to_string_pretty(&value).unwrap_or_default()),
        Err(e) => Output::Error(format!("error {}: {}", e.code.0, e.message)),
    }
}

fn call_tool(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: CallArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let arguments = match serde_json::from_str::<serde_json::Value>(&args.arguments) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => {
                return Output::Error(format!(
                    "the arguments must be a JSON object, like '{{\"a\": 1}}', not {other}"
                ));
            }
            Err(e) => {
                return Output::Error(format!("the arguments are not valid JSON: {e}"));
            }
        };
        let caller = Caller::new(TransportKind::InProcess);
        if args.resource {
            return answer(
                rt.read_resource(&args.name, caller, Channel::default())
                    .await,
            );
        }
        if args.prompt {
            return answer(
                rt.get_prompt(&args.name, arguments, caller, Channel::default())
                    .await,
            );
        }
        match rt
            .call_tool(&args.name, arguments, caller, Channel::default())
            .await
        {
            Some(result) => {
                let failed = result.is_error == Some(true);
                let json = serde_json::to_string_pretty(&result).unwrap_or_default();
                if failed {
                    Output::Error(json)
                } else {
                    Output::Text(json)
                }
            }
            None => Output::Error(rt.unknown_tool(&args.name)),
        }
    })
}

/// `items`: everything the project serves, with schemas and arguments, as JSON; and
/// the models, with their fields and the served names of their tools.
fn items(rt: Arc<Runtime>, _: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let models: Vec<serde_json::Value> = rt
            .models()
            .iter()
            .map(|m| {
                let e = m.entry;
                let fields: Vec<serde_json::Value> = e
                    .fields
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "name": f.name, "description": f.description, "kind": f.kind,
                            "nullable": f.nullable, "writable": f.writable,
                            "orderable": f.orderable, "key": f.key,
                        })
                    })
                    .collect();
                let tools: serde_json::Map<String, serde_json::Value> = m
                    .tools
                    .iter()
                    .map(|(op, name)| (op.clone(), serde_json::json!(name)))
                    .collect();
                serde_json::json!({
                    "app": e.meta.app, "name": e.what, "description": e.description,
                    "table": e.table, "key": e.key, "uriTemplate": e.uri,
                    "fields": fields, "tools": tools,
                })
            })
            .collect();
        Output::json(&serde_json::json!({
            "tools": rt.tools.listed,
            "resources": rt.resources.listed,
            "resourceTemplates": rt.resources.listed_templates,
            "prompts": rt.prompts.listed,
            "models": models,
        }))
    })
}

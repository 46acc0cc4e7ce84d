//! `serve`: the project over stdio or Streamable HTTP, until stdin closes or a signal
//! comes; then the calls in flight finish and the pool is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use mango_cli::ServeArgs;

use crate::admin;
use crate::builtin::auth;
use crate::call::TransportKind;
use crate::db::migrate::with_sync_db;
use crate::mcp::MangoServer;
use crate::runtime::{ErrorKind, Runtime, StartError};
use crate::settings::ServeTransport;
use crate::transport::http;
use crate::transport::stdio::GuardedStdio;

/// Connects once (start-up fails here, with the reason, if the database cannot be
/// reached) and warns about migrations not applied yet. Skipped when no app has
/// migrations, so a project without a database never creates one.
async fn check_database(runtime: &Runtime, apply: bool) -> Result<(), StartError> {
    let migrator = &runtime.migrator;
    if migrator.is_empty() {
        return Ok(());
    }
    if apply {
        let m = migrator.clone();
        let done = with_sync_db(runtime.database(), move |c| m.migrate_all(c)).await?;
        for (app, name, _) in done {
            tracing::info!("applied the migration {app} {name}");
        }
    }
    let names = migrator.pending_names(runtime.database()).await?;
    if !names.is_empty() {
        tracing::warn!(
            "{} migration(s) not applied: {}; run `cargo mango migrate`",
            names.len(),
            names.join(", ")
        );
    }
    Ok(())
}

pub(super) fn serve(runtime: Arc<Runtime>, args: ServeArgs) -> Result<(), StartError> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(problem) = settings_replica_problem(runtime.settings()) {
        return Err(ErrorKind::Serve(problem).into());
    }
    let served = tokio.block_on(async move {
        let s = &runtime.settings().server;
        let transport = args.transport.unwrap_or(s.transport);
        // The port first: a server that cannot listen stops before it creates or
        // migrates a database.
        let bound = match transport {
            ServeTransport::Http => {
                let host = args.host.clone().unwrap_or_else(|| s.host.clone());
                let port = args.port.unwrap_or(s.port);
                Some(bind(&host, port).await?)
            }
            ServeTransport::Stdio => None,
        };
        let metrics = super::metrics::bind(&runtime).await?;
        check_database(&runtime, args.migrate).await?;
        // The apps' start-up hooks, once, before anything is served.
        runtime.start_up().await?;
        // Other replicas' (and commands') resource changes, for this server's
        // subscribers.
        #[cfg(feature = "postgres")]
        let listener = runtime.state.listen_for_changes();
        // The apps' jobs, run beside the calls; they stop claiming when the calls
        // drain, and what still runs then had the same shutdown_timeout.
        let workers = runtime.start_workers(runtime.settings().jobs.workers);
        if workers.count() > 0 {
            tracing::info!(
                "running the apps' jobs with {} worker(s) ([jobs] workers)",
                workers.count()
            );
        }
        // The tasks' keeper: tasks of a server that died are failed, old ones removed.
        let tasks = runtime.keep_tasks();
        let metrics = metrics.map(|listener| super::metrics::serve(runtime.clone(), listener));
        let summary = super::apps::summary(&runtime);
        let served = match bound {
            None => {
                tracing::info!("serving {summary} over stdio");
                serve_stdio(runtime.clone()).await
            }
            Some(bound) => {
                let stateless = args.stateless || s.stateless;
                serve_http(runtime.clone(), bound, stateless, &summary).await
            }
        };
        #[cfg(feature = "postgres")]
        listener.abort();
        // The drain waited for the runs going (they are calls in flight); those left
        // are stopped and released.
        workers.stop(Duration::from_millis(100)).await;
        if let Some(tasks) = tasks {
            tasks.abort();
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        // Once the last call drained: the apps' shutdown hooks, then the database.
        runtime.shut_down().await;
        runtime.database().close();
        served
    });
    // Tokio reads stdin on a blocking thread that returns only with the next line: a
    // stdio server stopped by SIGTERM while its client still holds stdin open would
    // wait for it for ever. Everything has been drained and shut down by now.
    tokio.shutdown_timeout(Duration::from_millis(500));
    served
}

/// SIGTERM and Ctrl-C, caught from the moment this is made: made before the server
/// takes its first request, so that a signal that comes after it (a quick `kill` once
/// the first answers are out) stops the server gracefully instead of killing it.
struct Stop {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Stop {
    /// Within the runtime.
    fn catch() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops the server gracefully");
                    None
                }
            };
            Stop { signals }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    /// Until a signal comes.
    async fn signalled(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Waits (at most the shutdown timeout) for the calls in flight, then closes the
/// database pool.
async fn drain(runtime: &Runtime) {
    let in_flight = &runtime.state.in_flight;
    let count = in_flight.len();
    in_flight.close();
    if count > 0 {
        tracing::info!(
            in_flight = count,
            "shutting down: finishing the calls in flight"
        );
    }
    let limit = Duration::from_secs(runtime.settings().server.shutdown_timeout);
    if tokio::time::timeout(limit, in_flight.wait()).await.is_err() {
        tracing::warn!(
            still_running = in_flight.len(),
            "shutdown timeout reached; stopping the calls still running (each is logged, and rolled back unless it was already committing)"
        );
    }
}

/// After [`drain`] and the sessions' cancellation: the calls stopped at the deadline
/// end (rolled back, and logged) and those that were committing finish, before the
/// process exits. A commit does not take long; a call that still runs after
/// `GRACE` is abandoned (its transaction rolls back as the process's connections close).
async fn stopped(runtime: &Runtime) {
    const GRACE: Duration = Duration::from_secs(5);
    let in_flight = &runtime.state.in_flight;
    if !in_flight.is_empty() && tokio::time::timeout(GRACE, in_flight.wait()).await.is_err() {
        tracing::error!(
            still_running = in_flight.len(),
            "calls still running {GRACE:?} after they were stopped; exiting without them (their transactions roll back)"
        );
    }
}

async fn serve_stdio(runtime: Arc<Runtime>) -> Result<(), StartError> {
    let stop = Stop::catch();
    let transport = GuardedStdio::new(tokio::io::stdin(), tokio::io::stdout());
    let server = MangoServer::new(runtime.clone(), TransportKind::Stdio);
    let running = match server.serve(transport).await {
        Ok(running) => running,
        // The client left before `initialize`: nothing to serve, nothing went wrong.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before `initialize`; stopping");
            return Ok(());
        }
        Err(e) => return Err(ErrorKind::Serve(e.to_string()).into()),
    };
    let cancel = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        result = &mut waiting => {
            result.map_err(|e| ErrorKind::Serve(e.to_string()))?;
            tracing::info!("stdin closed; stopping");
            Ok(())
        }
        _ = stop.signalled() => {
            drain(&runtime).await;
            cancel.cancel();
            stopped(&runtime).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), waiting).await;
            Ok(())
        }
    }
}

/// `[server] replica`, when set, must be a name session ids can start with.
fn settings_replica_problem(settings: &crate::settings::Settings) -> Option<String> {
    let name = settings.server.replica.as_deref()?;
    super::balancer::replica_name_problem(name).map(|p| {
        format!(
            "{}: [server] replica (MANGO_SERVER__REPLICA): {p}",
            settings.display_path().display()
        )
    })
}

/// Listens on `host:port`; the error says what to change.
async fn bind(host: &str, port: u16) -> Result<tokio::net::TcpListener, StartError> {
    let addr = format!("{host}:{port}");
    Ok(tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ErrorKind::Bind {
            addr: addr.clone(),
            source,
        })?)
}

async fn serve_http(
    runtime: Arc<Runtime>,
    listener: tokio::net::TcpListener,
    stateless: bool,
    summary: &str,
) -> Result<(), StartError> {
    let stop = Stop::catch();
    let host = listener.local_addr()?.ip().to_string();
    let host = host.as_str();
    let local: SocketAddr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let draining = CancellationToken::new();
    let settings = runtime.settings();
    let for_sessions = runtime.clone();
    let for_ready = runtime.clone();
    let ready: http::Readiness = Arc::new(move || {
        let runtime = for_ready.clone();
        Box::pin(async move { runtime.database().ready().await })
    });
    let url = format!(
        "http://{}{}",
        if local.is_ipv6() {
            format!("[{}]:{}", local.ip(), local.port())
        } else {
            local.to_string()
        },
        settings.server.path
    );
    let needed: Option<auth::NeededScopes> = runtime.any_scoped().then(|| {
        let runtime = runtime.clone();
        Arc::new(move |method: &str, name: &str| runtime.needed_scopes(method, name))
            as auth::NeededScopes
    });
    let protection = auth::http(
        settings,
        runtime.database(),
        &url,
        &runtime.declared_scopes(),
        needed,
    )
    .map_err(ErrorKind::Auth)?;
    let stops = Arc::new(http::SessionStops::default());
    let for_stops = stops.clone();
    let app = http::router(
        move || {
            MangoServer::new(for_sessions.clone(), TransportKind::Http)
                .with_sessions(!stateless)
                .with_stops(for_stops.clone())
        },
        ready,
        &settings.server,
        stateless,
        cancel.clone(),
        draining.clone(),
        runtime.state.in_flight.clone(),
        protection.guard,
        stops,
    );
    let mut app = match protection.metadata {
        Some(metadata) => app.merge(metadata),
        None => app,
    };
    let origin = url
        .trim_end_matches(settings.server.path.as_str())
        .to_owned();
    let served = admin::Served {
        stateless,
        origin: origin.clone(),
        // The profiles a developer runs (`prod` and the others are deployments').
        dev_link: matches!(settings.profile.as_str(), "default" | "dev")
            && crate::util::is_loopback(host),
    };
    let mut admin_link = None;
    if let Some((pages, link)) = admin::router(runtime.clone(), served).map_err(ErrorKind::Admin)? {
        // The MCP endpoint refuses a twin `Host` or `Origin` itself (no layer on the
        // hot path); the admin's pages through this layer.
        app = app.merge(pages.layer(axum::middleware::from_fn(http::one_host_one_origin)));
        admin_link = Some(link);
    }
    tracing::info!(
        mode = if stateless { "stateless" } else { "sessions" },
        "serving {summary} over Streamable HTTP at {url}"
    );
    if let Some(link) = admin_link {
        tracing::info!(
            "the admin is at {origin}{}/",
            settings.admin.path.trim_end_matches('/')
        );
        if let Some(link) = link {
            tracing::info!("log in to the admin with this link (it works once): {link}");
        }
    }
    if settings.server.behind_proxy {
        // What a trusted proxy says the client sent (its address, Host, scheme);
        // from anyone else, those headers removed.
        let proxies = crate::transport::proxy::Proxies::new(settings.server.proxy_nets());
        app = app.layer(axum::middleware::map_request_with_state(
            proxies,
            crate::transport::proxy::forwarded,
        ));
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = crate::transport::listen::Limits {
        header_timeout: Duration::from_secs_f64(settings.server.header_timeout.max(0.001)),
        max_connections: settings.server.max_connections,
    };
    let mut server = tokio::spawn(crate::transport::listen::serve(
        listener,
        app,
        limits,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let server_failed = tokio::select! {
        result = &mut server => Some(result),
        _ = stop.signalled() => None,
    };
    if let Some(result) = server_failed {
        return match result {
            Ok(()) => Ok(()),
            Err(e) => Err(ErrorKind::Serve(e.to_string()).into()),
        };
    }
    // Unready first (a balancer stops sending), then the calls in flight finish.
    draining.cancel();
    drain(&runtime).await;
    cancel.cancel();
    stopped(&runtime).await;
    let _ = stop_tx.send(());
    // The answers of the calls that ended are sent before the process exits.
    let _ = server.await;
    tracing::info!("stopped");
    Ok(())
}

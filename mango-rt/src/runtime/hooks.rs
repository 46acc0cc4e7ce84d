//! The apps' `#[startup]` and `#[shutdown]` hooks: each runs once per process (never
//! per session or per call), in the apps' dependency order (shutdown in reverse), with
//! the app's settings, the database and the state earlier hooks built.

use std::sync::Arc;
use std::time::Duration;

use super::Runtime;
use super::error::{Kind, StartError};
use crate::call::{
    BoxFuture, Call, Caller, Channel, Kind as ItemKind, Output, Target, TransportKind,
};
use crate::chain::{Chain, Endpoint, Request};
use crate::db::DbMode;
use crate::registry::{HOOKS, HookEntry, HookKind};

/// The end of a hook's (empty) chain: its generated run.
struct HookEndpoint(fn(Call) -> BoxFuture<Output>);

impl Endpoint for HookEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.0)(req.take_call())
    }

    fn what(&self) -> &'static str {
        "hook"
    }
}

impl Runtime {
    /// The hooks of `kind`, in the apps' dependency order (then in source order);
    /// shutdown hooks in the reverse.
    fn hooks(&self, kind: HookKind) -> Vec<&'static HookEntry> {
        let order = crate::project::dependency_order(self.apps());
        let rank = |app: &str| order.iter().position(|a| *a == app).unwrap_or(order.len());
        let mut hooks: Vec<&'static HookEntry> = HOOKS.iter().filter(|h| h.kind == kind).collect();
        hooks.sort_by(|a, b| {
            (rank(a.meta.app), a.meta.file, a.meta.line).cmp(&(
                rank(b.meta.app),
                b.meta.file,
                b.meta.line,
            ))
        });
        if kind == HookKind::Shutdown {
            hooks.reverse();
        }
        hooks
    }

    /// One hook, as a command runs: no middleware, its own connection and transaction
    /// (committed when it succeeds), a panic caught.
    async fn run_hook(&self, hook: &'static HookEntry) -> Output {
        let req = Request::new(
            self.state.clone(),
            Target {
                kind: ItemKind::Hook,
                name: hook.meta.name,
                app: hook.meta.app,
            },
            Default::default(),
            Caller::new(TransportKind::Command),
            Channel::default(),
            DbMode::default(),
        );
        let endpoint: Arc<dyn Endpoint> = Arc::new(HookEndpoint(hook.run));
        let no_middleware: Chain = Arc::new([]);
        crate::chain::run(&no_middleware, &endpoint, req).await
    }

    /// Runs every start-up hook, once, within `startup_timeout` seconds in all: the
    /// first that fails (an error, a panic, the time) stops start-up, naming its app and
    /// where it is.
    pub async fn start_up(&self) -> Result<(), StartError> {
        let hooks = self.hooks(HookKind::Startup);
        let limit = self.settings().startup_timeout.max(0.001);
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(limit);
        for hook in hooks {
            let site = format!(
                "the start-up hook `{}` of the app `{}` ({})",
                hook.meta.name,
                hook.meta.app,
                hook.meta.location()
            );
            match tokio::time::timeout_at(deadline, self.run_hook(hook)).await {
                Err(_) => {
                    return Err(Kind::Hook(format!(
                        "{site} did not finish within {limit} s (`startup_timeout` in Mango.toml, for every start-up hook together)"
                    ))
                    .into());
                }
                Ok(Output::Error(message) | Output::Invalid(message)) => {
                    return Err(Kind::Hook(format!("{site} failed: {message}")).into());
                }
                Ok(_) => tracing::debug!(
                    hook = hook.meta.name,
                    app = hook.meta.app,
                    "start-up hook done"
                ),
            }
        }
        Ok(())
    }

    /// Writes out the audit log's queue, then runs every shutdown hook, once, in the
    /// reverse order, within `startup_timeout` seconds in all; a failure is logged and
    /// the others still run.
    pub async fn shut_down(&self) {
        // The audit rows of the calls that drained, before anything stops.
        crate::builtin::audit::flush(&self.state, Duration::from_secs(10)).await;
        let limit = self.settings().startup_timeout.max(0.001);
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(limit);
        for hook in self.hooks(HookKind::Shutdown) {
            let site = format!(
                "the shutdown hook `{}` of the app `{}` ({})",
                hook.meta.name,
                hook.meta.app,
                hook.meta.location()
            );
            match tokio::time::timeout_at(deadline, self.run_hook(hook)).await {
                Err(_) => {
                    tracing::error!("{site} did not finish within {limit} s (`startup_timeout`)")
                }
                Ok(Output::Error(message) | Output::Invalid(message)) => {
                    tracing::error!("{site} failed: {message}");
                }
                Ok(_) => tracing::debug!(
                    hook = hook.meta.name,
                    app = hook.meta.app,
                    "shutdown hook done"
                ),
            }
        }
    }
}

//! [`State`]: what every call of a running project shares. `Context`, middleware and
//! the pipeline receive it; nothing in it points back at the MCP server.

use std::any::{Any, TypeId};
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::SubscriptionSink;
use rmcp::{Peer, RoleServer};

use tokio_util::task::TaskTracker;

use crate::db::Database;
use crate::project::AppInfo;
use crate::settings::{AppSettings, Settings, SettingsError};

/// What calls share: the settings, the installed apps, each app's typed settings, the
/// connection pool, the calls in flight, and values that belong to this server (the
/// rate limiter's buckets, …).
pub(crate) struct State {
    pub settings: Settings,
    /// The installed apps, sorted by name.
    pub apps: Vec<AppInfo>,
    app_settings: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    pub database: Database,
    /// The calls (and HTTP requests) in flight, waited for at shutdown.
    pub in_flight: TaskTracker,
    /// One value of each type, made on first use, for as long as this server lives.
    scoped: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// What the apps' `#[startup]` hooks built, by type (written at start-up, before
    /// any call).
    app_states: std::sync::RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// The clients subscribed to resources.
    pub subscribers: Subscribers,
    /// Calls served and failed since start, for the admin's overview.
    pub stats: Stats,
    /// `[metrics]`'s counters, when enabled.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// PostgreSQL: whether this server hears the changes every process announces (its
    /// listener is connected); if not, it tells its own subscribers itself.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    listening: std::sync::atomic::AtomicBool,
}

/// The PostgreSQL channel resource changes are announced on.
#[cfg(feature = "postgres")]
const CHANGES: &str = "mango_resources";

/// Counts of calls since the server started.
pub(crate) struct Stats {
    pub started: std::time::Instant,
    pub calls: AtomicU64,
    pub errors: AtomicU64,
}

impl Stats {
    /// One more call, failed or not.
    pub fn count(&self, failed: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl State {
    pub fn new(
        settings: Settings,
        apps: Vec<AppInfo>,
        app_settings: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
        database: Database,
    ) -> State {
        State {
            settings,
            apps,
            app_settings,
            database,
            in_flight: TaskTracker::new(),
            scoped: Mutex::default(),
            app_states: Default::default(),
            subscribers: Subscribers::default(),
            listening: std::sync::atomic::AtomicBool::new(false),
            stats: Stats {
                started: std::time::Instant::now(),
                calls: AtomicU64::new(0),
                errors: AtomicU64::new(0),
            },
            metrics: None,
        }
    }

    /// Keeps a value a start-up hook built (a second value of one type replaces the
    /// first, and says so).
    pub fn provide(&self, type_id: TypeId, type_name: &str, value: Arc<dyn Any + Send + Sync>) {
        let mut states = self.app_states.write().unwrap_or_else(|p| p.into_inner());
        if states.insert(type_id, value).is_some() {
            tracing::warn!(
                "two start-up hooks built a `{type_name}`: the later one is kept (give each state a type of its own)"
            );
        }
    }

    /// The value of type `T` a start-up hook built.
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.app_states
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// An app's typed settings, read and checked at start-up.
    pub fn app_settings<T: AppSettings>(&self) -> Result<Arc<T>, SettingsError> {
        self.app_settings
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
            .ok_or(SettingsError::NotRegistered(std::any::type_name::<T>()))
    }

    /// The resources at `uris` changed (the work that changed them is committed): every
    /// client subscribed to one of them hears of it. On PostgreSQL it is announced
    /// (`NOTIFY`), so that the subscribers of every replica hear, and those of this one
    /// through its listener; on SQLite, or while the listener is down, this server's
    /// own subscribers are told directly.
    pub async fn resources_changed(&self, uris: Vec<String>) {
        #[cfg(feature = "postgres")]
        {
            match self.database.notify(CHANGES, &uris).await {
                Ok(()) if self.listening.load(Ordering::Relaxed) => return,
                Ok(()) => {}
                Err(error) => tracing::warn!(
                    %error,
                    "a resource change could not be announced to the other replicas; only this server's subscribers hear of it"
                ),
            }
        }
        self.subscribers.resources_changed(uris);
    }

    /// PostgreSQL: hears the resource changes every process announces and tells this
    /// server's subscribers, until the task is aborted. A lost connection is opened
    /// again (every 1 s at first, then at most every 10 s); meanwhile this server tells
    /// its own subscribers directly.
    #[cfg(feature = "postgres")]
    pub fn listen_for_changes(self: &Arc<State>) -> tokio::task::JoinHandle<()> {
        use futures_util::StreamExt;
        let state = self.clone();
        tokio::spawn(async move {
            let mut wait = std::time::Duration::from_secs(1);
            loop {
                let mut conn = match state.database.listener(CHANGES).await {
                    Ok(conn) => conn,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for other replicas' resource changes; trying again in {wait:?}");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(std::time::Duration::from_secs(10));
                        continue;
                    }
                };
                wait = std::time::Duration::from_secs(1);
                state.listening.store(true, Ordering::Relaxed);
                tracing::debug!("listening for resource changes on PostgreSQL");
                loop {
                    let heard = {
                        let stream = conn.notifications_stream();
                        tokio::pin!(stream);
                        tokio::time::timeout(std::time::Duration::from_secs(30), stream.next())
                            .await
                    };
                    match heard {
                        Ok(Some(Ok(n))) => {
                            state.subscribers.resources_changed(vec![n.payload]);
                        }
                        Ok(Some(Err(error))) => {
                            tracing::warn!(%error, "the listener's connection failed");
                            break;
                        }
                        Ok(None) => break,
                        // Quiet for 30 s: is the connection still there?
                        Err(_) => {
                            use diesel_async::SimpleAsyncConnection;
                            let alive = tokio::time::timeout(
                                std::time::Duration::from_secs(5),
                                conn.batch_execute("SELECT 1"),
                            )
                            .await;
                            if !matches!(alive, Ok(Ok(()))) {
                                tracing::warn!("the listener's connection is gone");
                                break;
                            }
                        }
                    }
                }
                state.listening.store(false, Ordering::Relaxed);
            }
        })
    }

    /// This server's one `T` (made with `T::default()` the first time): state that
    /// belongs to the running server rather than to the process, so that two servers in
    /// one process (tests) do not share it.
    pub fn scoped<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut scoped = self.scoped.lock().unwrap_or_else(|p| p.into_inner());
        let value = scoped
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        drop(scoped);
        match value.downcast::<T>() {
            Ok(value) => value,
            // The map is keyed by the type: the value is always a `T`.
            Err(_) => Arc::new(T::default()),
        }
    }
}

/// Where a subscriber is told of changes.
#[derive(Clone)]
enum Listener {
    /// A 2025-11-25 session that sent `resources/subscribe`.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 `subscriptions/listen` stream.
    Listen(SubscriptionSink),
}

impl Listener {
    async fn tell(&self, uri: &str) -> Result<(), TellError> {
        match self {
            Listener::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.to_owned()))
                .await
                .map_err(TellError::Session),
            Listener::Listen(sink) => sink
                .notify_resource_updated(uri.to_owned())
                .await
                .map_err(TellError::Listen),
        }
    }
}

/// Why a subscriber could not be told (it is gone): rmcp's reason.
#[derive(Debug, thiserror::Error)]
enum TellError {
    #[error(transparent)]
    Session(rmcp::service::ServiceError),

    #[error(transparent)]
    Listen(rmcp::service::SubscriptionSendError),
}

/// How long one notification may take to reach a subscriber. A client whose
/// notification has been on its way longer is not reading (a stuck client, a stalled
/// stream): it is dropped at the next change, never waited for.
pub(crate) const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

struct Subscription {
    /// The session (its server handler) or listen request it belongs to.
    owner: u64,
    uris: BTreeSet<String>,
    /// The changes on their way to it, told by a task of its own ([`Sender`]), so that
    /// a slow client delays nobody else.
    outbox: Arc<Outbox>,
    _sender: Sender,
}

/// A subscriber's changes not yet told: each URI once (a client that hears "changed"
/// reads the resource again; twice says nothing more), so it holds at most the
/// subscriber's URIs.
#[derive(Default)]
struct Outbox {
    pending: Mutex<BTreeSet<String>>,
    wake: tokio::sync::Notify,
    /// Since when the notification on its way has been waiting for the client.
    busy_since: Mutex<Option<std::time::Instant>>,
    /// The client is gone (a notification could not be sent).
    gone: std::sync::atomic::AtomicBool,
}

impl Outbox {
    fn next(&self) -> Option<String> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_first()
    }

    fn set_busy(&self, since: Option<std::time::Instant>) {
        *self.busy_since.lock().unwrap_or_else(|p| p.into_inner()) = since;
    }

    /// How long the notification on its way has waited for the client.
    fn waiting(&self) -> std::time::Duration {
        self.busy_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(std::time::Duration::ZERO, |since| since.elapsed())
    }
}

/// The task that tells one subscriber its changes; stopped when the subscription goes.
struct Sender(tokio::task::AbortHandle);

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Subscription {
    fn new(owner: u64, uris: BTreeSet<String>, to: Listener) -> Subscription {
        let outbox = Arc::new(Outbox::default());
        let tasks = outbox.clone();
        let task = tokio::spawn(async move {
            loop {
                tasks.wake.notified().await;
                while let Some(uri) = tasks.next() {
                    tasks.set_busy(Some(std::time::Instant::now()));
                    let told = to.tell(&uri).await;
                    tasks.set_busy(None);
                    if let Err(error) = told {
                        tracing::debug!(%uri, %error, "a subscriber is gone; forgetting it");
                        tasks.gone.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        });
        Subscription {
            owner,
            uris,
            outbox,
            _sender: Sender(task.abort_handle()),
        }
    }
}

/// The clients subscribed to resources on this server, and the way to tell them of a
/// change.
#[derive(Default)]
pub(crate) struct Subscribers {
    next: AtomicU64,
    subscriptions: Mutex<Vec<Subscription>>,
}

impl Subscribers {
    /// A fresh owner id (for a session's handler, or a listen request).
    pub fn owner(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscription>> {
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `resources/subscribe` of a 2025-11-25 session.
    pub fn subscribe(&self, owner: u64, uri: String, peer: Peer<RoleServer>) {
        let mut subs = self.lock();
        match subs.iter_mut().find(|s| s.owner == owner) {
            Some(sub) => {
                sub.uris.insert(uri);
            }
            None => subs.push(Subscription::new(
                owner,
                BTreeSet::from([uri]),
                Listener::Session(peer),
            )),
        }
    }

    /// `resources/unsubscribe`; whether the session was subscribed to `uri`.
    pub fn unsubscribe(&self, owner: u64, uri: &str) -> bool {
        let mut subs = self.lock();
        let removed = subs
            .iter_mut()
            .find(|s| s.owner == owner)
            .is_some_and(|s| s.uris.remove(uri));
        subs.retain(|s| !s.uris.is_empty());
        removed
    }

    /// A `subscriptions/listen` stream for `uris`, until [`end`](Self::end).
    pub fn listen(&self, owner: u64, uris: BTreeSet<String>, sink: SubscriptionSink) {
        if uris.is_empty() {
            return;
        }
        self.lock()
            .push(Subscription::new(owner, uris, Listener::Listen(sink)));
    }

    /// Forgets an owner's subscriptions (its session closed, its listen stream ended).
    pub fn end(&self, owner: u64) {
        self.lock().retain(|s| s.owner != owner);
    }

    /// Tells every subscriber of these URIs that they changed
    /// (`notifications/resources/updated`), without waiting for any: each change goes
    /// in the subscriber's outbox, for its own task to send. A subscriber that is gone
    /// is forgotten; one whose last notification has waited longer than [`STUCK_AFTER`]
    /// (it stopped reading) is dropped, with a warning.
    pub fn resources_changed(&self, uris: Vec<String>) {
        let uris = BTreeSet::from_iter(uris);
        self.lock().retain(|sub| {
            if sub.outbox.gone.load(Ordering::Relaxed) {
                return false;
            }
            let waiting = sub.outbox.waiting();
            if waiting > STUCK_AFTER {
                tracing::warn!(
                    subscriber = sub.owner,
                    "a resource subscriber is not reading its notifications (one has waited {waiting:?}): it is dropped, and hears of no more changes"
                );
                return false;
            }
            let mut pending = sub.outbox.pending.lock().unwrap_or_else(|p| p.into_inner());
            let before = pending.len();
            pending.extend(uris.iter().filter(|uri| sub.uris.contains(*uri)).cloned());
            if pending.len() > before {
                sub.outbox.wake.notify_one();
            }
            true
        });
    }
}

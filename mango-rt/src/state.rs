//! [`State`]: what every call of a running project shares. `Context`, middleware and
//! the pipeline receive it; nothing in it points back at the MCP server.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
        }
    }

    /// An app's typed settings, read and checked at start-up.
    pub fn app_settings<T: AppSettings>(&self) -> Result<Arc<T>, SettingsError> {
        self.app_settings
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
            .ok_or(SettingsError::NotRegistered(std::any::type_name::<T>()))
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

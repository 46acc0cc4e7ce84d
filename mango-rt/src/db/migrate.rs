//! Every app's migrations: diesel-format folders (`migrations/<version>_<name>/up.sql`,
//! `down.sql`) embedded into the app with `mango_rt::migrations!()`, applied in
//! a deterministic order and recorded per app and version in `__mango_migrations` (so
//! that two apps with the same version string do not shadow each other, as they do in
//! diesel's own `__diesel_schema_migrations`).

use std::collections::{BTreeMap, BTreeSet};

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::EmbeddedMigrations;

use super::{Database, Db, DbError};
use crate::project::AppInfo;

type Backend = <Db as diesel_async::AsyncConnectionCore>::Backend;
/// A sync Diesel connection over the async one (migrations are sync in Diesel); used on
/// a blocking thread.
pub(crate) type SyncDb = AsyncConnectionWrapper<Db>;

diesel::table! {
    __mango_migrations (app, version) {
        app -> Text,
        version -> Text,
        name -> Text,
    }
}

const CREATE_RECORD: &str = "CREATE TABLE IF NOT EXISTS __mango_migrations (
    app VARCHAR(255) NOT NULL,
    version VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (app, version)
)";

/// What `MigrateError::Failed` says: what to fix, in the app's folder, or for mango's
/// own migrations (which have no folder in the project) what to check.
fn failed(app: &str, migration: &str, message: &str) -> String {
    let head = format!(
        "the migration {migration} of the app `{app}` failed and was rolled back (later ones were not applied): {message}"
    );
    if app == crate::project::BUILTIN_APP {
        format!(
            "{head}\nit is mango's own migration (built into mango-rt, not a folder of the project), and it makes its tables only if they do not exist: check that the database is the project's and that its user may create tables, then run `cargo mango migrate` again"
        )
    } else {
        format!(
            "{head}\nfix apps/{app}/migrations/{migration}, then run `cargo mango migrate` again"
        )
    }
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrateError {
    #[error("{}", failed(app, migration, message))]
    Failed {
        app: String,
        migration: String,
        message: String,
    },
    #[error("no installed app `{app}` has migrations (apps with migrations: {known})")]
    UnknownApp { app: String, known: String },
    #[error(
        "the app `{app}` has no migration `{version}` (it has: {known}); use a version, or `zero` to undo them all"
    )]
    UnknownVersion {
        app: String,
        version: String,
        known: String,
    },
    #[error(
        "the app `{app}` has two migrations with the version {version}: apps/{app}/migrations/{first} and apps/{app}/migrations/{second}; nothing was applied. Give one of them a later version (rename its folder; `cargo mango makemigrations` picks a free one) and rebuild"
    )]
    DuplicateVersion {
        app: String,
        version: String,
        first: String,
        second: String,
    },
    #[error("the migration record (__mango_migrations) could not be read or written: {0}")]
    Record(String),
    #[error("the migrations of `{app}` could not be read: {message}")]
    Source { app: String, message: String },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the migration task failed: {0}")]
    Task(String),
}

/// One migration of one app.
pub(crate) struct AppMigration {
    pub app: &'static str,
    /// `<version>_<name>`, the folder's name.
    pub name: String,
    pub version: String,
    migration: Box<dyn Migration<Backend>>,
}

/// A migration's state, for `migrate --list`.
pub(crate) struct Listed {
    pub app: &'static str,
    pub name: String,
    pub applied: bool,
}

/// The installed apps and every app's embedded migrations (from the registry): what
/// `migrate`, `check`, `serve --migrate` and the test server work from.
#[derive(Clone)]
pub(crate) struct Migrator {
    pub apps: Vec<AppInfo>,
    pub sources: Vec<(&'static str, &'static EmbeddedMigrations)>,
}

impl Migrator {
    /// Whether any app has migrations (a project without them never opens its database
    /// for them).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The apps' migrations in the order they apply: an app after the installed apps it
    /// depends on, then by app name; within an app, by version.
    pub fn all(&self) -> Result<Vec<AppMigration>, MigrateError> {
        all(&self.apps, &self.sources)
    }

    /// Every migration with whether it is applied.
    pub fn list(&self, conn: &mut SyncDb) -> Result<Vec<Listed>, MigrateError> {
        let done = applied(conn)?;
        Ok(self
            .all()?
            .into_iter()
            .map(|m| Listed {
                applied: done.contains(&(m.app.to_owned(), m.version.clone())),
                app: m.app,
                name: m.name,
            })
            .collect())
    }

    /// The migrations not applied yet, in order.
    pub fn pending(&self, conn: &mut SyncDb) -> Result<Vec<AppMigration>, MigrateError> {
        let done = applied(conn)?;
        Ok(self
            .all()?
            .into_iter()
            .filter(|m| !done.contains(&(m.app.to_owned(), m.version.clone())))
            .collect())
    }

    /// Applies every pending migration, each in its own transaction; stops at the first
    /// failure (what ran before it stays applied).
    pub fn migrate_all(&self, conn: &mut SyncDb) -> Result<Done, MigrateError> {
        locked(conn, |conn| {
            let mut done = Vec::new();
            for m in self.pending(conn)? {
                apply(conn, &m)?;
                done.push((m.app, m.name, true));
            }
            Ok(done)
        })
    }

    /// Moves one app to `target` (a version, or `zero` for none): applies its migrations
    /// up to it, or reverts (down.sql) those after it, newest first.
    pub fn migrate_app(
        &self,
        conn: &mut SyncDb,
        app: &str,
        target: &str,
    ) -> Result<Done, MigrateError> {
        let all = self.all()?;
        locked(conn, |conn| migrate_app(conn, all, app, target))
    }

    /// Moves one app to its last migration.
    pub fn migrate_app_to_last(&self, conn: &mut SyncDb, app: &str) -> Result<Done, MigrateError> {
        let last = self
            .all()?
            .into_iter()
            .filter(|m| m.app == app)
            .last()
            .map(|m| m.version);
        self.migrate_app(conn, app, last.as_deref().unwrap_or("zero"))
    }

    /// `app migration` for each migration not applied yet.
    pub async fn pending_names(&self, database: &Database) -> Result<Vec<String>, MigrateError> {
        let this = self.clone();
        with_sync_db(database, move |c| {
            Ok(this
                .pending(c)?
                .iter()
                .map(|m| format!("{} {}", m.app, m.name))
                .collect())
        })
        .await
    }
}

fn all(
    apps: &[AppInfo],
    sources: &[(&'static str, &'static EmbeddedMigrations)],
) -> Result<Vec<AppMigration>, MigrateError> {
    let mut by_app: BTreeMap<&'static str, Vec<AppMigration>> = BTreeMap::new();
    for &(app, migrations) in sources {
        let list = MigrationSource::<Backend>::migrations(migrations).map_err(|e| {
            MigrateError::Source {
                app: app.to_owned(),
                message: e.to_string(),
            }
        })?;
        let mut list: Vec<AppMigration> = list
            .into_iter()
            .map(|m| AppMigration {
                app,
                name: m.name().to_string(),
                version: m.name().version().to_string(),
                migration: m,
            })
            .collect();
        list.sort_by(|a, b| a.version.cmp(&b.version));
        // Two folders with one version: the record keys on (app, version), so the second
        // could never be applied; refused before anything runs.
        if let Some(pair) = list.windows(2).find(|w| w[0].version == w[1].version) {
            return Err(MigrateError::DuplicateVersion {
                app: app.to_owned(),
                version: pair[0].version.clone(),
                first: pair[0].name.clone(),
                second: pair[1].name.clone(),
            });
        }
        by_app.entry(app).or_default().extend(list);
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    fn visit(
        app: &'static str,
        apps: &[AppInfo],
        by_app: &BTreeMap<&'static str, Vec<AppMigration>>,
        done: &mut BTreeSet<&'static str>,
        order: &mut Vec<&'static str>,
    ) {
        if !done.insert(app) {
            return;
        }
        if let Some(info) = apps.iter().find(|a| a.name == app) {
            let mut deps: Vec<&'static str> = info.depends_on.to_vec();
            deps.sort_unstable();
            for dep in deps {
                if by_app.contains_key(dep) {
                    visit(dep, apps, by_app, done, order);
                }
            }
        }
        order.push(app);
    }
    let names: Vec<&'static str> = by_app.keys().copied().collect();
    for app in names {
        visit(app, apps, &by_app, &mut done, &mut order);
    }
    let mut out = Vec::new();
    for app in order {
        if let Some(list) = by_app.remove(app) {
            out.extend(list);
        }
    }
    Ok(out)
}

/// The key of the advisory lock `migrate` holds on PostgreSQL ("mango" in ASCII).
#[cfg(feature = "postgres")]
const MIGRATION_LOCK: i64 = 0x006d_616e_676f;

/// Runs `f` holding the migrations' lock. On PostgreSQL an advisory lock of the session:
/// a second `migrate` (a release step run on two replicas at once) waits for the first,
/// then finds nothing left to do; the lock goes with the connection if the process
/// dies. SQLite is one file on one machine, and its writers already wait for each other.
fn locked<T>(
    conn: &mut SyncDb,
    f: impl FnOnce(&mut SyncDb) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    #[cfg(feature = "postgres")]
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .map_err(record_err)?;
    let result = f(conn);
    #[cfg(feature = "postgres")]
    if let Err(e) = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")) {
        tracing::warn!(error = %e, "the migrations' lock could not be released (it goes with the connection)");
    }
    result
}

fn record_err(e: impl std::fmt::Display) -> MigrateError {
    MigrateError::Record(e.to_string())
}

/// The (app, version) pairs applied so far.
fn applied(conn: &mut SyncDb) -> Result<BTreeSet<(String, String)>, MigrateError> {
    conn.batch_execute(CREATE_RECORD).map_err(record_err)?;
    let rows: Vec<(String, String)> = __mango_migrations::table
        .select((__mango_migrations::app, __mango_migrations::version))
        .load(conn)
        .map_err(record_err)?;
    Ok(rows.into_iter().collect())
}

fn apply(conn: &mut SyncDb, m: &AppMigration) -> Result<(), MigrateError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        m.migration
            .run(conn)
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
        diesel::insert_into(__mango_migrations::table)
            .values((
                __mango_migrations::app.eq(m.app),
                __mango_migrations::version.eq(&m.version),
                __mango_migrations::name.eq(&m.name),
            ))
            .execute(conn)?;
        Ok(())
    })
    .map_err(|e| MigrateError::Failed {
        app: m.app.to_owned(),
        migration: m.name.clone(),
        message: e.to_string(),
    })
}

fn revert(conn: &mut SyncDb, m: &AppMigration) -> Result<(), MigrateError> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        m.migration
            .revert(conn)
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
        diesel::delete(
            __mango_migrations::table
                .filter(__mango_migrations::app.eq(m.app))
                .filter(__mango_migrations::version.eq(&m.version)),
        )
        .execute(conn)?;
        Ok(())
    })
    .map_err(|e| MigrateError::Failed {
        app: m.app.to_owned(),
        migration: format!("{} (down.sql)", m.name),
        message: e.to_string(),
    })
}

/// What a run did, in order: (app, migration, applied (true) or reverted (false)).
pub(crate) type Done = Vec<(&'static str, String, bool)>;

/// Moves one app to `target` (a version, or `zero` for none): applies its migrations up
/// to it, or reverts (down.sql) those after it, newest first.
fn migrate_app(
    conn: &mut SyncDb,
    all: Vec<AppMigration>,
    app: &str,
    target: &str,
) -> Result<Done, MigrateError> {
    let known: BTreeSet<&str> = all.iter().map(|m| m.app).collect();
    if !known.contains(app) {
        return Err(MigrateError::UnknownApp {
            app: app.to_owned(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let mine: Vec<AppMigration> = all.into_iter().filter(|m| m.app == app).collect();
    let target_index = if target == "zero" {
        None
    } else {
        // Diesel's version drops the folder name's dashes: accept either spelling.
        let bare = target.replace('-', "");
        match mine
            .iter()
            .position(|m| m.version == target || m.version == bare || m.name == target)
        {
            Some(i) => Some(i),
            None => {
                return Err(MigrateError::UnknownVersion {
                    app: app.to_owned(),
                    version: target.to_owned(),
                    known: mine
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    };
    let applied = applied(conn)?;
    let is_applied = |m: &AppMigration| applied.contains(&(m.app.to_owned(), m.version.clone()));
    let mut done = Vec::new();
    // Forward: everything up to the target that is not applied.
    if let Some(t) = target_index {
        for m in mine.iter().take(t + 1) {
            if !is_applied(m) {
                apply(conn, m)?;
                done.push((m.app, m.name.clone(), true));
            }
        }
    }
    // Back: everything after the target that is applied, newest first.
    let keep = target_index.map_or(0, |t| t + 1);
    for m in mine.iter().skip(keep).rev() {
        if is_applied(m) {
            revert(conn, m)?;
            done.push((m.app, m.name.clone(), false));
        }
    }
    Ok(done)
}

/// Runs `f` with a sync connection of its own (Diesel's migrations are sync), on a
/// blocking thread; the connection is closed afterwards, not returned to the pool.
pub(crate) async fn with_sync_db<T: Send + 'static>(
    database: &Database,
    f: impl FnOnce(&mut SyncDb) -> Result<T, MigrateError> + Send + 'static,
) -> Result<T, MigrateError> {
    let conn = diesel_async::pooled_connection::deadpool::Object::take(database.check().await?);
    tokio::task::spawn_blocking(move || {
        let mut conn = SyncDb::from(conn);
        f(&mut conn)
    })
    .await
    .map_err(|e| MigrateError::Task(e.to_string()))?
}

//! `migrate`: apply every app's pending migrations, list them, or move one app.

use mango_cli::MigrateArgs;

use super::write_stdout;
use crate::db::migrate::with_sync_db;
use crate::runtime::{Runtime, StartError};

pub(super) fn migrate(runtime: &Runtime, args: MigrateArgs) -> Result<(), StartError> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let migrator = runtime.migrator.clone();
    let database = runtime.database();
    tokio.block_on(async move {
        if args.list {
            let listed = with_sync_db(database, move |c| migrator.list(c)).await?;
            let mut text = String::new();
            let mut current = "";
            for m in &listed {
                if m.app != current {
                    text.push_str(&format!("{}\n", m.app));
                    current = m.app;
                }
                text.push_str(&format!(
                    " [{}] {}\n",
                    if m.applied { "X" } else { " " },
                    m.name
                ));
            }
            if listed.is_empty() {
                text.push_str("no app has migrations\n");
            }
            return write_stdout(&text);
        }
        let done = with_sync_db(database, move |c| match (&args.app, &args.target) {
            (Some(app), Some(target)) => migrator.migrate_app(c, app, target),
            (Some(app), None) => migrator.migrate_app_to_last(c, app),
            _ => migrator.migrate_all(c),
        })
        .await?;
        let mut text = format!("Database: {}\n", database.url);
        if done.is_empty() {
            text.push_str("No migrations to apply.\n");
        }
        for (app, name, forward) in &done {
            let verb = if *forward { "Applied" } else { "Reverted" };
            text.push_str(&format!("  {verb} {app} {name}\n"));
        }
        write_stdout(&text)
    })
}

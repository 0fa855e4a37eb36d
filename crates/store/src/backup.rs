//! Backups of the embedded default: one SQLite file holds everything the router cannot rebuild
//! (tickets and their event log, staff accounts, refresh tokens and API keys, KPI aggregates,
//! knowledge articles with their versions and feedback). The working set (queues, leases,
//! timers) and the knowledge search index are rebuilt from it when a router starts.
//!
//! - [`backup`] copies the database while routers use it: `VACUUM INTO` reads in one
//!   transaction, so the copy is the database as of one commit, and writers go on meanwhile
//!   (WAL). The copy is written beside its destination and renamed into place once it is
//!   complete, synced and checked, so a file at the destination is always a whole backup.
//! - [`restore`] checks a backup (a SQLite file, intact, with this project's migrations, not
//!   newer than this binary), refuses to replace a database unless told to and never one a
//!   router has open, and puts a compacted copy in place by rename.
//!
//! PostgreSQL deployments use `pg_dump` / `pg_restore` (README, Backups).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteLockingMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::StoreError;

/// The embedded default's database, inside the data directory.
pub const DATABASE_FILE: &str = "hotline.sqlite";

/// What a backup or a restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub path: PathBuf,
    pub bytes: u64,
    pub tickets: u64,
    pub events: u64,
    /// The newest migration the copy has.
    pub schema_version: i64,
}

fn refuse(message: impl Into<String>) -> StoreError {
    StoreError::Backup(message.into())
}

/// Copies the database of data directory `dir` to the new file `to`, while routers serve it.
pub async fn backup(dir: &Path, to: &Path) -> Result<Copied, StoreError> {
    let database = dir.join(DATABASE_FILE);
    if !database.is_file() {
        return Err(refuse(format!(
            "{} has no database ({DATABASE_FILE}) to back up; is --data-dir / HOTLINE_DATA_DIR right?",
            dir.display()
        )));
    }
    if to.exists() {
        return Err(refuse(format!(
            "{} already exists; a backup never overwrites a file, choose a new name",
            to.display()
        )));
    }
    let partial = partial_beside(to)?;
    // A file left by a backup that was interrupted is not a backup: start again.
    remove_if_present(&partial)?;
    // An ordinary connection, as a router's: it waits for a writer's lock like they do and
    // changes nothing in the file (no journal-mode switch, nothing created).
    let source = single_connection(
        SqliteConnectOptions::new()
            .filename(&database)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10)),
    )
    .await?;
    let copied = vacuum_into(&source, &partial).await;
    source.close().await;
    copied?;
    let checked = async {
        sync_file(&partial)?;
        let copy = open_copy(&partial).await?;
        let report = check(&copy, &partial, "quick_check").await;
        copy.close().await;
        report
    }
    .await;
    let report = match checked {
        Ok(report) => report,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    if to.exists() {
        let _ = std::fs::remove_file(&partial);
        return Err(refuse(format!(
            "{} appeared while the backup was written; the backup was not kept",
            to.display()
        )));
    }
    std::fs::rename(&partial, to)
        .map_err(|e| refuse(format!("putting the backup at {}: {e}", to.display())))?;
    sync_parent(to)?;
    Ok(Copied {
        path: to.to_path_buf(),
        ..report
    })
}

/// Puts the backup `from` in place as the database of data directory `dir`. A directory that
/// already has a database is refused unless `force`, and a database a router has open is
/// refused always. An older backup is fine: the next `serve` (or `hotline migrate`) migrates.
pub async fn restore(from: &Path, dir: &Path, force: bool) -> Result<Copied, StoreError> {
    if !from.exists() {
        return Err(refuse(format!("{} does not exist", from.display())));
    }
    if !from.is_file() {
        return Err(refuse(format!("{} is not a file", from.display())));
    }
    if !has_sqlite_header(from)? {
        return Err(refuse(format!(
            "{} is not a SQLite database, so not a backup from `hotline backup`",
            from.display()
        )));
    }
    let backup = open_copy(from).await?;
    let result = restore_from(&backup, from, dir, force).await;
    backup.close().await;
    result
}

async fn restore_from(
    backup: &SqlitePool,
    from: &Path,
    dir: &Path,
    force: bool,
) -> Result<Copied, StoreError> {
    // Every page, before anything in the data directory is touched.
    check(backup, from, "integrity_check").await?;
    std::fs::create_dir_all(dir)
        .map_err(|e| refuse(format!("cannot create {}: {e}", dir.display())))?;
    let target = dir.join(DATABASE_FILE);
    if target.exists() {
        if !force {
            return Err(refuse(format!(
                "{} already has a database; to replace it, stop the router and pass --force",
                dir.display()
            )));
        }
        if in_use(&target).await? {
            return Err(refuse(format!(
                "{} is open in a running router; stop it first (a restore replaces the file \
                 under it)",
                target.display()
            )));
        }
    }
    let partial = dir.join(format!(".{DATABASE_FILE}.restoring"));
    remove_if_present(&partial)?;
    // A compacted copy through SQLite rather than a file copy: it is self-contained (no
    // journal beside it) whatever state the backup file was kept in.
    if let Err(err) = vacuum_into(backup, &partial).await {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    sync_file(&partial)?;
    // The old database's journal and shared-memory index belong to it: left beside the new
    // file, SQLite would replay the old journal's pages into it.
    for stale in ["-wal", "-shm", "-journal"] {
        remove_if_present(&dir.join(format!("{DATABASE_FILE}{stale}")))?;
    }
    std::fs::rename(&partial, &target)
        .map_err(|e| refuse(format!("putting the backup in place: {e}")))?;
    sync_parent(&target)?;
    let restored = open_copy(&target).await?;
    let report = check(&restored, &target, "quick_check").await;
    restored.close().await;
    report
}

/// Whether a connection other than ours has the database open. In WAL mode every open
/// connection holds a shared lock on the file; an exclusive-locking connection cannot read
/// while one does, and waits for nobody here (no busy timeout).
async fn in_use(database: &Path) -> Result<bool, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .locking_mode(SqliteLockingMode::Exclusive)
        .busy_timeout(Duration::ZERO);
    let probe = async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let read = sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&pool)
            .await;
        pool.close().await;
        read.map(|_| ())
    };
    match probe.await {
        Ok(()) => Ok(false),
        Err(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("5" | "6" | "261" | "517")) =>
        {
            Ok(true)
        }
        // Whatever is there is not a database (a stray file): no router can have it open.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("26") => Ok(false),
        Err(err) => Err(refuse(format!(
            "cannot tell whether a router has {} open: {err}",
            database.display()
        ))),
    }
}

/// A backup file is read as it is: `immutable` takes no locks and makes no journal or
/// shared-memory file beside it, so a backup on read-only media restores too.
async fn open_copy(path: &Path) -> Result<SqlitePool, StoreError> {
    single_connection(
        SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .immutable(true)
            .create_if_missing(false),
    )
    .await
}

async fn single_connection(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

async fn vacuum_into(source: &SqlitePool, to: &Path) -> Result<(), StoreError> {
    let to = to
        .to_str()
        .ok_or_else(|| refuse(format!("{} is not a UTF-8 path", to.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(to)
        .execute(source)
        .await?;
    Ok(())
}

/// Runs SQLite's `check` (`integrity_check` reads every page and index; `quick_check` skips
/// the index contents) and that it is a hotline database this binary can serve; counts what
/// it holds.
async fn check(db: &SqlitePool, path: &Path, check: &str) -> Result<Copied, StoreError> {
    let problems: Vec<String> = sqlx::query(&format!("PRAGMA {check}(20)"))
        .fetch_all(db)
        .await
        .map_err(|e| {
            refuse(format!(
                "{} cannot be read as a SQLite database: {e}",
                path.display()
            ))
        })?
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    if problems != ["ok"] {
        return Err(refuse(format!(
            "{} is damaged (SQLite {check}): {}",
            path.display(),
            problems.join("; ")
        )));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(db)
            .await?;
    let hotline = ["_sqlx_migrations", "tickets", "ticket_events"]
        .iter()
        .all(|t| tables.iter().any(|have| have == t));
    if !hotline {
        return Err(refuse(format!(
            "{} is a SQLite database but not a hotline database (no migrations, tickets or \
             event log)",
            path.display()
        )));
    }
    let status = crate::sqlite::schema_status(db).await?;
    if status.applied.is_empty() {
        return Err(refuse(format!(
            "{} is not a hotline database (no migrations recorded)",
            path.display()
        )));
    }
    status.check_not_newer()?;
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(db)
            .await
            .map(|n| n as u64)
    };
    Ok(Copied {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        tickets: count("tickets").await?,
        events: count("ticket_events").await?,
        schema_version: status.version(),
    })
}

fn has_sqlite_header(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    match file.read_exact(&mut header) {
        Ok(()) => Ok(&header == b"SQLite format 3\0"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(refuse(format!("cannot read {}: {e}", path.display()))),
    }
}

/// `.<name>.partial` in the destination's directory: the rename into place stays on one file
/// system, so it is atomic.
fn partial_beside(to: &Path) -> Result<PathBuf, StoreError> {
    let name = to
        .file_name()
        .ok_or_else(|| refuse(format!("{} names no file", to.display())))?;
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(refuse(format!(
            "the directory {} does not exist",
            parent.display()
        )));
    }
    Ok(parent.join(format!(".{}.partial", name.to_string_lossy())))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refuse(format!("cannot remove {}: {e}", path.display()))),
    }
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| refuse(format!("syncing {}: {e}", path.display())))
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_file(parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use crate::TicketStore;

    async fn migrated_database(dir: &Path) -> crate::SqliteStore {
        crate::SqliteStore::open_dir(dir).await.unwrap()
    }

    #[tokio::test]
    async fn a_backup_restores_and_refuses_what_is_not_one() {
        let data = TempDir::new();
        let store = migrated_database(data.path()).await;
        let out = TempDir::new();
        let file = out.path().join("b.sqlite");
        let copied = backup(data.path(), &file).await.unwrap();
        assert_eq!(copied.path, file);
        assert!(copied.schema_version > 0);
        // No partial file is left beside it.
        let names: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b.sqlite"]);
        let again = backup(data.path(), &file).await.unwrap_err();
        assert!(again.to_string().contains("never overwrites"), "{again}");

        // Into a fresh directory: fine. Over it again: --force needed.
        let fresh = TempDir::new();
        restore(&file, fresh.path(), false).await.unwrap();
        let twice = restore(&file, fresh.path(), false).await.unwrap_err();
        assert!(twice.to_string().contains("--force"), "{twice}");
        restore(&file, fresh.path(), true).await.unwrap();

        // Over the live database: refused even with --force, and it is left as it was.
        let live = restore(&file, data.path(), true).await.unwrap_err();
        assert!(live.to_string().contains("running router"), "{live}");
        store.ping().await.unwrap();
        drop(store);

        let missing = restore(&out.path().join("nope.sqlite"), fresh.path(), true)
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");

        let text = out.path().join("notes.txt");
        std::fs::write(&text, "这不是数据库").unwrap();
        let not_sqlite = restore(&text, fresh.path(), true).await.unwrap_err();
        assert!(
            not_sqlite.to_string().contains("not a SQLite database"),
            "{not_sqlite}"
        );

        // A stray file where the database goes is replaced when forced: no router has it open.
        let stray = TempDir::new();
        std::fs::write(stray.path().join(DATABASE_FILE), "not a database").unwrap();
        restore(&file, stray.path(), true).await.unwrap();

        // A SQLite file of something else.
        let other = out.path().join("other.sqlite");
        let pool = single_connection(
            SqliteConnectOptions::new()
                .filename(&other)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        sqlx::query("CREATE TABLE notes (x TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let foreign = restore(&other, fresh.path(), true).await.unwrap_err();
        assert!(
            foreign.to_string().contains("not a hotline database"),
            "{foreign}"
        );

        // A backup from a newer release (a migration this binary does not know).
        let newer = out.path().join("newer.sqlite");
        std::fs::copy(&file, &newer).unwrap();
        let pool = single_connection(SqliteConnectOptions::new().filename(&newer))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99999, 'from the future', 1, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let future = restore(&newer, fresh.path(), true).await.unwrap_err();
        assert!(matches!(future, StoreError::SchemaNewer { .. }), "{future}");

        // A damaged file: the header is right, a page in the middle is not.
        let damaged = out.path().join("damaged.sqlite");
        let mut bytes = std::fs::read(&file).unwrap();
        let page = 4096;
        assert!(bytes.len() > 3 * page, "the backup has several pages");
        for b in &mut bytes[2 * page..3 * page] {
            *b = 0x5a;
        }
        std::fs::write(&damaged, bytes).unwrap();
        let broken = restore(&damaged, fresh.path(), true).await.unwrap_err();
        assert!(
            broken.to_string().contains("damaged") || broken.to_string().contains("cannot be read"),
            "{broken}"
        );
        // The refused restores left the last good one in place.
        let kept = open_copy(&fresh.path().join(DATABASE_FILE)).await.unwrap();
        check(&kept, &fresh.path().join(DATABASE_FILE), "integrity_check")
            .await
            .unwrap();
    }
}

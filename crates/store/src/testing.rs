//! Fresh databases for tests: one PostgreSQL database per test (random name), one SQLite file per
//! test. PostgreSQL is started if it is down, as DEVELOPERS.md asks of tests that need it.

use std::time::Duration;

use uuid::Uuid;

use crate::{PgStore, SqliteStore, StoreError};

/// The admin URL tests use to create databases; override with `HOTLINE_TEST_PG_URL`.
pub fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Starts the machine's PostgreSQL cluster if nothing answers on the admin URL.
pub async fn ensure_postgres() {
    if sqlx::PgPool::connect(&admin_url()).await.is_ok() {
        return;
    }
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut dirs| dirs.next())
        .and_then(|d| d.ok())
        .map(|d| d.file_name().to_string_lossy().into_owned());
    if let Some(version) = version {
        let _ = tokio::process::Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status()
            .await;
    }
    // Wait for it to accept connections (bounded: a test must not hang forever).
    for _ in 0..50 {
        if sqlx::PgPool::connect(&admin_url()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates a database with a random name and returns its URL.
pub async fn fresh_postgres_url() -> Result<String, StoreError> {
    ensure_postgres().await;
    let admin = sqlx::PgPool::connect(&admin_url()).await?;
    let name = format!("hotline_t_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let base = admin_url();
    let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(&base);
    Ok(format!("{prefix}/{name}"))
}

/// A migrated PostgreSQL store on a fresh database.
pub async fn fresh_postgres() -> Result<PgStore, StoreError> {
    PgStore::connect(&fresh_postgres_url().await?, 8).await
}

/// A migrated SQLite store in a fresh temporary directory (kept alive by the returned guard).
pub async fn fresh_sqlite() -> Result<(SqliteStore, TempDir), StoreError> {
    let dir = TempDir::new();
    let store = SqliteStore::open_dir(&dir.0).await?;
    Ok((store, dir))
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("hotline-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

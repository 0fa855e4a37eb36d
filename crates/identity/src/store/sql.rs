//! The SQL of the identity tables, written once and compiled for SQLite and PostgreSQL.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::{Channel, TicketId};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, Row, SqlitePool};

use super::{AccountStore, ApiKeyRecord, ContactAccess, ContactAccessQuery, RefreshRecord};
use crate::domain::{Account, AccountId, DisplayName, LoginName, Role, RpcName, Scope};
use crate::IdentityError;

// The same migration directories as the ticket store: whichever opens the database first
// creates every table, and the other finds them applied.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The identity tables in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteAccounts {
    pool: SqlitePool,
}

impl SqliteAccounts {
    /// Opens (creating if needed) `hotline.sqlite` in `dir`, the file `hotline serve` uses.
    pub async fn open_dir(dir: &Path) -> Result<Self, IdentityError> {
        std::fs::create_dir_all(dir).map_err(|source| IdentityError::Io {
            what: format!("creating data directory {}", dir.display()),
            source,
        })?;
        Self::open(SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"))).await
    }

    pub async fn open_url(url: &str) -> Result<Self, IdentityError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, IdentityError> {
        // The ticket store's settings, from the ticket store (one file, one set of settings).
        let pool = hotline_store::sqlite::connect(options, 2).await?;
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| IdentityError::Database(e.into()))?;
        Ok(Self { pool })
    }
}

/// The identity tables in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgAccounts {
    pool: PgPool,
}

impl PgAccounts {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, IdentityError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        PG_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| IdentityError::Database(e.into()))?;
        Ok(Self { pool })
    }

    /// Shares a pool the caller already has (the router's), migrations already run.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(value: i64) -> Result<DateTime<Utc>, IdentityError> {
    Utc.timestamp_millis_opt(value)
        .single()
        .ok_or_else(|| IdentityError::Corrupt(format!("instant {value} out of range")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Corrupt(format!("{what}: {e}"))
}

fn taken_or(e: sqlx::Error, login: &LoginName) -> IdentityError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            IdentityError::LoginTaken(login.as_str().to_owned())
        }
        _ => IdentityError::Database(e),
    }
}

const ACCOUNT_COLUMNS: &str = "id, login, display_name, role, scope, enabled, password_hash, \
     failed_logins, locked_until, token_version, created_at";
const KEY_COLUMNS: &str =
    "id, account_id, key_hash, channels, rpcs, per_minute, created_at, revoked_at";

macro_rules! sql_store {
    ($store:ident, $row:ty) => {
        fn account_from_row(row: &$row) -> Result<Account, IdentityError> {
            let role: String = row.try_get("role")?;
            let scope: String = row.try_get("scope")?;
            Ok(Account {
                id: AccountId::parse("accounts.id", &row.try_get::<String, _>("id")?)
                    .map_err(|e| corrupt("accounts.id", e.message))?,
                login: LoginName::parse("accounts.login", &row.try_get::<String, _>("login")?)
                    .map_err(|e| corrupt("accounts.login", e.message))?,
                display_name: DisplayName::parse(
                    "accounts.display_name",
                    &row.try_get::<String, _>("display_name")?,
                )
                .map_err(|e| corrupt("accounts.display_name", e.message))?,
                role: Role::parse("accounts.role", &role)
                    .map_err(|e| corrupt("accounts.role", e.message))?,
                scope: serde_json::from_str::<Scope>(&scope)
                    .map_err(|e| corrupt("accounts.scope", e))?,
                enabled: row.try_get("enabled")?,
                password_hash: row.try_get("password_hash")?,
                failed_logins: u32::try_from(row.try_get::<i64, _>("failed_logins")?)
                    .map_err(|e| corrupt("accounts.failed_logins", e))?,
                locked_until: row
                    .try_get::<Option<i64>, _>("locked_until")?
                    .map(from_ms)
                    .transpose()?,
                token_version: row.try_get("token_version")?,
                created_at: from_ms(row.try_get("created_at")?)?,
            })
        }

        fn refresh_from_row(row: &$row) -> Result<RefreshRecord, IdentityError> {
            Ok(RefreshRecord {
                token_hash: row.try_get("token_hash")?,
                account: AccountId::parse(
                    "refresh_tokens.account_id",
                    &row.try_get::<String, _>("account_id")?,
                )
                .map_err(|e| corrupt("refresh_tokens.account_id", e.message))?,
                issued_at: from_ms(row.try_get("issued_at")?)?,
                expires_at: from_ms(row.try_get("expires_at")?)?,
                revoked_at: row
                    .try_get::<Option<i64>, _>("revoked_at")?
                    .map(from_ms)
                    .transpose()?,
            })
        }

        fn key_from_row(row: &$row) -> Result<ApiKeyRecord, IdentityError> {
            let channels: Vec<String> =
                serde_json::from_str(&row.try_get::<String, _>("channels")?)
                    .map_err(|e| corrupt("api_keys.channels", e))?;
            let rpcs: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("rpcs")?)
                .map_err(|e| corrupt("api_keys.rpcs", e))?;
            Ok(ApiKeyRecord {
                id: row.try_get("id")?,
                account: AccountId::parse(
                    "api_keys.account_id",
                    &row.try_get::<String, _>("account_id")?,
                )
                .map_err(|e| corrupt("api_keys.account_id", e.message))?,
                key_hash: row.try_get("key_hash")?,
                channels: channels
                    .iter()
                    .map(|c| Channel::parse("api_keys.channels", c))
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt("api_keys.channels", e.message))?,
                rpcs: rpcs
                    .iter()
                    .map(|r| RpcName::parse("api_keys.rpcs", r))
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt("api_keys.rpcs", e.message))?,
                per_minute: u32::try_from(row.try_get::<i64, _>("per_minute")?)
                    .map_err(|e| corrupt("api_keys.per_minute", e))?,
                created_at: from_ms(row.try_get("created_at")?)?,
                revoked_at: row
                    .try_get::<Option<i64>, _>("revoked_at")?
                    .map(from_ms)
                    .transpose()?,
            })
        }

        #[async_trait]
        impl AccountStore for $store {
            async fn count_accounts(&self) -> Result<u64, IdentityError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn create_account(&self, a: &Account) -> Result<(), IdentityError> {
                let scope =
                    serde_json::to_string(&a.scope).map_err(|e| corrupt("encoding scope", e))?;
                sqlx::query(&format!(
                    "INSERT INTO accounts ({ACCOUNT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(a.id.to_string())
                .bind(a.login.as_str())
                .bind(a.display_name.as_str())
                .bind(a.role.code())
                .bind(scope)
                .bind(a.enabled)
                .bind(&a.password_hash)
                .bind(i64::from(a.failed_logins))
                .bind(a.locked_until.map(ms))
                .bind(a.token_version)
                .bind(ms(a.created_at))
                .execute(&self.pool)
                .await
                .map_err(|e| taken_or(e, &a.login))?;
                Ok(())
            }

            async fn account(&self, id: AccountId) -> Result<Option<Account>, IdentityError> {
                sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(account_from_row)
                .transpose()
            }

            async fn account_by_login(
                &self,
                login: &LoginName,
            ) -> Result<Option<Account>, IdentityError> {
                sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = $1"
                ))
                .bind(login.as_str())
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(account_from_row)
                .transpose()
            }

            async fn list_accounts(&self) -> Result<Vec<Account>, IdentityError> {
                sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY login"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(account_from_row)
                .collect()
            }

            async fn set_enabled(
                &self,
                id: AccountId,
                enabled: bool,
            ) -> Result<bool, IdentityError> {
                let done = sqlx::query(
                    "UPDATE accounts SET enabled = $2, token_version = token_version + 1 \
                     WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(enabled)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_password(
                &self,
                id: AccountId,
                password_hash: &str,
            ) -> Result<bool, IdentityError> {
                let done = sqlx::query(
                    "UPDATE accounts SET password_hash = $2, failed_logins = 0, \
                     locked_until = NULL, token_version = token_version + 1 WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(password_hash)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_failed_login(
                &self,
                id: AccountId,
                max_failures: u32,
                lock_until: DateTime<Utc>,
            ) -> Result<(), IdentityError> {
                // Right-hand sides read the row as it was, in both databases.
                sqlx::query(
                    "UPDATE accounts SET \
                     failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 \
                                          ELSE failed_logins + 1 END, \
                     locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 \
                                         ELSE locked_until END \
                     WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(i64::from(max_failures))
                .bind(ms(lock_until))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn record_login(&self, id: AccountId) -> Result<(), IdentityError> {
                sqlx::query(
                    "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1",
                )
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn bump_token_version(&self, id: AccountId) -> Result<bool, IdentityError> {
                let done = sqlx::query(
                    "UPDATE accounts SET token_version = token_version + 1 WHERE id = $1",
                )
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_account(&self, id: AccountId) -> Result<bool, IdentityError> {
                let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_refresh(&self, t: &RefreshRecord) -> Result<(), IdentityError> {
                sqlx::query(
                    "INSERT INTO refresh_tokens \
                     (token_hash, account_id, issued_at, expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&t.token_hash)
                .bind(t.account.to_string())
                .bind(ms(t.issued_at))
                .bind(ms(t.expires_at))
                .bind(t.revoked_at.map(ms))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn refresh_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<RefreshRecord>, IdentityError> {
                sqlx::query(
                    "SELECT token_hash, account_id, issued_at, expires_at, revoked_at \
                     FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(refresh_from_row)
                .transpose()
            }

            async fn revoke_refresh(
                &self,
                token_hash: &str,
                at: DateTime<Utc>,
            ) -> Result<bool, IdentityError> {
                let done = sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $2 \
                     WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .bind(ms(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_all_refresh(
                &self,
                id: AccountId,
                at: DateTime<Utc>,
            ) -> Result<u64, IdentityError> {
                let done = sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $2 \
                     WHERE account_id = $1 AND revoked_at IS NULL",
                )
                .bind(id.to_string())
                .bind(ms(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<(), IdentityError> {
                let channels: Vec<&str> = k.channels.iter().map(|c| c.code()).collect();
                let rpcs: Vec<&str> = k.rpcs.iter().map(RpcName::as_str).collect();
                sqlx::query(&format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&k.id)
                .bind(k.account.to_string())
                .bind(&k.key_hash)
                .bind(serde_json::to_string(&channels).map_err(|e| corrupt("channels", e))?)
                .bind(serde_json::to_string(&rpcs).map_err(|e| corrupt("rpcs", e))?)
                .bind(i64::from(k.per_minute))
                .bind(ms(k.created_at))
                .bind(k.revoked_at.map(ms))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn api_key_by_hash(
                &self,
                key_hash: &str,
            ) -> Result<Option<ApiKeyRecord>, IdentityError> {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
                ))
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(key_from_row)
                .transpose()
            }

            async fn api_keys(&self, id: AccountId) -> Result<Vec<ApiKeyRecord>, IdentityError> {
                sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE account_id = $1 \
                     ORDER BY created_at, id"
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(key_from_row)
                .collect()
            }

            async fn revoke_api_key(
                &self,
                key_id: &str,
                at: DateTime<Utc>,
            ) -> Result<bool, IdentityError> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(key_id)
                .bind(ms(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn log_contact_access(&self, e: &ContactAccess) -> Result<(), IdentityError> {
                sqlx::query(
                    "INSERT INTO contact_access_log (account_id, ticket_id, at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(e.account.to_string())
                .bind(e.ticket.to_string())
                .bind(ms(e.at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn contact_accesses(
                &self,
                q: &ContactAccessQuery,
            ) -> Result<Vec<ContactAccess>, IdentityError> {
                // The CASTs give PostgreSQL a type for a NULL parameter; SQLite accepts them too.
                let rows = sqlx::query(
                    "SELECT account_id, ticket_id, at FROM contact_access_log \
                     WHERE (CAST($1 AS TEXT) IS NULL OR ticket_id = CAST($1 AS TEXT)) \
                       AND (CAST($2 AS TEXT) IS NULL OR account_id = CAST($2 AS TEXT)) \
                       AND (CAST($3 AS BIGINT) IS NULL OR at >= CAST($3 AS BIGINT)) \
                       AND (CAST($4 AS BIGINT) IS NULL OR at < CAST($4 AS BIGINT)) \
                     ORDER BY at, id LIMIT $5",
                )
                .bind(q.ticket.map(|t| t.to_string()))
                .bind(q.account.map(|a| a.to_string()))
                .bind(q.since.map(ms))
                .bind(q.until.map(ms))
                .bind(i64::from(if q.limit == 0 { 1000 } else { q.limit }))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(ContactAccess {
                            account: AccountId::parse(
                                "contact_access_log.account_id",
                                &row.try_get::<String, _>("account_id")?,
                            )
                            .map_err(|e| corrupt("contact_access_log.account_id", e.message))?,
                            ticket: TicketId::parse(
                                "contact_access_log.ticket_id",
                                &row.try_get::<String, _>("ticket_id")?,
                            )
                            .map_err(|e| corrupt("contact_access_log.ticket_id", e.message))?,
                            at: from_ms(row.try_get("at")?)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

mod sqlite_impl {
    use super::*;
    sql_store!(SqliteAccounts, sqlx::sqlite::SqliteRow);
}

mod pg_impl {
    use super::*;
    sql_store!(PgAccounts, sqlx::postgres::PgRow);
}

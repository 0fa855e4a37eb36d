//! The identity tables behind one trait, [`AccountStore`], with a SQLite and a PostgreSQL
//! implementation generated from the same SQL (numbered `$n` parameters and BIGINT
//! milliseconds work in both), so the two cannot drift apart. The tables come from migration
//! 0006 in `migrations/`, run by the same migrator as the ticket store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hotline_core::{Channel, TicketId};

use crate::domain::{Account, AccountId, LoginName, RpcName};
use crate::IdentityError;

mod sql;

pub use sql::{PgAccounts, SqliteAccounts};

/// A refresh token as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub account: AccountId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An integrator API key as stored: its hash, its grant and its rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id, shown in listings and used to revoke; also the key's visible prefix.
    pub id: String,
    pub account: AccountId,
    pub key_hash: String,
    pub channels: Vec<Channel>,
    pub rpcs: Vec<RpcName>,
    pub per_minute: u32,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One read of a caller's unmasked contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactAccess {
    pub account: AccountId,
    pub ticket: TicketId,
    pub at: DateTime<Utc>,
}

/// Which access-log entries a supervisor asks for; every filter optional. Oldest first.
#[derive(Debug, Clone, Default)]
pub struct ContactAccessQuery {
    pub ticket: Option<TicketId>,
    pub account: Option<AccountId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    async fn count_accounts(&self) -> Result<u64, IdentityError>;
    /// [`IdentityError::LoginTaken`] when the login name is in use.
    async fn create_account(&self, account: &Account) -> Result<(), IdentityError>;
    async fn account(&self, id: AccountId) -> Result<Option<Account>, IdentityError>;
    async fn account_by_login(&self, login: &LoginName) -> Result<Option<Account>, IdentityError>;
    /// Every account, by login name.
    async fn list_accounts(&self) -> Result<Vec<Account>, IdentityError>;
    /// Enables or disables; either way bumps the token version, so tokens issued before a
    /// disable never come back to life on re-enable. False when there is no such account.
    async fn set_enabled(&self, id: AccountId, enabled: bool) -> Result<bool, IdentityError>;
    /// Sets a new hash, clears failures and lock, and revokes every access token.
    async fn set_password(&self, id: AccountId, password_hash: &str)
        -> Result<bool, IdentityError>;
    /// Counts one failed login; on the `max_failures`th in a row locks the account until
    /// `lock_until` and starts counting again. Atomic, so parallel guesses are all counted.
    async fn record_failed_login(
        &self,
        id: AccountId,
        max_failures: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<(), IdentityError>;
    /// A successful login: clears the failure count and any expired lock.
    async fn record_login(&self, id: AccountId) -> Result<(), IdentityError>;
    /// Revokes every access token of the account (logout everywhere).
    async fn bump_token_version(&self, id: AccountId) -> Result<bool, IdentityError>;
    /// Deletes the account with its refresh tokens and keys; the access log stays.
    async fn delete_account(&self, id: AccountId) -> Result<bool, IdentityError>;

    async fn insert_refresh(&self, token: &RefreshRecord) -> Result<(), IdentityError>;
    async fn refresh_token(&self, token_hash: &str)
        -> Result<Option<RefreshRecord>, IdentityError>;
    /// Marks a live token used/revoked. True only for the one caller that revoked it, so two
    /// concurrent refreshes with one token cannot both succeed.
    async fn revoke_refresh(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, IdentityError>;
    async fn revoke_all_refresh(
        &self,
        id: AccountId,
        at: DateTime<Utc>,
    ) -> Result<u64, IdentityError>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), IdentityError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, IdentityError>;
    async fn api_keys(&self, id: AccountId) -> Result<Vec<ApiKeyRecord>, IdentityError>;
    async fn revoke_api_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, IdentityError>;

    async fn log_contact_access(&self, entry: &ContactAccess) -> Result<(), IdentityError>;
    async fn contact_accesses(
        &self,
        query: &ContactAccessQuery,
    ) -> Result<Vec<ContactAccess>, IdentityError>;
}

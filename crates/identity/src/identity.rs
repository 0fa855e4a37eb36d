//! [`Identity`]: accounts, login with lockout, token issue/refresh/revoke, integrator keys and
//! the contact access log, over an [`AccountStore`], a [`KeyRing`] and an injected clock. It is
//! the [`Authenticator`] the gRPC layer will call once per request.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hotline_core::{Channel, Clock, TicketId};

use crate::bootstrap::InitialAdmin;
use crate::domain::{
    Account, AccountId, CredentialKind, DisplayName, LoginName, Password, Principal, Role, RpcName,
    Scope,
};
use crate::keys::KeyRing;
use crate::password::{decoy_hash, hash_password, random_secret, secret_hash, verify_password};
use crate::ratelimit::RateLimits;
use crate::store::{AccountStore, ApiKeyRecord, ContactAccess, ContactAccessQuery, RefreshRecord};
use crate::{metrics, tokens, IdentityError};

/// API keys start with this, so a key pasted where a token belongs is recognised.
pub const API_KEY_PREFIX: &str = "hk_";

/// A credential as presented.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token (JWT) from [`Identity::login`] or [`Identity::refresh`].
    Bearer(String),
    /// An integrator API key (`hk_...`).
    ApiKey(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Bearer(***)"),
            Credential::ApiKey(_) => f.write_str("ApiKey(***)"),
        }
    }
}

impl Credential {
    /// From an `authorization` header value: `Bearer <token>`; an API key may come as
    /// `Bearer hk_...` too (many HTTP clients only know bearer auth).
    pub fn from_authorization(value: &str) -> Result<Self, IdentityError> {
        let value = value.trim();
        let (scheme, rest) = value
            .split_once(' ')
            .ok_or(IdentityError::MissingCredential)?;
        if !scheme.eq_ignore_ascii_case("bearer") || rest.trim().is_empty() {
            return Err(IdentityError::MissingCredential);
        }
        let secret = rest.trim().to_owned();
        Ok(if secret.starts_with(API_KEY_PREFIX) {
            Credential::ApiKey(secret)
        } else {
            Credential::Bearer(secret)
        })
    }
}

/// Turns a credential into the principal that acts. Errors map to UNAUTHENTICATED (no or bad
/// credential), PERMISSION_DENIED or RESOURCE_EXHAUSTED (rate limit) via
/// [`IdentityError::code`].
#[async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(&self, credential: &Credential) -> Result<Principal, IdentityError>;
}

#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Failed logins in a row before the account locks.
    pub max_failures: u32,
    pub lockout: Duration,
    /// How long an authenticated account is trusted without reading the store again. A change
    /// made through this process (disable, password, revoke) applies at once; one made by
    /// another replica or offline applies within this time.
    pub account_cache: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(14),
            max_failures: 5,
            lockout: Duration::minutes(15),
            account_cache: Duration::seconds(5),
        }
    }
}

/// What a login or refresh hands out.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub principal: Principal,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// A new account, validated.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub login: LoginName,
    pub display_name: DisplayName,
    pub role: Role,
    pub scope: Scope,
    pub password: Password,
}

/// An API key just issued: `key` is shown once and never again.
#[derive(Clone)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub record: ApiKeyRecord,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("id", &self.id)
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// The grant of a new API key.
#[derive(Debug, Clone)]
pub struct ApiKeyGrant {
    pub channels: Vec<Channel>,
    pub rpcs: Vec<RpcName>,
    pub per_minute: u32,
}

pub struct Identity {
    store: Arc<dyn AccountStore>,
    clock: Arc<dyn Clock>,
    keys: KeyRing,
    config: IdentityConfig,
    limits: RateLimits,
    /// Accounts recently read for authentication, with when they were read: a request should
    /// not cost a database round trip to say who sent it.
    cache: std::sync::Mutex<std::collections::HashMap<AccountId, (Account, DateTime<Utc>)>>,
    /// API keys recently looked up, by hash, likewise.
    key_cache: std::sync::Mutex<std::collections::HashMap<String, (ApiKeyRecord, DateTime<Utc>)>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("store", &self.store)
            .field("kids", &self.keys.kids())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn principal(account: &Account, via: CredentialKind) -> Principal {
    Principal {
        account: account.id,
        login: account.login.clone(),
        display_name: account.display_name.as_str().to_owned(),
        role: account.role,
        scope: account.scope.clone(),
        via,
    }
}

impl Identity {
    pub fn new(
        store: Arc<dyn AccountStore>,
        clock: Arc<dyn Clock>,
        keys: KeyRing,
        config: IdentityConfig,
    ) -> Self {
        let limits = RateLimits::new(Arc::clone(&clock));
        Self {
            store,
            clock,
            keys,
            config,
            limits,
            cache: Default::default(),
            key_cache: Default::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    pub async fn add_account(&self, new: NewAccount) -> Result<Account, IdentityError> {
        new.scope.check_for(new.role)?;
        let account = Account {
            id: AccountId::new(),
            login: new.login,
            display_name: new.display_name,
            role: new.role,
            scope: new.scope,
            enabled: true,
            password_hash: hash_password(&new.password)?,
            failed_logins: 0,
            locked_until: None,
            token_version: 0,
            created_at: self.clock.now(),
        };
        self.store.create_account(&account).await?;
        Ok(account)
    }

    async fn require(&self, login: &LoginName) -> Result<Account, IdentityError> {
        self.store
            .account_by_login(login)
            .await?
            .ok_or_else(|| IdentityError::NoSuchAccount(login.as_str().to_owned()))
    }

    /// On an empty store, creates `admin` (administrator, the centre) with a random password and
    /// returns it once; otherwise `None`. Two replicas starting together: one creates it.
    pub async fn bootstrap_admin(&self) -> Result<Option<InitialAdmin>, IdentityError> {
        if self.store.count_accounts().await? > 0 {
            return Ok(None);
        }
        let password = random_secret(18);
        let new = NewAccount {
            login: LoginName::parse("login", "admin")?,
            display_name: DisplayName::parse("display_name", "Administrator")?,
            role: Role::Administrator,
            scope: Scope::Centre,
            password: Password::parse("password", &password)?,
        };
        match self.add_account(new).await {
            Ok(account) => Ok(Some(InitialAdmin {
                login: account.login.as_str().to_owned(),
                password,
            })),
            Err(IdentityError::LoginTaken(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks the password, with lockout: after `max_failures` wrong passwords in a row the
    /// account is locked for `lockout`, and even the right password is refused until then.
    pub async fn login(&self, login: &str, password: &str) -> Result<Tokens, IdentityError> {
        let result = self.try_login(login, password).await;
        metrics::login(match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        });
        result
    }

    async fn try_login(&self, login: &str, password: &str) -> Result<Tokens, IdentityError> {
        if password.len() > Password::MAX_BYTES {
            Password::parse("password", password)?;
        }
        let now = self.clock.now();
        let Some(login) = LoginName::parse("login", login).ok() else {
            return Err(IdentityError::InvalidCredentials);
        };
        let Some(account) = self.store.account_by_login(&login).await? else {
            // Same work as a wrong password, so timing does not tell which names exist.
            let _ = verify_password(password, decoy_hash());
            return Err(IdentityError::InvalidCredentials);
        };
        if let Some(until) = account.locked_until.filter(|until| *until > now) {
            return Err(IdentityError::Locked { until });
        }
        if !verify_password(password, &account.password_hash)? {
            self.store
                .record_failed_login(
                    account.id,
                    self.config.max_failures,
                    now + self.config.lockout,
                )
                .await?;
            return Err(IdentityError::InvalidCredentials);
        }
        if !account.enabled {
            return Err(IdentityError::AccountDisabled);
        }
        if account.failed_logins > 0 || account.locked_until.is_some() {
            self.store.record_login(account.id).await?;
        }
        self.issue(&account, now).await
    }

    async fn issue(&self, account: &Account, now: DateTime<Utc>) -> Result<Tokens, IdentityError> {
        let claims = tokens::Claims::for_account(account, now, self.config.access_ttl);
        let access_token = tokens::sign(&self.keys, &claims)?;
        let refresh_token = random_secret(32);
        let refresh_expires_at = now + self.config.refresh_ttl;
        self.store
            .insert_refresh(&RefreshRecord {
                token_hash: secret_hash(&refresh_token),
                account: account.id,
                issued_at: now,
                expires_at: refresh_expires_at,
                revoked_at: None,
            })
            .await?;
        Ok(Tokens {
            access_token,
            access_expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
            refresh_token,
            refresh_expires_at,
            principal: principal(account, CredentialKind::AccessToken),
        })
    }

    /// Trades a refresh token for new tokens; the old refresh token is used up (rotation), so a
    /// stolen one works at most once, and not after its owner has used it.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, IdentityError> {
        let now = self.clock.now();
        let hash = secret_hash(refresh_token);
        let record = self
            .store
            .refresh_token(&hash)
            .await?
            .ok_or(IdentityError::RefreshRevoked)?;
        if record.revoked_at.is_some() {
            return Err(IdentityError::RefreshRevoked);
        }
        if record.expires_at <= now {
            return Err(IdentityError::RefreshExpired {
                at: record.expires_at,
            });
        }
        if !self.store.revoke_refresh(&hash, now).await? {
            return Err(IdentityError::RefreshRevoked);
        }
        let account = self.live_account(record.account).await?;
        self.issue(&account, now).await
    }

    /// Ends one session: its refresh token stops working. Access tokens run out on their own
    /// (minutes); [`Identity::revoke_all`] also ends those.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        self.store
            .revoke_refresh(&secret_hash(refresh_token), self.clock.now())
            .await?;
        Ok(())
    }

    /// Every token of the account stops working now.
    fn forget(&self, id: AccountId) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    /// The account for authentication: from the cache while fresh, else from the store.
    async fn cached_account(&self, id: AccountId) -> Result<Account, IdentityError> {
        let now = self.clock.now();
        let fresh = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .filter(|(_, at)| now - *at < self.config.account_cache)
            .map(|(account, _)| account.clone());
        let account = match fresh {
            Some(account) => account,
            None => {
                let account = self
                    .store
                    .account(id)
                    .await?
                    .ok_or(IdentityError::AccountDeleted)?;
                let mut cache = self
                    .cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(id, (account.clone(), now));
                account
            }
        };
        if !account.enabled {
            return Err(IdentityError::AccountDisabled);
        }
        Ok(account)
    }

    pub async fn revoke_all(&self, id: AccountId) -> Result<(), IdentityError> {
        self.forget(id);
        self.store.bump_token_version(id).await?;
        self.store.revoke_all_refresh(id, self.clock.now()).await?;
        Ok(())
    }

    async fn live_account(&self, id: AccountId) -> Result<Account, IdentityError> {
        let account = self
            .store
            .account(id)
            .await?
            .ok_or(IdentityError::AccountDeleted)?;
        if !account.enabled {
            return Err(IdentityError::AccountDisabled);
        }
        Ok(account)
    }

    pub async fn set_password(
        &self,
        login: &LoginName,
        password: &Password,
    ) -> Result<(), IdentityError> {
        let account = self.require(login).await?;
        self.store
            .set_password(account.id, &hash_password(password)?)
            .await?;
        self.forget(account.id);
        self.store
            .revoke_all_refresh(account.id, self.clock.now())
            .await?;
        Ok(())
    }

    pub async fn set_enabled(
        &self,
        login: &LoginName,
        enabled: bool,
    ) -> Result<Account, IdentityError> {
        let account = self.require(login).await?;
        self.store.set_enabled(account.id, enabled).await?;
        self.forget(account.id);
        if !enabled {
            self.store
                .revoke_all_refresh(account.id, self.clock.now())
                .await?;
        }
        self.require(login).await
    }

    pub async fn delete_account(&self, login: &LoginName) -> Result<(), IdentityError> {
        let account = self.require(login).await?;
        self.store.delete_account(account.id).await?;
        self.forget(account.id);
        Ok(())
    }

    /// Issues an API key for an integrator account. The grant must lie inside the account's
    /// scope (channels and RPCs it was given).
    pub async fn issue_api_key(
        &self,
        login: &LoginName,
        grant: ApiKeyGrant,
    ) -> Result<IssuedKey, IdentityError> {
        let account = self.require(login).await?;
        let Scope::Integrator { channels, rpcs } = &account.scope else {
            return Err(IdentityError::Invalid(hotline_core::InvalidInput::new(
                "login",
                format!(
                    "{login} is a {} account; API keys are for integrators",
                    account.role.code()
                ),
            )));
        };
        if grant.per_minute == 0 {
            return Err(hotline_core::InvalidInput::new(
                "per_minute",
                "a rate limit is at least 1 a minute",
            )
            .into());
        }
        if grant.channels.is_empty() || grant.rpcs.is_empty() {
            return Err(hotline_core::InvalidInput::new(
                "grant",
                "a key names at least one channel and one RPC",
            )
            .into());
        }
        if let Some(c) = grant.channels.iter().find(|c| !channels.contains(c)) {
            return Err(hotline_core::InvalidInput::new(
                "channel",
                format!("{login} may not submit for channel {}", c.code()),
            )
            .into());
        }
        if let Some(r) = grant.rpcs.iter().find(|r| !rpcs.contains(r)) {
            return Err(hotline_core::InvalidInput::new(
                "rpc",
                format!("{login} may not call {}", r.as_str()),
            )
            .into());
        }
        // Hex, not base64url: an id that starts with `-` would read as a flag on a command line
        // (`hotline staff revoke-key -x…`).
        let id = hex::encode(rand::random::<[u8; 6]>());
        let key = format!("{API_KEY_PREFIX}{id}_{}", random_secret(32));
        let record = ApiKeyRecord {
            id: id.clone(),
            account: account.id,
            key_hash: secret_hash(&key),
            channels: grant.channels,
            rpcs: grant.rpcs,
            per_minute: grant.per_minute,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.insert_api_key(&record).await?;
        Ok(IssuedKey { id, key, record })
    }

    pub async fn revoke_api_key(&self, key_id: &str) -> Result<bool, IdentityError> {
        self.key_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.store.revoke_api_key(key_id, self.clock.now()).await
    }

    /// Records that `reader` saw the caller's unmasked contact on `ticket`.
    pub async fn log_contact_access(
        &self,
        reader: &Principal,
        ticket: TicketId,
    ) -> Result<(), IdentityError> {
        self.store
            .log_contact_access(&ContactAccess {
                account: reader.account,
                ticket,
                at: self.clock.now(),
            })
            .await?;
        metrics::contact_read();
        Ok(())
    }

    pub async fn contact_accesses(
        &self,
        query: &ContactAccessQuery,
    ) -> Result<Vec<ContactAccess>, IdentityError> {
        self.store.contact_accesses(query).await
    }

    async fn authenticate_token(&self, token: &str) -> Result<Principal, IdentityError> {
        let claims = tokens::verify(&self.keys, token, self.clock.now())?;
        let id = AccountId::parse("sub", &claims.sub).map_err(|_| IdentityError::TokenForged)?;
        let account = self.cached_account(id).await?;
        if account.token_version != claims.tv {
            return Err(IdentityError::TokenRevoked);
        }
        // The store's role and scope, not the token's: a change applies at once.
        Ok(principal(&account, CredentialKind::AccessToken))
    }

    async fn authenticate_key(&self, key: &str) -> Result<Principal, IdentityError> {
        let hash = secret_hash(key);
        let now = self.clock.now();
        let cached = self
            .key_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&hash)
            .filter(|(_, at)| now - *at < self.config.account_cache)
            .map(|(record, _)| record.clone());
        let record = match cached {
            Some(record) => record,
            None => {
                let record = self
                    .store
                    .api_key_by_hash(&hash)
                    .await?
                    .ok_or(IdentityError::ApiKeyInvalid)?;
                let mut cache = self
                    .key_cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(hash, (record.clone(), now));
                record
            }
        };
        if record.revoked_at.is_some() {
            return Err(IdentityError::ApiKeyInvalid);
        }
        let account = self.cached_account(record.account).await?;
        self.limits.check(&record.id, record.per_minute)?;
        let mut principal = principal(&account, CredentialKind::ApiKey);
        principal.scope = Scope::Integrator {
            channels: record.channels,
            rpcs: record.rpcs,
        };
        Ok(principal)
    }
}

#[async_trait]
impl Authenticator for Identity {
    async fn authenticate(&self, credential: &Credential) -> Result<Principal, IdentityError> {
        let (via, result) = match credential {
            Credential::Bearer(token) => ("token", self.authenticate_token(token).await),
            Credential::ApiKey(key) => ("api_key", self.authenticate_key(key).await),
        };
        metrics::authentication(
            via,
            match &result {
                Ok(_) => "ok",
                Err(e) => e.label(),
            },
        );
        result
    }
}

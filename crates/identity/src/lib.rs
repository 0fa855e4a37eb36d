//! Identity and access for the 12345 router: who acts is proven by a credential, never declared
//! in the request. This crate holds the accounts, checks passwords and tokens and API keys, and
//! turns a credential into a [`Principal`]; the gRPC layer (a tower layer in the router) calls
//! [`Authenticator::authenticate`] once per request and maps [`IdentityError::code`] to a status.
//! Ticket-level scope rules (which station sees which ticket) are the engine's, not this crate's.
//!
//! # Layout
//! - [`domain`]: [`Role`], [`Scope`], [`Territory`], [`Account`], [`Principal`] and the validated
//!   values ([`LoginName`], [`DisplayName`], [`Password`] of at most 256 bytes, [`RpcName`]).
//! - [`password`]: argon2id hashing, random secrets and their SHA-256 hashes.
//! - [`keys`]: the signing-key file ([`KeyRing`]): several keys with ids, the newest signs.
//! - [`tokens`]: access-token claims, signing and verification (JWT, HS256).
//! - [`ratelimit`]: per-API-key limits with `governor` on the injected clock.
//! - [`identity`]: [`Identity`], the service: accounts, login with lockout, refresh rotation,
//!   revocation, API keys, the contact access log; the [`Authenticator`] implementation.
//! - [`store`]: [`AccountStore`] and its SQLite and PostgreSQL implementations (migration 0006).
//! - [`bootstrap`]: the first start's `admin` and its `initial-admin-password` file (0600).
//! - [`mask`]: [`mask_phone`] (`139****5678`).
//! - [`metrics`]: login and authentication counters.
//! - [`error`]: [`IdentityError`] and the closed [`ErrorCode`].

pub mod bootstrap;
pub mod domain;
pub mod error;
pub mod identity;
pub mod keys;
pub mod mask;
pub mod metrics;
pub mod password;
pub mod ratelimit;
pub mod store;
pub mod tokens;

pub use bootstrap::{write_initial_password, InitialAdmin, INITIAL_ADMIN_PASSWORD_FILE};
pub use domain::{
    Account, AccountId, CredentialKind, DisplayName, LoginName, Password, Principal, Role, RpcName,
    Scope, Territory, INTEGRATOR_RPCS,
};
pub use error::{ErrorCode, IdentityError};
pub use identity::{
    ApiKeyGrant, Authenticator, Credential, Identity, IdentityConfig, IssuedKey, NewAccount,
    Tokens, API_KEY_PREFIX,
};
pub use keys::{KeyRing, SigningKey};
pub use mask::mask_phone;
pub use store::{
    AccountStore, ApiKeyRecord, ContactAccess, ContactAccessQuery, PgAccounts, RefreshRecord,
    SqliteAccounts,
};

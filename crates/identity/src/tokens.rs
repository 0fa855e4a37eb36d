//! Access tokens: short-lived JWTs (HS256) signed with the key ring's newest key, carrying the
//! account id, role, scope, expiry and the account's token version. This module checks the
//! signature and expiry; [`crate::Identity`] then checks the version against the store, so a
//! disabled, deleted or logged-out account's tokens stop working at once.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{Account, Role, Scope};
use crate::keys::KeyRing;
use crate::IdentityError;

/// Who issues and who accepts the tokens: this router, nobody else.
pub const ISSUER: &str = "hotline";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    pub iss: String,
    pub role: Role,
    pub scope: Scope,
    /// The account's token version when issued.
    pub tv: i64,
    /// Issued at and expires, seconds since the epoch.
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn for_account(account: &Account, now: DateTime<Utc>, ttl: Duration) -> Self {
        Self {
            sub: account.id.to_string(),
            iss: ISSUER.to_owned(),
            role: account.role,
            scope: account.scope.clone(),
            tv: account.token_version,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        }
    }
}

pub fn sign(keys: &KeyRing, claims: &Claims) -> Result<String, IdentityError> {
    let key = keys.signing();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(&key.secret_bytes()),
    )
    .map_err(|e| IdentityError::KeyFile {
        path: key.kid.clone(),
        message: format!("signing failed: {e}"),
    })
}

/// Checks format, key, signature, issuer and expiry (against `now`, the injected clock, not the
/// system clock: jsonwebtoken's own expiry check is off).
pub fn verify(keys: &KeyRing, token: &str, now: DateTime<Utc>) -> Result<Claims, IdentityError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::TokenForged)?;
    if header.alg != Algorithm::HS256 {
        return Err(IdentityError::TokenForged);
    }
    let kid = header.kid.ok_or(IdentityError::TokenForged)?;
    let key = keys
        .by_kid(&kid)
        .ok_or(IdentityError::TokenWrongKey { kid: kid.clone() })?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[ISSUER]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(&key.secret_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => IdentityError::TokenForged,
        _ => IdentityError::TokenForged,
    })?;
    let claims = data.claims;
    if now.timestamp() >= claims.exp {
        let at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        return Err(IdentityError::TokenExpired { at });
    }
    Ok(claims)
}

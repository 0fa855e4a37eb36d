//! Passwords hashed with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, one lane, as
//! OWASP recommends), and the random secrets the crate hands out (initial passwords, refresh
//! tokens, API keys), which are stored only as SHA-256 hashes: they are long and random, so a
//! fast hash is enough and lets a lookup find them by hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::Password;
use crate::IdentityError;

pub fn hash_password(password: &Password) -> Result<String, IdentityError> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| IdentityError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Hashing(e.to_string()))
}

/// True when `password` matches the stored PHC string. A stored hash that does not parse is
/// corruption, not a wrong password.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, IdentityError> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| IdentityError::Corrupt(format!("stored password hash: {e}")))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash of nothing anyone knows, verified against when the login name is unknown so that an
/// unknown name takes as long to refuse as a wrong password (no account enumeration by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let password = Password::parse("decoy", &random_secret(24)).expect("24 random bytes");
        hash_password(&password).expect("hashing a decoy")
    })
}

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex of a secret, as stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_argon2id() {
        let p = Password::parse("p", "正确的马电池订书钉").unwrap();
        let hash = hash_password(&p).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(p.expose(), &hash).unwrap());
        assert!(!verify_password("wrong password", &hash).unwrap());
        assert!(verify_password("x", "not a hash").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed_to_hex() {
        let a = random_secret(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_secret(32));
        assert_eq!(secret_hash("abc").len(), 64);
    }
}

//! The signing keys of access tokens: a JSON key file holding several HMAC-SHA256 keys, each
//! with a key id (`kid`). The newest key signs; every key in the file verifies. To rotate, add a
//! key ([`KeyRing::rotate_file`]), restart or reload the replicas, and remove the old key once
//! the tokens it signed have expired (the access-token lifetime, 15 minutes by default).
//!
//! ```json
//! {"keys": [{"kid": "k20261205-1a2b", "created_at": "2026-12-05T09:00:00Z",
//!            "secret": "<base64url, at least 32 bytes>"}]}
//! ```

use std::path::Path;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::password::random_secret;
use crate::IdentityError;

/// HMAC-SHA256 wants a key at least as long as its output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    secret: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate(now: DateTime<Utc>) -> Self {
        let suffix = &random_secret(6)[..6];
        Self {
            kid: format!("k{}-{suffix}", now.format("%Y%m%d%H%M%S")),
            created_at: now,
            secret: random_secret(MIN_SECRET_BYTES),
        }
    }

    pub(crate) fn secret_bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(self.secret.trim_end_matches('='))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// Checks ids are unique and non-empty and secrets long enough; `what` names the source.
    pub fn new(keys: Vec<SigningKey>, what: &str) -> Result<Self, IdentityError> {
        let bad = |message: String| IdentityError::KeyFile {
            path: what.to_owned(),
            message,
        };
        if keys.is_empty() {
            return Err(bad(
                "no keys; create one with `hotline staff keys rotate`".into()
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            if key.kid.trim().is_empty() {
                return Err(bad(format!("key {} has an empty kid", i + 1)));
            }
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(bad(format!("kid {:?} appears twice", key.kid)));
            }
            if key.secret_bytes().len() < MIN_SECRET_BYTES {
                return Err(bad(format!(
                    "key {:?}: the secret must be base64url of at least {MIN_SECRET_BYTES} bytes",
                    key.kid
                )));
            }
        }
        Ok(Self { keys })
    }

    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let text = std::fs::read_to_string(path).map_err(|source| IdentityError::Io {
            what: format!("reading signing key file {}", path.display()),
            source,
        })?;
        let ring: KeyRing = serde_json::from_str(&text).map_err(|e| IdentityError::KeyFile {
            path: path.display().to_string(),
            message: format!("not a key file: {e}"),
        })?;
        Self::new(ring.keys, &path.display().to_string())
    }

    /// Adds a new key to the file (creating it, mode 0600, if missing); the new key signs from
    /// the next start. Returns the new kid.
    pub fn rotate_file(path: &Path, now: DateTime<Utc>) -> Result<String, IdentityError> {
        let mut keys = if path.exists() {
            Self::load(path)?.keys
        } else {
            Vec::new()
        };
        let key = SigningKey::generate(now);
        let kid = key.kid.clone();
        keys.push(key);
        let ring = Self::new(keys, &path.display().to_string())?;
        let text = serde_json::to_string_pretty(&ring).expect("a key ring serialises");
        crate::bootstrap::write_private_file(path, text.as_bytes())?;
        Ok(kid)
    }

    /// The key that signs: the newest by `created_at` (the later in the file on a tie).
    pub fn signing(&self) -> &SigningKey {
        self.keys
            .iter()
            .rev()
            .max_by_key(|k| k.created_at)
            .expect("a key ring is never empty")
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_newest_key_signs_and_every_key_is_found_by_kid() {
        let old = SigningKey::generate(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let new = SigningKey::generate(Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap());
        let ring = KeyRing::new(vec![new.clone(), old.clone()], "test").unwrap();
        assert_eq!(ring.signing().kid, new.kid);
        assert!(ring.by_kid(&old.kid).is_some());
        assert!(ring.by_kid("nope").is_none());
    }

    #[test]
    fn a_key_file_with_a_short_secret_or_a_repeated_kid_is_refused() {
        let key = SigningKey::generate(Utc::now());
        let err = KeyRing::new(vec![key.clone(), key.clone()], "f.json").unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let mut short = key;
        short.secret = "c2hvcnQ".into();
        let err = KeyRing::new(vec![short], "f.json").unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        assert!(KeyRing::new(vec![], "f.json").is_err());
    }

    #[test]
    fn rotating_a_file_adds_a_key_and_keeps_the_old_ones() {
        let dir = std::env::temp_dir().join(format!("hotline-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let first = KeyRing::rotate_file(&path, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
            .unwrap();
        let second =
            KeyRing::rotate_file(&path, Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap())
                .unwrap();
        let ring = KeyRing::load(&path).unwrap();
        assert_eq!(ring.kids(), vec![first.as_str(), second.as_str()]);
        assert_eq!(ring.signing().kid, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

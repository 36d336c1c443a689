//! argon2id hashing of administrator passwords, off the async executor.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;

use crate::{AccountsError, Password};

/// Hashes a password with argon2id (the crate's recommended parameters) on a blocking thread.
///
/// # Errors
/// [`AccountsError::Unavailable`] if the blocking pool or the hasher fails.
pub(crate) async fn hash(password: Password) -> Result<String, AccountsError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountsError::Unavailable(e.to_string().into()))
    })
    .await
    .map_err(|e| AccountsError::Unavailable(Box::new(e)))?
}

/// Verifies a password against a stored hash, or, when there is no user, against a fixed
/// decoy hash so that an unknown username costs the same time as a wrong password.
///
/// # Errors
/// [`AccountsError::Unavailable`] if the blocking pool fails.
pub(crate) async fn verify(
    password: Password,
    stored: Option<String>,
) -> Result<bool, AccountsError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash_text = stored.unwrap_or_else(|| decoy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash_text) else {
            tracing::error!("a stored password hash is not in PHC format");
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .map_err(|e| AccountsError::Unavailable(Box::new(e)))
}

fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password that nobody has", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let p = Password::new("correct horse battery".into()).unwrap();
        let h = hash(p.clone()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "argon2id is used: {h}");
        assert!(verify(p, Some(h.clone())).await.unwrap());
        let wrong = Password::presented("correct horse battery!".into()).unwrap();
        assert!(!verify(wrong, Some(h)).await.unwrap());
    }

    #[tokio::test]
    async fn no_user_never_verifies_even_with_the_decoy_password() {
        let p = Password::presented("decoy password that nobody has".into()).unwrap();
        assert!(!verify(p, None).await.unwrap());
    }
}

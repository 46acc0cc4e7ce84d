//! Passwords: argon2id hashes (PHC strings), for the admin's `[admin] password_hash`
//! and the users of `[auth] users`.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::settings::NotAHash;

/// The argon2id hash (PHC string) of `password`, for `[admin] password_hash`.
pub(crate) fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(HashError::NoRandomness)?;
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Hash)
}

/// Whether `password` is the one `hash` (a PHC string) was made from.
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HashError {
    #[error("no system randomness: {0}")]
    NoRandomness(getrandom::Error),

    #[error("argon2 could not hash it: {0}")]
    Hash(argon2::password_hash::Error),
}

/// Whether `hash` is a PHC string argon2 can check passwords against.
pub(crate) fn hash_problem(hash: &str) -> Option<NotAHash> {
    PasswordHash::new(hash).err().map(NotAHash)
}

//! The key format and its hashing. A key reads `sluice_<lookup>_<secret>`: the 12 hex digits of
//! `lookup` find the record, the 64 hex digits of `secret` (256 random bits) prove possession.
//! Only HMAC-SHA256 of the whole key, under a sub-key of the master secret, is stored.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrets::SubKey;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every key starts with, so secret scanners and people recognise it.
pub const KEY_PREFIX: &str = "sluice_";
const LOOKUP_HEX: usize = 12;
const SECRET_HEX: usize = 64;

/// A key as presented by a client, checked for shape only.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    text: String,
    lookup: String,
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresentedKey({KEY_PREFIX}{}_<redacted>)", self.lookup)
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl PresentedKey {
    /// Checks the shape; `None` when it cannot be a Sluice key.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix(KEY_PREFIX)?;
        let (lookup, secret) = rest.split_once('_')?;
        (is_lower_hex(lookup, LOOKUP_HEX) && is_lower_hex(secret, SECRET_HEX)).then(|| Self {
            text: text.trim().to_owned(),
            lookup: lookup.to_owned(),
        })
    }

    /// The public lookup id.
    pub fn lookup(&self) -> &str {
        &self.lookup
    }

    /// The public part shown in lists: `sluice_<lookup>`.
    pub fn display_prefix(&self) -> String {
        format!("{KEY_PREFIX}{}", self.lookup)
    }

    /// The full key, to show once on issue.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// A new random key.
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let mut lookup = [0u8; LOOKUP_HEX / 2];
        let mut secret = [0u8; SECRET_HEX / 2];
        rng.fill_bytes(&mut lookup);
        rng.fill_bytes(&mut secret);
        let lookup = hex::encode(lookup);
        Self {
            text: format!("{KEY_PREFIX}{lookup}_{}", hex::encode(secret)),
            lookup,
        }
    }
}

/// HMAC-SHA256 of keys under the key-hashing sub-key.
#[derive(Clone)]
pub struct KeyHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

impl KeyHasher {
    pub fn new(key: &SubKey) -> Self {
        Self { key: *key.expose() }
    }

    /// The stored form of a key.
    pub fn hash(&self, key: &PresentedKey) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(key.expose().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `key` hashes to `stored`, compared in constant time.
    pub fn verify(&self, key: &PresentedKey, stored: &[u8]) -> bool {
        self.hash(key).ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrets::{KeyPurpose, MasterKey};

    fn hasher() -> KeyHasher {
        KeyHasher::new(&MasterKey::generate().derive(KeyPurpose::McpKeyHashing))
    }

    #[test]
    fn generated_keys_parse_and_carry_256_bits() {
        let key = PresentedKey::generate();
        let parsed = PresentedKey::parse(key.expose()).expect("own format");
        assert_eq!(parsed, key);
        assert!(key.expose().starts_with("sluice_"));
        assert_eq!(key.expose().len(), KEY_PREFIX.len() + 12 + 1 + 64);
        assert_ne!(PresentedKey::generate(), key);
    }

    #[test]
    fn malformed_keys_are_refused() {
        for text in [
            "",
            "sluice_",
            "hs-abc",
            "sluice_0123456789ab",
            "sluice_0123456789ab_00",
            "sluice_0123456789AB_0000000000000000000000000000000000000000000000000000000000000000",
            "sluice_0123456789ab_000000000000000000000000000000000000000000000000000000000000000g",
            "xsluice_0123456789ab_0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert!(PresentedKey::parse(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn verification_needs_the_exact_key_and_the_same_hashing_key() {
        let h = hasher();
        let key = PresentedKey::generate();
        let stored = h.hash(&key);
        assert!(h.verify(&key, &stored));
        let mut other = key.expose().to_owned();
        let last = other.pop().unwrap();
        other.push(if last == '0' { '1' } else { '0' });
        assert!(!h.verify(&PresentedKey::parse(&other).unwrap(), &stored));
        assert!(!hasher().verify(&key, &stored), "another master key");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = PresentedKey::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.expose()[20..]), "{shown}");
    }
}

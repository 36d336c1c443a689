//! The master secret of an installation and the independent sub-keys derived from it.
//!
//! One secret is configured; every job that needs a key (JWT signing, MCP key hashing,
//! encryption at rest) gets its own, derived with HKDF-SHA256 under a distinct label, so no key
//! is ever reused for two jobs.

use std::fmt;

use base64::Engine as _;
use hkdf::Hkdf;
use rand::RngCore as _;
use sha2::Sha256;

/// The fewest bytes a master key may have.
pub const MIN_MASTER_KEY_BYTES: usize = 32;

/// Why a master key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MasterKeyError {
    #[error("the master key is not valid hex or base64")]
    Encoding,
    #[error("the master key has {0} bytes; at least {MIN_MASTER_KEY_BYTES} are required")]
    TooShort(usize),
    #[error("the master key is too weak: all of its bytes are the same")]
    Weak,
}

/// What a derived sub-key is for. Each purpose has its own HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// HS256 signing of admin access and refresh tokens.
    JwtSigning,
    /// HMAC-SHA256 of MCP keys at rest.
    McpKeyHashing,
    /// AES-256-GCM encryption of database passwords at rest.
    Encryption,
}

impl KeyPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::JwtSigning => b"sluice/v1/jwt-signing",
            Self::McpKeyHashing => b"sluice/v1/mcp-key-hashing",
            Self::Encryption => b"sluice/v1/encryption",
        }
    }
}

/// A derived 256-bit key. Its bytes never appear in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SubKey([u8; 32]);

impl SubKey {
    /// The key material.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubKey(<redacted>)")
    }
}

/// The installation's master secret. Its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for MasterKey {}

impl MasterKey {
    /// Parses a master key written as hex or as base64 (standard or URL-safe, padded or not).
    ///
    /// # Errors
    /// [`MasterKeyError::Encoding`] when the text is neither, [`MasterKeyError::TooShort`] below
    /// 32 bytes, [`MasterKeyError::Weak`] when every byte is the same (e.g. all zeros).
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = decode(text).ok_or(MasterKeyError::Encoding)?;
        Self::from_bytes(bytes)
    }

    /// Wraps raw key bytes, with the same checks as [`MasterKey::parse`].
    ///
    /// # Errors
    /// See [`MasterKey::parse`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, MasterKeyError> {
        if bytes.len() < MIN_MASTER_KEY_BYTES {
            return Err(MasterKeyError::TooShort(bytes.len()));
        }
        if bytes.iter().all(|b| *b == bytes[0]) {
            return Err(MasterKeyError::Weak);
        }
        Ok(Self(bytes))
    }

    /// A new random 256-bit master key.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; MIN_MASTER_KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key as lowercase hex, for writing it to the development key file.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Derives the sub-key for one purpose. Deterministic: the same master key and purpose give
    /// the same sub-key on every instance.
    pub fn derive(&self, purpose: KeyPurpose) -> SubKey {
        let hk = Hkdf::<Sha256>::new(Some(b"sluice"), &self.0);
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail.
        hk.expand(purpose.label(), &mut out)
            .unwrap_or_else(|_| unreachable!("32-byte HKDF output is always valid"));
        SubKey(out)
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    if !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return hex::decode(text).ok();
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_keys_are_accepted() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(MasterKey::parse(hex_key).is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_key).unwrap());
        let a = MasterKey::parse(hex_key)
            .unwrap()
            .derive(KeyPurpose::JwtSigning);
        let b = MasterKey::parse(&b64)
            .unwrap()
            .derive(KeyPurpose::JwtSigning);
        assert_eq!(a, b, "hex and base64 of the same bytes are the same key");
    }

    #[test]
    fn short_malformed_and_uniform_keys_are_refused() {
        assert_eq!(MasterKey::parse("abcd"), Err(MasterKeyError::TooShort(2)));
        assert_eq!(
            MasterKey::parse("not a key!"),
            Err(MasterKeyError::Encoding)
        );
        assert_eq!(
            MasterKey::parse(&"00".repeat(32)),
            Err(MasterKeyError::Weak)
        );
    }

    #[test]
    fn purposes_get_independent_keys() {
        let key = MasterKey::generate();
        let jwt = key.derive(KeyPurpose::JwtSigning);
        assert_ne!(jwt, key.derive(KeyPurpose::McpKeyHashing));
        assert_ne!(jwt, key.derive(KeyPurpose::Encryption));
        assert_ne!(
            key.derive(KeyPurpose::Encryption),
            key.derive(KeyPurpose::McpKeyHashing)
        );
        assert_eq!(jwt, key.derive(KeyPurpose::JwtSigning));
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let key = MasterKey::generate();
        assert!(!format!("{key:?}").contains(&key.to_hex()));
        assert_eq!(
            format!("{:?}", key.derive(KeyPurpose::JwtSigning)),
            "SubKey(<redacted>)"
        );
    }
}

/// Why a ciphertext could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("the ciphertext is malformed")]
    Malformed,
    #[error("the ciphertext was sealed with another key (key id {0:08x})")]
    UnknownKey(u32),
    #[error("the ciphertext does not authenticate")]
    Forged,
}

/// AES-256-GCM sealing of secrets at rest (database passwords), with the encryption sub-key.
///
/// A sealed value is `version (1) | key id (4) | nonce (12) | ciphertext+tag`. The key id is
/// the first four bytes of SHA-256 of the key, so a later key rotation can tell which key
/// sealed a value. The associated data (e.g. the row's id) binds a ciphertext to its owner:
/// one copied onto another row does not open.
#[derive(Clone)]
pub struct Cipher {
    key: aes_gcm::Key<aes_gcm::Aes256Gcm>,
    key_id: u32,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cipher(key id {:08x})", self.key_id)
    }
}

const SEALED_VERSION: u8 = 1;

impl Cipher {
    /// A cipher for a sub-key (derive it with [`KeyPurpose::Encryption`]).
    pub fn new(key: &SubKey) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(key.expose());
        Self {
            key: (*key.expose()).into(),
            key_id: u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
        }
    }

    /// Seals `plaintext`, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead as _, AeadCore as _, KeyInit as _, Payload};
        let cipher = aes_gcm::Aes256Gcm::new(&self.key);
        let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut rand::rngs::OsRng);
        // Encryption with a valid key and in-memory buffers does not fail.
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 4 + nonce.len() + ct.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a sealed value.
    ///
    /// # Errors
    /// [`CipherError::Malformed`], [`CipherError::UnknownKey`] for another key's value,
    /// [`CipherError::Forged`] when it does not authenticate (tampered, or other `aad`).
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
        if sealed.len() < 1 + 4 + 12 + 16 || sealed[0] != SEALED_VERSION {
            return Err(CipherError::Malformed);
        }
        let key_id = u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]);
        if key_id != self.key_id {
            return Err(CipherError::UnknownKey(key_id));
        }
        let nonce: [u8; 12] = sealed[5..17]
            .try_into()
            .map_err(|_| CipherError::Malformed)?;
        aes_gcm::Aes256Gcm::new(&self.key)
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed[17..],
                    aad,
                },
            )
            .map_err(|_| CipherError::Forged)
    }
}

#[cfg(test)]
mod cipher_tests {
    use super::*;

    fn cipher() -> Cipher {
        Cipher::new(&MasterKey::generate().derive(KeyPurpose::Encryption))
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_owner_only() {
        let c = cipher();
        let sealed = c.seal(b"s3cret", b"row-1");
        assert!(
            !sealed.windows(6).any(|w| w == b"s3cret"),
            "no plaintext in the ciphertext"
        );
        assert_eq!(c.open(&sealed, b"row-1").unwrap(), b"s3cret");
        assert_eq!(c.open(&sealed, b"row-2"), Err(CipherError::Forged));
        assert!(matches!(
            cipher().open(&sealed, b"row-1"),
            Err(CipherError::UnknownKey(_))
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(c.open(&tampered, b"row-1"), Err(CipherError::Forged));
        assert_eq!(c.open(&sealed[..10], b"row-1"), Err(CipherError::Malformed));
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let c = cipher();
        assert_ne!(c.seal(b"x", b""), c.seal(b"x", b""));
    }
}

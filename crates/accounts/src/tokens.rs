//! HS256 JWTs for administrators: access tokens and refresh tokens, kept apart by a `typ` claim.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{AccountsError, SessionId, TokenId, UserId};

const ISSUER: &str = "sluice";

/// Which job a token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of every Sluice admin token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The administrator's id.
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// The token's own id.
    pub jti: Uuid,
    /// The session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    pub typ: TokenKind,
}

/// Signs and verifies tokens with the JWT sub-key of the master secret.
#[derive(Clone)]
pub struct TokenCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCodec(<redacted>)")
    }
}

impl TokenCodec {
    /// A codec for the given signing key (derive it with `secrets::KeyPurpose::JwtSigning`).
    pub fn new(key: &secrets::SubKey) -> Self {
        // One backend is compiled in; installing it explicitly keeps the choice independent of
        // feature unification elsewhere in the graph. An error means it is installed already.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(key.expose()),
            decoding: DecodingKey::from_secret(key.expose()),
            validation,
        }
    }

    /// Signs a token of `kind` for `user` in `session`, valid for `ttl_secs` from `now`.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] if signing fails (it does not with an HMAC key).
    pub fn issue(
        &self,
        kind: TokenKind,
        user: UserId,
        session: SessionId,
        id: TokenId,
        now: OffsetDateTime,
        ttl_secs: u64,
    ) -> Result<String, AccountsError> {
        let iat = now.unix_timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: user.as_uuid(),
            iat,
            exp: iat.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            jti: id.as_uuid(),
            sid: session.as_uuid(),
            typ: kind,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AccountsError::Unavailable(Box::new(e)))
    }

    /// Verifies signature, algorithm, issuer, expiry and kind.
    ///
    /// # Errors
    /// [`AccountsError::InvalidToken`] for any failure, with a reason safe to show.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Claims, AccountsError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                AccountsError::InvalidToken(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => "the token's signature is not valid",
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        "the token's algorithm is not accepted"
                    }
                    _ => "the token is malformed",
                })
            })?;
        if data.claims.typ != kind {
            return Err(AccountsError::InvalidToken(match kind {
                TokenKind::Access => "a refresh token cannot be used as an access token",
                TokenKind::Refresh => "an access token cannot be used as a refresh token",
            }));
        }
        Ok(data.claims)
    }
}

/// The digest under which a refresh token is stored.
pub(crate) fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrets::{KeyPurpose, MasterKey};

    fn codec() -> TokenCodec {
        TokenCodec::new(&MasterKey::generate().derive(KeyPurpose::JwtSigning))
    }

    fn issue(c: &TokenCodec, kind: TokenKind, now: OffsetDateTime, ttl: u64) -> String {
        c.issue(
            kind,
            UserId::new(),
            SessionId::new(),
            TokenId::new(),
            now,
            ttl,
        )
        .unwrap()
    }

    #[test]
    fn a_token_verifies_for_its_own_kind_only() {
        let c = codec();
        let access = issue(&c, TokenKind::Access, OffsetDateTime::now_utc(), 60);
        assert_eq!(
            c.verify(&access, TokenKind::Access).unwrap().typ,
            TokenKind::Access
        );
        assert!(c.verify(&access, TokenKind::Refresh).is_err());
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_are_refused() {
        let c = codec();
        let old = OffsetDateTime::now_utc() - time::Duration::hours(1);
        let expired = issue(&c, TokenKind::Access, old, 60);
        assert!(matches!(
            c.verify(&expired, TokenKind::Access),
            Err(AccountsError::InvalidToken("the token has expired"))
        ));
        let foreign = issue(&codec(), TokenKind::Access, OffsetDateTime::now_utc(), 60);
        assert!(c.verify(&foreign, TokenKind::Access).is_err());

        // alg "none": header and claims of a real token, no signature.
        let mut parts = issue(&c, TokenKind::Access, OffsetDateTime::now_utc(), 60)
            .split('.')
            .map(str::to_owned)
            .collect::<Vec<_>>();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        parts[0] = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert!(c.verify(&unsigned, TokenKind::Access).is_err());
    }
}

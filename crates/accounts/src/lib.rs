//! Domain: administrators of a Sluice installation, how they sign in, and the tokens they hold.
//!
//! Passwords are hashed with argon2id; access and refresh tokens are HS256 JWTs signed with a
//! sub-key of the master secret; refresh tokens rotate within a session (a family), and a spent
//! one presented again revokes the whole session.

mod error;
mod model;
mod password;
mod ports;
mod service;
mod throttle;
mod tokens;

pub use error::{AccountsError, BoxError};
pub use model::{
    AdminUser, NewAdmin, NewRefreshToken, Password, Principal, RefreshTokenRecord, SessionId,
    StoredAdmin, TokenId, TokenPair, UserId, Username,
};
pub use ports::{AdminRepository, FirstAdminOnly, RotateOutcome, SessionRepository};
pub use service::{AuthPolicy, AuthService, ClientContext};
pub use throttle::{LoginThrottle, ThrottlePolicy};
pub use tokens::{Claims, TokenCodec, TokenKind};

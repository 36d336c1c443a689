//! The session store against the real database: a sign-in that verified a password cannot
//! open a session once that password has changed.

use accounts::{
    AccountsError, AdminRepository, FirstAdminOnly, NewAdmin, NewRefreshToken, SessionId,
    SessionRepository, TokenId, UserId, Username,
};
use server::config::Settings;
use time::{Duration, OffsetDateTime};

use crate::helpers::TestDb;

#[tokio::test]
async fn a_session_is_not_opened_after_the_password_it_was_checked_against_changed() {
    let db = TestDb::new().await;
    let store = server::startup::open_store(&Settings {
        database_url: db.url.clone(),
        ..Settings::default()
    })
    .unwrap();
    let admins = store_postgres::PgAdminRepository::new(&store);
    let sessions = store_postgres::PgSessionRepository::new(&store);
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::minutes(1);
    let user = admins
        .create_admin(
            NewAdmin {
                id: UserId::new(),
                username: Username::new("admin").unwrap(),
                password_hash: "x".into(),
                now: t0,
            },
            FirstAdminOnly::No,
        )
        .await
        .unwrap();
    let token = |session| NewRefreshToken {
        id: TokenId::new(),
        session_id: session,
        user_id: user.id,
        token_hash: uuid::Uuid::now_v7().as_bytes().to_vec(),
        issued_at: OffsetDateTime::now_utc(),
        expires_at: OffsetDateTime::now_utc() + Duration::hours(1),
    };
    let first = SessionId::new();
    sessions
        .open_session(token(first), t0)
        .await
        .expect("the password is unchanged");
    assert!(sessions.session_is_live(first, user.id).await.unwrap());

    // The password changes between a sign-in's check and its session.
    admins
        .update_password(user.id, "y", t0 + Duration::seconds(30))
        .await
        .unwrap();
    let late = SessionId::new();
    let err = sessions.open_session(token(late), t0).await.unwrap_err();
    assert!(matches!(err, AccountsError::InvalidCredentials), "{err:?}");
    assert!(!sessions.session_is_live(late, user.id).await.unwrap());
}

//! The accounts ports on PostgreSQL: administrators, sessions, refresh-token hashes.

use accounts::{
    AccountsError, AdminRepository, AdminUser, FirstAdminOnly, NewAdmin, NewRefreshToken,
    RefreshTokenRecord, RotateOutcome, SessionId, SessionRepository, StoredAdmin, TokenId, UserId,
    Username,
};
use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::PgStore;

/// Administrators in the `admin_users` table.
#[derive(Debug, Clone)]
pub struct PgAdminRepository {
    pool: Pool,
}

/// Sessions and refresh-token hashes in `admin_sessions` and `admin_refresh_tokens`.
#[derive(Debug, Clone)]
pub struct PgSessionRepository {
    pool: Pool,
}

impl PgAdminRepository {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
        }
    }
}

impl PgSessionRepository {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
        }
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AccountsError {
    AccountsError::Unavailable(Box::new(e))
}

/// Maps driver errors: a duplicate username becomes `UsernameTaken`, anything else
/// `Unavailable`.
fn map_db_error(e: tokio_postgres::Error) -> AccountsError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        AccountsError::UsernameTaken
    } else {
        unavailable(e)
    }
}

async fn conn(pool: &Pool) -> Result<Object, AccountsError> {
    pool.get().await.map_err(unavailable)
}

const ADMIN_COLUMNS: &str = "id, username, created_at, password_changed_at, password_hash";

fn admin_from_row(row: &Row) -> Result<StoredAdmin, AccountsError> {
    let username: String = row.get("username");
    Ok(StoredAdmin {
        user: AdminUser {
            id: UserId::from_uuid(row.get("id")),
            username: Username::new(&username)?,
            created_at: row.get("created_at"),
            password_changed_at: row.get("password_changed_at"),
        },
        password_hash: row.get("password_hash"),
    })
}

#[async_trait]
impl AdminRepository for PgAdminRepository {
    #[tracing::instrument(skip_all)]
    async fn any_admin_exists(&self) -> Result<bool, AccountsError> {
        const SQL: &str = "SELECT EXISTS (SELECT 1 FROM admin_users)";
        let c = conn(&self.pool).await?;
        let row = c.query_one(SQL, &[]).await.map_err(unavailable)?;
        Ok(row.get(0))
    }

    #[tracing::instrument(skip_all, fields(user = %new.id))]
    async fn create_admin(
        &self,
        new: NewAdmin,
        first_only: FirstAdminOnly,
    ) -> Result<AdminUser, AccountsError> {
        const INSERT: &str = "INSERT INTO admin_users
            (id, username, password_hash, created_at, updated_at, password_changed_at)
            VALUES ($1, $2, $3, $4, $4, $4)";
        let mut c = conn(&self.pool).await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        if first_only == FirstAdminOnly::Yes {
            // Serialises concurrent first sign-ups: the second waits, then sees the first.
            tx.batch_execute("LOCK TABLE admin_users IN SHARE ROW EXCLUSIVE MODE")
                .await
                .map_err(unavailable)?;
            let exists: bool = tx
                .query_one("SELECT EXISTS (SELECT 1 FROM admin_users)", &[])
                .await
                .map_err(unavailable)?
                .get(0);
            if exists {
                return Err(AccountsError::SignUpClosed);
            }
        }
        tx.execute(
            INSERT,
            &[
                &new.id.as_uuid(),
                &new.username.as_str(),
                &new.password_hash,
                &new.now,
            ],
        )
        .await
        .map_err(map_db_error)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(AdminUser {
            id: new.id,
            username: new.username,
            created_at: new.now,
            password_changed_at: new.now,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_username(
        &self,
        name: &Username,
    ) -> Result<Option<StoredAdmin>, AccountsError> {
        let sql =
            format!("SELECT {ADMIN_COLUMNS} FROM admin_users WHERE lower(username) = lower($1)");
        let c = conn(&self.pool).await?;
        let stmt = c.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = c
            .query_opt(&stmt, &[&name.as_str()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(user = %id))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<StoredAdmin>, AccountsError> {
        let sql = format!("SELECT {ADMIN_COLUMNS} FROM admin_users WHERE id = $1");
        let c = conn(&self.pool).await?;
        let stmt = c.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = c
            .query_opt(&stmt, &[&id.as_uuid()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(user = %id))]
    async fn update_password(
        &self,
        id: UserId,
        password_hash: &str,
        changed_at: OffsetDateTime,
    ) -> Result<(), AccountsError> {
        const SQL: &str = "UPDATE admin_users
            SET password_hash = $2, password_changed_at = $3, updated_at = $3 WHERE id = $1";
        let c = conn(&self.pool).await?;
        c.execute(SQL, &[&id.as_uuid(), &password_hash, &changed_at])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

const INSERT_TOKEN: &str = "INSERT INTO admin_refresh_tokens
    (id, session_id, token_hash, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

async fn insert_token(
    client: &impl deadpool_postgres::GenericClient,
    t: &NewRefreshToken,
) -> Result<(), AccountsError> {
    client
        .execute(
            INSERT_TOKEN,
            &[
                &t.id.as_uuid(),
                &t.session_id.as_uuid(),
                &t.token_hash,
                &t.issued_at,
                &t.expires_at,
            ],
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for PgSessionRepository {
    #[tracing::instrument(skip_all, fields(session = %first.session_id))]
    async fn open_session(
        &self,
        first: NewRefreshToken,
        password_changed_at: OffsetDateTime,
    ) -> Result<(), AccountsError> {
        const CHECK: &str = "SELECT password_changed_at FROM admin_users WHERE id = $1 FOR SHARE";
        const SQL: &str =
            "INSERT INTO admin_sessions (id, user_id, created_at) VALUES ($1, $2, $3)";
        let mut c = conn(&self.pool).await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        // The row lock orders this against a concurrent password change: either the change
        // is seen here, or it comes after and revokes this session with the others.
        let current: Option<OffsetDateTime> = tx
            .query_opt(CHECK, &[&first.user_id.as_uuid()])
            .await
            .map_err(unavailable)?
            .map(|r| r.get(0));
        if current != Some(password_changed_at) {
            return Err(AccountsError::InvalidCredentials);
        }
        tx.execute(
            SQL,
            &[
                &first.session_id.as_uuid(),
                &first.user_id.as_uuid(),
                &first.issued_at,
            ],
        )
        .await
        .map_err(unavailable)?;
        insert_token(&tx, &first).await?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(token = %id))]
    async fn find_refresh_token(
        &self,
        id: TokenId,
    ) -> Result<Option<RefreshTokenRecord>, AccountsError> {
        const SQL: &str = "SELECT t.id, t.session_id, s.user_id, t.token_hash, t.expires_at,
                t.used_at, s.revoked_at
            FROM admin_refresh_tokens t JOIN admin_sessions s ON s.id = t.session_id
            WHERE t.id = $1";
        let c = conn(&self.pool).await?;
        let row = c
            .query_opt(SQL, &[&id.as_uuid()])
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| RefreshTokenRecord {
            id: TokenId::from_uuid(r.get(0)),
            session_id: SessionId::from_uuid(r.get(1)),
            user_id: UserId::from_uuid(r.get(2)),
            token_hash: r.get(3),
            expires_at: r.get(4),
            used_at: r.get(5),
            session_revoked_at: r.get(6),
        }))
    }

    #[tracing::instrument(skip_all, fields(session = %next.session_id))]
    async fn rotate(
        &self,
        old: TokenId,
        next: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<RotateOutcome, AccountsError> {
        // Spending is a conditional update: of two concurrent uses, exactly one succeeds.
        const SPEND: &str = "UPDATE admin_refresh_tokens t SET used_at = $2
            FROM admin_sessions s
            WHERE t.id = $1 AND t.used_at IS NULL AND s.id = t.session_id AND s.revoked_at IS NULL";
        let mut c = conn(&self.pool).await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let spent = tx
            .execute(SPEND, &[&old.as_uuid(), &now])
            .await
            .map_err(unavailable)?;
        if spent == 0 {
            return Ok(RotateOutcome::AlreadySpent);
        }
        insert_token(&tx, &next).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(RotateOutcome::Rotated)
    }

    #[tracing::instrument(skip_all, fields(session = %id))]
    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), AccountsError> {
        const SQL: &str = "UPDATE admin_sessions SET revoked_at = $2, revoked_reason = $3
            WHERE id = $1 AND revoked_at IS NULL";
        let c = conn(&self.pool).await?;
        c.execute(SQL, &[&id.as_uuid(), &now, &reason])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user = %user))]
    async fn revoke_all_sessions(
        &self,
        user: UserId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), AccountsError> {
        const SQL: &str = "UPDATE admin_sessions SET revoked_at = $2, revoked_reason = $3
            WHERE user_id = $1 AND revoked_at IS NULL";
        let c = conn(&self.pool).await?;
        c.execute(SQL, &[&user.as_uuid(), &now, &reason])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(session = %id))]
    async fn session_is_live(&self, id: SessionId, user: UserId) -> Result<bool, AccountsError> {
        const SQL: &str = "SELECT EXISTS (SELECT 1 FROM admin_sessions
            WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL)";
        let c = conn(&self.pool).await?;
        let stmt = c.prepare_cached(SQL).await.map_err(unavailable)?;
        let row = c
            .query_one(&stmt, &[&id.as_uuid(), &user.as_uuid()])
            .await
            .map_err(unavailable)?;
        Ok(row.get(0))
    }
}

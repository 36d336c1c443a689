-- Administrators, their sign-in sessions and the hashes of their refresh tokens.

CREATE TABLE admin_users (
    id                  uuid PRIMARY KEY,
    username            text NOT NULL CHECK (length(username) BETWEEN 3 AND 64),
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL
);

-- Usernames are unique whatever their case.
CREATE UNIQUE INDEX admin_users_username_lower_key ON admin_users (lower(username));

-- A session is one family of rotating refresh tokens; revoking it ends every token in it.
CREATE TABLE admin_sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);

CREATE INDEX admin_sessions_user_id_idx ON admin_sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE admin_refresh_tokens (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES admin_sessions (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX admin_refresh_tokens_session_id_idx ON admin_refresh_tokens (session_id);

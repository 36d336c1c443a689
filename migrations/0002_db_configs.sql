-- Database connections (soft-deleted, passwords sealed with AES-256-GCM) and their schema
-- snapshots.

CREATE TABLE db_configs (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    description     text,
    provider        text NOT NULL CHECK (provider IN ('postgresql', 'mysql', 'mariadb', 'sqlite')),
    -- {"kind": "server", "host", "port", "database", "username", "ssl"} or {"kind": "file", "path"}
    location        jsonb NOT NULL,
    sealed_password bytea,
    -- ["schema.table", "table", ...]; empty = every table
    allowed_tables  jsonb NOT NULL DEFAULT '[]',
    is_primary      boolean NOT NULL DEFAULT false,
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz
);

-- Names are unique among live connections, whatever their case.
CREATE UNIQUE INDEX db_configs_live_name_key ON db_configs (lower(name)) WHERE deleted_at IS NULL;
-- At most one live primary connection.
CREATE UNIQUE INDEX db_configs_one_primary_key ON db_configs ((true)) WHERE is_primary AND deleted_at IS NULL;

CREATE TABLE db_schema_snapshots (
    db_config_id uuid PRIMARY KEY REFERENCES db_configs (id) ON DELETE CASCADE,
    refreshed_at timestamptz NOT NULL,
    tables       jsonb NOT NULL
);

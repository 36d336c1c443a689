-- MCP keys: stored only as HMAC-SHA256 of the key, found by their public lookup id.

CREATE TABLE mcp_keys (
    id                    uuid PRIMARY KEY,
    name                  text NOT NULL,
    lookup                text NOT NULL UNIQUE,
    prefix                text NOT NULL,
    key_hash              bytea NOT NULL,
    db_config_id          uuid NOT NULL REFERENCES db_configs (id),
    -- ["get_tables", ...] in catalog order
    allowed_tools         jsonb NOT NULL,
    -- ["*", "sales.*", "public.orders", "users", ...]
    table_whitelist       jsonb NOT NULL,
    max_rows              integer,
    timeout_ms            integer,
    rate_limit_per_minute integer,
    allowed_origins       jsonb NOT NULL DEFAULT '[]',
    is_active             boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    expires_at            timestamptz,
    revoked_at            timestamptz,
    last_used_at          timestamptz
);

CREATE INDEX mcp_keys_db_config_idx ON mcp_keys (db_config_id);

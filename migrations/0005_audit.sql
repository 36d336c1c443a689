-- The audit log: append-only, each row's hash chained to the previous row's (in seq order).

CREATE TABLE audit_events (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    at            timestamptz NOT NULL,
    actor_type    text NOT NULL,
    actor_id      text,
    key_id        uuid,
    action        text NOT NULL,
    tool_name     text,
    db_config_id  uuid,
    tables        text[] NOT NULL DEFAULT '{}',
    outcome       text NOT NULL,
    error         text,
    duration_ms   bigint,
    row_count     bigint,
    truncated     boolean NOT NULL DEFAULT false,
    request_id    text,
    client_addr   text,
    user_agent    text,
    -- the call's arguments as the JSON text that was hashed
    arguments     text,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);

-- Newest first, filtered by key, tool, action or outcome.
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, seq DESC);
CREATE INDEX audit_events_key_idx ON audit_events (key_id, at DESC) WHERE key_id IS NOT NULL;
CREATE INDEX audit_events_tool_idx ON audit_events (tool_name, at DESC) WHERE tool_name IS NOT NULL;
CREATE INDEX audit_events_action_idx ON audit_events (action, at DESC);
CREATE INDEX audit_events_outcome_idx ON audit_events (outcome, at DESC);

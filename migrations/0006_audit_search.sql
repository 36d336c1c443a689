-- Text search over the audit log without reading every row: the words of the searchable
-- fields, kept by PostgreSQL itself, behind a GIN index. The 'simple' configuration keeps
-- words as written (no stemming, no stop words), lower-cased.

-- array_to_string is only STABLE; a generated column needs an IMMUTABLE expression (joining
-- text with a space is).
CREATE FUNCTION sluice_joined(words text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_to_string(words, ' ') $$;

ALTER TABLE audit_events ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig,
        coalesce(action, '') || ' ' || coalesce(tool_name, '') || ' ' ||
        coalesce(error, '') || ' ' || coalesce(actor_id, '') || ' ' ||
        sluice_joined(tables) || ' ' || coalesce(arguments, '') || ' ' ||
        coalesce(client_addr, '') || ' ' || coalesce(user_agent, ''))
) STORED;

CREATE INDEX audit_events_search_idx ON audit_events USING gin (search);

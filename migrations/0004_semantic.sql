-- The semantic layer: what administrators write about a connection's database, tables and
-- columns. Names are stored as the schema snapshot spells them.

CREATE TABLE semantic_databases (
    db_config_id uuid PRIMARY KEY REFERENCES db_configs (id) ON DELETE CASCADE,
    description  text,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE semantic_notes (
    db_config_id uuid NOT NULL REFERENCES db_configs (id) ON DELETE CASCADE,
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    -- '' for the table itself (no database allows an empty column name)
    column_name  text NOT NULL DEFAULT '',
    display_name text,
    description  text,
    synonyms     text[] NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (db_config_id, schema_name, table_name, column_name)
);

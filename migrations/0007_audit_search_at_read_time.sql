-- The word index of 0006 made every audit insert about a third dearer (the tsvector is built
-- on the request path's writes), and auditing must stay cheap next to the calls it records.
-- Text search reads the fields at search time instead (ILIKE): slower on a huge log, free
-- for agents.

DROP INDEX audit_events_search_idx;
ALTER TABLE audit_events DROP COLUMN search;
DROP FUNCTION sluice_joined(text[]);

-- Each index on audit_events costs PostgreSQL about 2 µs per stored event, on the cores that
-- also serve the agents' queries. Two of them paid for little:
-- * `id` is made by Sluice (a UUIDv7) and never looked up alone; a retried batch
--   finds what it stored already through the time index (`at >= ... AND id = ANY(...)`). The
--   database no longer enforces its uniqueness.
-- * `result=success` is most of the log: its first page is found through the time index and
--   its count is the filter's count less the other outcomes'. Only `denied` and `failed`, the
--   rare ones, need an index to be found quickly.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_id_key;
DROP INDEX audit_events_outcome_idx;
CREATE INDEX audit_events_unsuccessful_idx ON audit_events (outcome, at DESC)
    WHERE outcome <> 'success';

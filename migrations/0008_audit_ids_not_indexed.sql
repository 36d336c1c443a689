-- The unique index on `id` was there for `ON CONFLICT (id) DO NOTHING`, so that a retried
-- batch whose first attempt had committed was not stored twice. After a failed append the
-- writer now looks for its batch's ids among the events since the batch's earliest (through
-- the time index, under the chain's lock) and inserts only the missing ones, so inserts no
-- longer pay for a seventh index. Ids are UUIDv7, generated once per event.

ALTER TABLE audit_events DROP CONSTRAINT audit_events_id_key;

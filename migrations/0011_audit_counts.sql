-- How many events each minute holds of each key, tool, action and outcome, instead of an
-- index entry per event for each of them.
--
-- The indexes on `audit_events (key_id, ...)`, `(tool_name, ...)` and `(action, ...)` cost
-- PostgreSQL about 4.5 µs per stored event (`make bench`, `--bench audit_write`: a third of
-- what storing an event costs it), on the cores that also serve the agents' queries. A busy
-- log's minute holds thousands of events but few combinations of key, tool, action and
-- outcome: one row of `audit_counts` each. A search by key, tool or action counts its matches
-- from these rows (plus the events, counted one by one, of the minutes its dates cut through)
-- and reads only the events of the minutes that hold matches. The dashboard's counts come from
-- here too.
--
-- `audit_counted` is the last event counted: the writer counts every event after it (under
-- the chain's lock, in the batch's transaction), so an event stored by an instance that does
-- not know this table (during a rolling upgrade) is counted with the next batch a newer
-- instance stores.
-- (`NULLS NOT DISTINCT`: PostgreSQL 15 or later.)
CREATE TABLE audit_counts (
    minute     timestamptz NOT NULL,
    key_id     uuid,
    tool_name  text,
    action     text NOT NULL,
    outcome    text NOT NULL,
    events     bigint NOT NULL,
    CONSTRAINT audit_counts_combination
        UNIQUE NULLS NOT DISTINCT (minute, key_id, tool_name, action, outcome)
);

CREATE INDEX audit_counts_key_idx ON audit_counts (key_id, minute) INCLUDE (events)
    WHERE key_id IS NOT NULL;
CREATE INDEX audit_counts_tool_idx ON audit_counts (tool_name, minute) INCLUDE (events)
    WHERE tool_name IS NOT NULL;
CREATE INDEX audit_counts_action_idx ON audit_counts (action, minute) INCLUDE (events);
-- Denials and failures are rare: found through their own, without reading the successes.
CREATE INDEX audit_counts_key_unsuccessful_idx ON audit_counts (key_id, minute) INCLUDE (events)
    WHERE key_id IS NOT NULL AND outcome <> 'success';
CREATE INDEX audit_counts_tool_unsuccessful_idx ON audit_counts (tool_name, minute)
    INCLUDE (events) WHERE tool_name IS NOT NULL AND outcome <> 'success';
CREATE INDEX audit_counts_action_unsuccessful_idx ON audit_counts (action, minute)
    INCLUDE (events) WHERE outcome <> 'success';

-- One row (`id` is true): the planner, knowing it is one, keeps the writer's statement cheap.
CREATE TABLE audit_counted (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint NOT NULL
);

-- The log is locked first (dropping its indexes takes the strongest lock anyway; taking a
-- weaker one first could deadlock with a running instance's batch): running instances wait to
-- store or read events while the existing ones are counted (seconds on a million events);
-- nothing is lost.
LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE;
DROP INDEX audit_events_key_idx;
DROP INDEX audit_events_tool_idx;
DROP INDEX audit_events_action_idx;
INSERT INTO audit_counted (seq) SELECT coalesce(max(seq), 0) FROM audit_events;
INSERT INTO audit_counts (minute, key_id, tool_name, action, outcome, events)
SELECT date_trunc('minute', at, 'UTC'), key_id, tool_name, action, outcome, count(*)
FROM audit_events
GROUP BY 1, 2, 3, 4, 5;

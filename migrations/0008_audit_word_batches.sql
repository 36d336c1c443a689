-- Text search without reading the whole log, and without a word index on every event (0006
-- made each audit insert a third dearer). Each stored batch of events also stores the set of
-- its words (computed by Sluice) with the batch's time span: a search reads the batches whose
-- words hold the search's, then only those spans of the log. Common words appear once per
-- batch, so the index grows by a batch's distinct words, not by every event's.

CREATE TABLE audit_word_batches (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The earliest and latest `at` of the batch's events.
    at_min  timestamptz NOT NULL,
    at_max  timestamptz NOT NULL,
    -- The batch's words, or the single word '-every-' when there were too many to keep:
    -- every search reads such a batch's span (no real word has a '-').
    words   tsvector NOT NULL
);

CREATE INDEX audit_word_batches_words_idx ON audit_word_batches USING gin (words);
CREATE INDEX audit_word_batches_at_idx ON audit_word_batches (at_max DESC, id DESC);

-- Events stored before this migration: one batch over all of them, with the word every search
-- includes, so they are still found (read at search time).
INSERT INTO audit_word_batches (at_min, at_max, words)
SELECT min(at), max(at), array_to_tsvector(ARRAY['-every-'])
FROM audit_events
HAVING count(*) > 0;

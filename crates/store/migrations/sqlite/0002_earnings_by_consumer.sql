-- The load applies D9 in SQL: the self-dealing jobs of a machine are found
-- by (machine, consumer, at). The new index also serves every lookup by
-- machine that `earnings_machine_at` served, so it replaces it.
CREATE INDEX earnings_machine_consumer_at ON earnings (machine_id, consumer_account_id, at_ms);
DROP INDEX earnings_machine_at;

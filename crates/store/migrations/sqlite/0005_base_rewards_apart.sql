-- A settlement writes one `base_reward` earning per draw (tens of thousands
-- at once). In `earnings_machine_consumer_at`, keyed by machine, each of them
-- lands on a random page of an index as large as the earnings themselves (a
-- gigabyte at 20 000 000 earnings): at 100 000 machines on PostgreSQL that
-- insert took 0.7–1.6 s of the commit. Base rewards now have a small index of
-- their own, and the large one holds every other kind. The one query that
-- reads earnings by machine (`load::machine_earnings`, for explanations)
-- reads both parts.
DROP INDEX earnings_machine_consumer_at;
CREATE INDEX earnings_machine_consumer_at ON earnings (machine_id, consumer_account_id, at_ms)
    WHERE kind <> 'base_reward';
CREATE INDEX earnings_base_reward ON earnings (machine_id, at_ms)
    WHERE kind = 'base_reward';

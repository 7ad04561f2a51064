-- Every earning in exactly one index keyed by machine: D9's candidates in
-- `earnings_organic` (migration 3), base rewards in `earnings_base_reward`
-- (migration 5), every other earning (probes, pinned and zero-amount jobs)
-- here. Migrations 3 and 5 had left the candidates in a second machine index
-- too, and each such index costs an ingest a random page per earning (the
-- store bench's 1 000 000 earnings: SQLite 13 s before migration 3, 31 s
-- after migration 5). The one query that reads earnings by machine
-- (`load::machine_earnings`) reads the three parts.
DROP INDEX earnings_machine_consumer_at;
CREATE INDEX earnings_machine_other ON earnings (machine_id, at_ms)
    WHERE kind <> 'base_reward'
      AND NOT (kind = 'inference' AND NOT pinned AND amount_micro_usd > 0);

-- D9's candidates (positive, unpinned inference jobs), the only earnings the
-- load sums (`load::organic_sql`), with everything it reads of them: the
-- machine to group by, the consumer and time to find the self-dealing ones,
-- the amount (SQLite has no INCLUDE: the last key column). The load reads
-- this index alone, in machine order, instead of the table.
CREATE INDEX earnings_organic ON earnings (machine_id, consumer_account_id, at_ms, amount_micro_usd)
    WHERE kind = 'inference' AND NOT pinned AND amount_micro_usd > 0;

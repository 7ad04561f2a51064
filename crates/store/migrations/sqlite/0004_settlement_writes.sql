-- The same change as PostgreSQL's migration 4: the machine and run keys of
-- `floor_draws` and `machine_totals` are checked once per settlement in bulk
-- (`settle::check_invariants`) instead of row by row. SQLite cannot drop a
-- constraint, so both tables are rebuilt (nothing references them).
CREATE TABLE floor_draws_new (
    epoch TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    amount_micro_usd INTEGER NOT NULL CHECK (amount_micro_usd > 0),
    verified_memory_gb INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (machine_id, account_id, epoch)
);
INSERT INTO floor_draws_new SELECT epoch, machine_id, account_id, amount_micro_usd,
    verified_memory_gb, run_id, created_at_ms FROM floor_draws;
DROP TABLE floor_draws;
ALTER TABLE floor_draws_new RENAME TO floor_draws;
CREATE INDEX floor_draws_epoch ON floor_draws (epoch, machine_id, account_id);

CREATE TABLE machine_totals_new (
    epoch TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    earned_micro_usd INTEGER NOT NULL,
    drawn_micro_usd INTEGER NOT NULL,
    total_micro_usd INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (epoch, machine_id)
);
INSERT INTO machine_totals_new SELECT epoch, machine_id, earned_micro_usd, drawn_micro_usd,
    total_micro_usd, run_id FROM machine_totals;
DROP TABLE machine_totals;
ALTER TABLE machine_totals_new RENAME TO machine_totals;

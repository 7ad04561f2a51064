-- SPEC §6 "Fact versions". Every accepted or refined fact carries a
-- store-wide, increasing version; facts stored before this migration have
-- version 0. The counter is one row, `fact_versions`: an ingestion batch
-- reserves its versions with `UPDATE … SET last = last + n`, whose row lock
-- (PostgreSQL) is held until the batch commits, so versions commit in their
-- order and "every row with version ≤ V" is exactly what a snapshot that saw
-- `last = V` read. `read_mark` is the highest version any run has read (a
-- run raises it before it reads): a refinement copies the row it replaces
-- into `session_versions` / `binding_versions` only when that row's version
-- is ≤ `read_mark` (some run may have read it); otherwise it overwrites in
-- place. A run records the version its snapshot read (`facts_version`;
-- NULL for runs recorded before this migration).
ALTER TABLE attestations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE aliases ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bindings ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE health ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE earnings ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE probes ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE settlement_runs ADD COLUMN facts_version BIGINT;

CREATE TABLE fact_versions (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL,
    read_mark BIGINT NOT NULL
);
INSERT INTO fact_versions (id, last, read_mark) VALUES (1, 0, 0);

-- A refined session or binding as it was at `version`, kept because some
-- run may have read it; the current row is in `sessions` / `bindings`.
CREATE TABLE session_versions (
    session_id TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    connected_at_ms BIGINT NOT NULL,
    last_seen_at_ms BIGINT,
    disconnected_at_ms BIGINT,
    version BIGINT NOT NULL,
    PRIMARY KEY (session_id, version)
);

CREATE TABLE binding_versions (
    machine_id TEXT NOT NULL,
    from_ms BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    payout_identity TEXT NOT NULL,
    to_ms BIGINT,
    version BIGINT NOT NULL,
    PRIMARY KEY (machine_id, from_ms, version)
);

-- The previous period's totals (D11's P) a run read: the run whose totals
-- stood in `machine_totals` for the previous epoch in its snapshot
-- (NULL: none), and every set of totals a re-settlement replaced, so that
-- a run's previous totals stay readable as it read them.
ALTER TABLE settlement_runs ADD COLUMN previous_totals_run_id BIGINT;
CREATE TABLE machine_totals_history (
    epoch TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    earned_micro_usd BIGINT NOT NULL,
    drawn_micro_usd BIGINT NOT NULL,
    total_micro_usd BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (epoch, run_id, machine_id)
);

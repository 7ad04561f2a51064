-- floorline store, SQLite schema v1. Append-only: never edit a released
-- migration, add a new file. Money is INTEGER micro-USD, instants INTEGER ms
-- since the Unix epoch (UTC), booleans INTEGER 0/1.

-- D1: a machine is what has been attested (one row per attested machine id).
CREATE TABLE machines (
    machine_id TEXT PRIMARY KEY NOT NULL
);

CREATE TABLE attestations (
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    attested_at_ms INTEGER NOT NULL,
    hardware_model TEXT NOT NULL,
    reported_memory_gb INTEGER NOT NULL CHECK (reported_memory_gb >= 0),
    trust TEXT NOT NULL CHECK (trust IN ('none', 'self_signed', 'hardware')),
    se_public_key TEXT,
    PRIMARY KEY (machine_id, attested_at_ms)
);

CREATE TABLE aliases (
    provider_key TEXT PRIMARY KEY NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    from_ms INTEGER NOT NULL
);
CREATE INDEX aliases_machine ON aliases (machine_id);

CREATE TABLE bindings (
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    from_ms INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    payout_identity TEXT NOT NULL,
    to_ms INTEGER CHECK (to_ms IS NULL OR to_ms > from_ms),
    PRIMARY KEY (machine_id, from_ms)
);
CREATE INDEX bindings_account ON bindings (account_id);

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    connected_at_ms INTEGER NOT NULL,
    last_seen_at_ms INTEGER,
    disconnected_at_ms INTEGER
);
CREATE INDEX sessions_machine ON sessions (machine_id);
CREATE INDEX sessions_connected ON sessions (connected_at_ms);

CREATE TABLE health (
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    at_ms INTEGER NOT NULL,
    healthy INTEGER NOT NULL,
    reason TEXT,
    PRIMARY KEY (machine_id, at_ms)
);
CREATE INDEX health_at ON health (at_ms);

CREATE TABLE earnings (
    job_id TEXT PRIMARY KEY NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    consumer_account_id TEXT NOT NULL,
    amount_micro_usd INTEGER NOT NULL CHECK (amount_micro_usd >= 0),
    kind TEXT NOT NULL CHECK (kind IN ('inference', 'probe', 'base_reward')),
    pinned INTEGER NOT NULL,
    model TEXT,
    at_ms INTEGER NOT NULL
);
CREATE INDEX earnings_at ON earnings (at_ms);
CREATE INDEX earnings_machine_at ON earnings (machine_id, at_ms);

CREATE TABLE probes (
    probe_id TEXT PRIMARY KEY NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    at_ms INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    failure TEXT,
    model TEXT,
    verified_memory_gb INTEGER CHECK (verified_memory_gb IS NULL OR verified_memory_gb >= 0)
);
CREATE INDEX probes_at ON probes (at_ms);
CREATE INDEX probes_machine_at ON probes (machine_id, at_ms);

-- SPEC §6 completeness: "everything up to up_to_ms has been sent" per source.
CREATE TABLE watermarks (
    source TEXT PRIMARY KEY NOT NULL,
    up_to_ms INTEGER NOT NULL
);

-- Balances always equal the sum of the account's ledger entries.
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY NOT NULL,
    balance_micro_usd INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    amount_micro_usd INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('provider_floor_draw', 'adjustment', 'clawback')),
    reference TEXT NOT NULL UNIQUE,
    epoch TEXT,
    machine_id TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX ledger_account ON ledger_entries (account_id, id);

CREATE TABLE settlement_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('live', 'preview')),
    actor TEXT NOT NULL,
    forced INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    pool_micro_usd INTEGER NOT NULL,
    already_settled_micro_usd INTEGER NOT NULL,
    granted_total_micro_usd INTEGER NOT NULL,
    unallocated_micro_usd INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    n_machines INTEGER NOT NULL,
    n_eligible INTEGER NOT NULL,
    n_draws INTEGER NOT NULL,
    trailing_revenue_micro_usd INTEGER NOT NULL,
    budget_micro_usd INTEGER NOT NULL,
    reserve_micro_usd INTEGER NOT NULL,
    policy_json TEXT NOT NULL,
    plan_json TEXT NOT NULL
);
CREATE INDEX settlement_runs_epoch ON settlement_runs (epoch, mode, id);

-- The unique key is the real guard against paying a share twice.
CREATE TABLE floor_draws (
    epoch TEXT NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    amount_micro_usd INTEGER NOT NULL CHECK (amount_micro_usd > 0),
    verified_memory_gb INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES settlement_runs (id),
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (machine_id, account_id, epoch)
);
CREATE INDEX floor_draws_epoch ON floor_draws (epoch, machine_id, account_id);

-- Per-epoch machine totals (organic earned + drawn): the next epoch's previous_totals.
CREATE TABLE machine_totals (
    epoch TEXT NOT NULL,
    machine_id TEXT NOT NULL REFERENCES machines (machine_id),
    earned_micro_usd INTEGER NOT NULL,
    drawn_micro_usd INTEGER NOT NULL,
    total_micro_usd INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES settlement_runs (id),
    PRIMARY KEY (epoch, machine_id)
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    role TEXT NOT NULL CHECK (role IN ('admin', 'ingest', 'provider')),
    account_id TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    CHECK ((role = 'provider') = (account_id IS NOT NULL))
);

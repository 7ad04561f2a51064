-- SPEC D1: a name that is a machine id always means that machine, whenever
-- its attestation arrives. A fact may name a machine through an alias whose
-- provider key no machine has (yet); it is stored under the alias's machine,
-- and this table remembers the name it was sent under, so that when a machine
-- with that id is attested its attestation batch moves those rows to it in
-- the same transaction (`ingest::rehome`). `fact_key` is the fact's text key
-- (session, job, probe id) or, for health and bindings, whose key holds the
-- machine, the machine id it was stored under, with `at_ms` the key's instant
-- (0 for the text-keyed kinds).
CREATE TABLE aliased_facts (
    provider_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('bindings', 'sessions', 'health', 'earnings', 'probes')),
    fact_key TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (provider_key, kind, fact_key, at_ms)
);

-- SPEC §9 "overflowing amounts": the sum of the ingested earnings (every kind
-- but settlement's own base rewards) per machine, and of the network under
-- machine_id '' (no machine id is empty), kept as two halves,
-- Σ(amount >> 32) and Σ(amount & 0xFFFFFFFF), so that neither can overflow
-- in SQL however large the sum; the sum is hi · 2^32 + lo. An earnings batch
-- that would take a machine's or the network's sum past i64::MAX is refused
-- (`ingest::earning_sums`), so the load's sums of them never overflow.
CREATE TABLE earning_sums (
    machine_id TEXT PRIMARY KEY NOT NULL,
    hi INTEGER NOT NULL,
    lo INTEGER NOT NULL
);
INSERT INTO earning_sums (machine_id, hi, lo)
SELECT machine_id, SUM(amount_micro_usd / 4294967296), SUM(amount_micro_usd % 4294967296)
FROM earnings WHERE kind <> 'base_reward' GROUP BY machine_id;
INSERT INTO earning_sums (machine_id, hi, lo)
SELECT '', COALESCE(SUM(hi), 0), COALESCE(SUM(lo), 0) FROM earning_sums;

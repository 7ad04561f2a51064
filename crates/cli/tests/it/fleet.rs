//! A seeded random fleet for October 2026 as a facts bundle (a small LCG, so
//! the same seed always gives the same bundle).

use serde_json::{json, Value};

pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const MODELS: &[(&str, u64)] = &[
    ("Mac14,2", 24),
    ("Mac16,10", 32),
    ("Mac16,11", 64),
    ("Mac14,5", 96),
    ("Mac15,9", 128),
    ("Mac15,14", 512),
    ("Mac14,3", 8),
];

fn at(day: u64, minute: u64) -> String {
    let base = 1_790_812_800_000i64; // 2026-10-01T00:00:00Z in ms
    let ms = base + i64::try_from(day * 86_400_000 + minute * 60_000).unwrap();
    floorline_core::Timestamp(ms).to_rfc3339()
}

/// `n` machines; machine `i` is skipped for `skip_probes_of` (to make it late).
pub fn bundle(seed: u64, n: usize, pool_micro_usd: i64) -> Value {
    let mut r = Lcg::new(seed);
    let (mut machines, mut bindings, mut sessions, mut earnings, mut probes) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let (model, gb) = MODELS[usize::try_from(r.below(MODELS.len() as u64)).unwrap()];
        let id = format!("mac-{i:03}");
        machines.push(json!({"machine_id": id, "attested_at": "2026-09-01T00:00:00Z", "hardware_model": model, "reported_memory_gb": gb, "trust": "hardware"}));
        let owner = format!("acct-{}", i % 7);
        bindings.push(json!({"machine_id": id, "account_id": owner, "payout_identity": format!("pay-{}", i % 7), "from": "2026-01-01T00:00:00Z"}));
        // Up most of the month, with an outage of 0–4 days.
        let outage = r.below(5);
        sessions.push(json!({"session_id": format!("{id}-a"), "machine_id": id, "connected_at": at(0, 0), "disconnected_at": at(10, 0)}));
        sessions.push(json!({"session_id": format!("{id}-b"), "machine_id": id, "connected_at": at(10 + outage, 0), "last_seen_at": at(31, 0)}));
        for j in 0..r.below(4) {
            earnings.push(json!({"job_id": format!("{id}-j{j}"), "machine_id": id, "consumer_account_id": format!("buyer-{}", r.below(5)), "amount_micro_usd": r.below(9_000_000), "kind": "inference", "pinned": false, "at": at(r.below(31), r.below(1440))}));
        }
        let passed = r.below(6) != 0;
        probes.push(if passed {
            json!({"probe_id": format!("{id}-p"), "machine_id": id, "at": at(5, 0), "passed": true})
        } else {
            json!({"probe_id": format!("{id}-p"), "machine_id": id, "at": at(5, 0), "passed": false, "failure": "wrong_answer"})
        });
    }
    json!({"epoch": "2026-10", "policy": {"pool_micro_usd": pool_micro_usd}, "machines": machines, "bindings": bindings, "sessions": sessions, "earnings": earnings, "probes": probes})
}

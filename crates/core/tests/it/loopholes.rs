//! The loopholes of the round-2 attack (SPEC D1, D3, D9, D12, D14, §2), each
//! as the bundle an attacker would send. Every test here fails on the rules
//! before the fix.

use super::bundle::sample;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use floorline_core::bundle::plan_bundle;
use floorline_core::policy::PolicyPatch;
use floorline_core::valuation::Reason;
use floorline_core::Plan;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::EncodePublicKey as _;
use proptest::prelude::*;
use serde_json::{json, Value};

fn plan_of(v: &Value) -> Plan {
    plan_bundle(&v.to_string(), &PolicyPatch::default()).unwrap()
}

fn err_of(v: &Value) -> String {
    plan_bundle(&v.to_string(), &PolicyPatch::default())
        .unwrap_err()
        .to_string()
}

fn machine<'a>(p: &'a Plan, id: &str) -> &'a floorline_core::plan::PlanMachine {
    p.machines.iter().find(|m| m.machine_id == id).unwrap()
}

fn total(p: &Plan) -> i64 {
    p.granted_total_micro_usd
}

/// One P-256 key as X9.63, compressed and SPKI base64.
fn key(seed: u8) -> (String, String, String) {
    let public = p256::SecretKey::from_slice(&[seed; 32])
        .unwrap()
        .public_key();
    (
        STANDARD.encode(public.to_encoded_point(false).as_bytes()),
        STANDARD.encode(public.to_encoded_point(true).as_bytes()),
        STANDARD.encode(public.to_public_key_der().unwrap().as_bytes()),
    )
}

/// One 64 GB machine `id`, up all of October, bound to `account`, with no
/// proven work unless a test adds it.
fn lone(id: &str, account: &str) -> Value {
    json!({
        "epoch": "2026-10",
        "machines": [{"machine_id": id, "attested_at": "2026-09-01T00:00:00Z",
                      "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"}],
        "bindings": [{"machine_id": id, "account_id": account, "payout_identity": format!("pay-{account}"),
                      "from": "2026-01-01T00:00:00Z"}],
        "sessions": [{"session_id": format!("s-{id}"), "machine_id": id,
                      "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-01T00:00:00Z"}],
        "earnings": [], "probes": [], "prior_draws": [], "previous_totals": []
    })
}

#[test]
fn a_job_bought_in_a_binding_gap_proves_nothing() {
    // D9: mallory unbinds her machine for one minute and buys her own 1 µUSD
    // job in the gap. Her account is a self account all month.
    let mut v = lone("m", "mallory");
    v["bindings"] = json!([
        {"machine_id": "m", "account_id": "mallory", "payout_identity": "pay-m",
         "from": "2026-01-01T00:00:00Z", "to": "2026-10-10T00:00:00Z"},
        {"machine_id": "m", "account_id": "mallory", "payout_identity": "pay-m",
         "from": "2026-10-10T00:01:00Z"}
    ]);
    v["earnings"] = json!([{"job_id": "gap", "machine_id": "m", "consumer_account_id": "mallory",
        "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-10-10T00:00:30Z"}]);
    let p = plan_of(&v);
    assert_eq!(machine(&p, "m").reasons, vec![Reason::NoProvenWork]);
    assert_eq!(machine(&p, "m").earned_micro_usd, 0);
    // A second account linked to her payout identity by another machine's
    // binding is hers too, and so is a later owner's account.
    v["machines"].as_array_mut().unwrap().push(
        json!({"machine_id": "other", "attested_at": "2026-09-01T00:00:00Z",
            "hardware_model": "Mac14,2", "reported_memory_gb": 24, "trust": "hardware"}),
    );
    v["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"machine_id": "other",
        "account_id": "mallory-2", "payout_identity": "pay-m", "from": "2026-01-01T00:00:00Z"}));
    v["earnings"][0]["consumer_account_id"] = json!("mallory-2");
    assert_eq!(
        machine(&plan_of(&v), "m").reasons,
        vec![Reason::NoProvenWork]
    );
    // A stranger's job in the same gap is organic.
    v["earnings"][0]["consumer_account_id"] = json!("carol");
    assert!(machine(&plan_of(&v), "m").eligible);
}

#[test]
fn a_binding_from_after_the_epoch_makes_no_self_account() {
    // D9 reads bindings with `from < E`: carol buys from m in October and
    // buys the machine in November; her October job was organic.
    let mut v = lone("m", "alice");
    v["bindings"][0]["to"] = json!("2026-11-05T00:00:00Z");
    v["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"machine_id": "m",
        "account_id": "carol", "payout_identity": "pay-c", "from": "2026-11-05T00:00:00Z"}));
    v["earnings"] = json!([{"job_id": "j", "machine_id": "m", "consumer_account_id": "carol",
        "amount_micro_usd": 5, "kind": "inference", "pinned": false, "at": "2026-10-10T00:00:00Z"}]);
    let p = plan_of(&v);
    assert!(machine(&p, "m").eligible, "{:?}", machine(&p, "m"));
    assert_eq!(machine(&p, "m").earned_micro_usd, 5);
}

#[test]
fn one_secure_enclave_key_under_two_machine_ids_is_paid_once() {
    // D12: the same key, once as an X9.63 point and once as an SPKI.
    let (x963, compressed, spki) = key(9);
    let mut v = sample();
    v["machines"][0]["se_public_key"] = json!(x963);
    v["machines"][1]["se_public_key"] = json!(spki);
    let p = plan_of(&v);
    assert!(machine(&p, "m1").eligible);
    assert_eq!(machine(&p, "m2").reasons, vec![Reason::DuplicateIdentity]);
    assert_eq!(machine(&p, "m2").granted_micro_usd, 0);
    // Compressed is the same key too; a different key is no duplicate.
    v["machines"][1]["se_public_key"] = json!(compressed);
    assert_eq!(
        machine(&plan_of(&v), "m2").reasons,
        vec![Reason::DuplicateIdentity]
    );
    v["machines"][1]["se_public_key"] = json!(key(10).0);
    assert!(machine(&plan_of(&v), "m2").eligible);
}

#[test]
fn only_the_latest_attestation_before_the_end_carries_the_identity() {
    // m2 re-attests with a key of its own in October: no longer a duplicate.
    let (x963, _, _) = key(9);
    let mut v = sample();
    v["machines"][0]["se_public_key"] = json!(x963);
    v["machines"][1]["se_public_key"] = json!(x963);
    let mut again = v["machines"][1].clone();
    again["attested_at"] = json!("2026-10-02T00:00:00Z");
    again["se_public_key"] = json!(key(11).0);
    v["machines"].as_array_mut().unwrap().push(again);
    assert!(machine(&plan_of(&v), "m2").eligible);
}

#[test]
fn a_last_hour_re_attestation_never_raises_the_month_tier() {
    // D3: attested as a 24 GB Mac14,2 all month, then as a 512 GB Mac15,14
    // in October's last hour.
    let mut v = sample();
    v["machines"]
        .as_array_mut()
        .unwrap()
        .push(json!({"machine_id": "m2",
        "attested_at": "2026-10-31T23:30:00Z", "hardware_model": "Mac15,14",
        "reported_memory_gb": 512, "trust": "hardware"}));
    let p = plan_of(&v);
    assert_eq!(machine(&p, "m2").verified_memory_gb, 24);
    assert_eq!(machine(&p, "m2").tier_floor_micro_usd, 10_000_000);
    // A late re-attestation that lowers the tier lowers it for the month,
    // and the lowest trust in force is the month's.
    let mut v = sample();
    v["machines"]
        .as_array_mut()
        .unwrap()
        .push(json!({"machine_id": "m1",
        "attested_at": "2026-10-31T23:30:00Z", "hardware_model": "Mac14,2",
        "reported_memory_gb": 24, "trust": "none"}));
    let p = plan_of(&v);
    assert_eq!(machine(&p, "m1").verified_memory_gb, 24);
    assert_eq!(machine(&p, "m1").reasons, vec![Reason::NotAttested]);
    // An attestation before S that a later one before S replaced is not in force.
    let mut v = sample();
    v["machines"][1]["hardware_model"] = json!("Mac15,14");
    v["machines"][1]["reported_memory_gb"] = json!(512);
    v["machines"][1]["attested_at"] = json!("2026-08-01T00:00:00Z");
    v["machines"]
        .as_array_mut()
        .unwrap()
        .push(json!({"machine_id": "m2",
        "attested_at": "2026-10-01T00:00:00Z", "hardware_model": "Mac16,11",
        "reported_memory_gb": 64, "trust": "hardware"}));
    assert_eq!(machine(&plan_of(&v), "m2").verified_memory_gb, 64);
}

#[test]
fn the_account_cap_binds_on_the_payee_not_on_each_account() {
    // D14: three accounts of one payout identity own three 64 GB machines;
    // the cap is one machine's floor.
    let mut v = json!({"epoch": "2026-10", "machines": [], "bindings": [], "sessions": [],
        "earnings": [], "probes": [], "prior_draws": [], "previous_totals": [],
        "policy": {"account_cap": 0.002}});
    for (i, account) in ["eve-a", "eve-b", "eve-c"].iter().enumerate() {
        let one = lone(&format!("m{i}"), account);
        for list in ["machines", "sessions"] {
            v[list].as_array_mut().unwrap().push(one[list][0].clone());
        }
        let mut b = one["bindings"][0].clone();
        b["payout_identity"] = json!("pay-eve");
        v["bindings"].as_array_mut().unwrap().push(b);
        v["probes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"probe_id": format!("p{i}"),
            "machine_id": format!("m{i}"), "at": "2026-10-05T00:00:00Z", "passed": true}));
    }
    // ⌊9 000 000 000 · 0.002⌋ = 18 000 000: one floor, for all three.
    let p = plan_of(&v);
    assert_eq!(total(&p), 18_000_000, "{:?}", p.machines);
    // Unlinked, each account is a payee of its own.
    for i in 0..3 {
        v["bindings"][i]["payout_identity"] = json!(format!("pay-{i}"));
    }
    assert_eq!(total(&plan_of(&v)), 3 * 18_000_000);
}

#[test]
fn contradictory_probe_facts_are_bad_input() {
    let mut v = sample();
    v["probes"] = json!([{"probe_id": "p", "machine_id": "m1", "at": "2026-10-05T00:00:00Z",
        "passed": true, "failure": "timeout"}]);
    assert!(err_of(&v).starts_with("probes[0].failure: a passed probe has no failure"));
    v["probes"][0] = json!({"probe_id": "p", "machine_id": "m1", "at": "2026-10-05T00:00:00Z",
        "passed": false, "failure": "timeout", "verified_memory_gb": 64});
    assert!(
        err_of(&v).starts_with("probes[0].verified_memory_gb: a failed probe verifies no memory")
    );
    v["probes"][0] = json!({"probe_id": "p", "machine_id": "m1", "at": "2026-10-05T00:00:00Z",
        "passed": false});
    assert!(err_of(&v).starts_with("probes[0].failure: a failed probe must name its failure"));
}

#[test]
fn malformed_se_keys_are_bad_input() {
    let mut v = sample();
    v["machines"][0]["se_public_key"] = json!("bm90IGEga2V5");
    assert!(
        err_of(&v).starts_with("machines[0].se_public_key: 9 bytes"),
        "{}",
        err_of(&v)
    );
}

#[test]
fn require_own_probes_reads_only_the_probers_facts() {
    let mut v = lone("m", "alice");
    v["probes"] = json!([{"probe_id": "p", "machine_id": "m", "at": "2026-10-05T00:00:00Z",
        "passed": true}]);
    assert!(machine(&plan_of(&v), "m").eligible);
    v["policy"] = json!({"require_own_probes": true});
    assert_eq!(
        machine(&plan_of(&v), "m").reasons,
        vec![Reason::NoProvenWork]
    );
    v["probes"][0]["source"] = json!("prober");
    assert!(machine(&plan_of(&v), "m").eligible);
}

#[test]
fn a_negative_window_is_named_in_our_words() {
    let mut v = sample();
    v["policy"] = json!({"work_window_days": -5});
    assert!(
        err_of(&v).starts_with("policy.work_window_days: must be a whole number between 1 and 366"),
        "{}",
        err_of(&v)
    );
}

/// A small random fleet as a bundle: up to four machines owned by up to
/// three accounts (two of which may share a payout identity), bindings with
/// gaps, random jobs and probes.
fn arb_bundle() -> impl Strategy<Value = Value> {
    let machine = (
        0usize..3,
        any::<bool>(),
        0u32..28,
        prop::collection::vec((0usize..5, 0u32..40, 1i64..30_000_000), 0..4),
        any::<bool>(),
        prop::sample::select(vec![24u32, 48, 64, 128]),
    );
    (prop::collection::vec(machine, 1..5), any::<bool>(), 0i64..100_000_000).prop_map(
        |(machines, shared, pool)| {
            let consumers = ["acct0", "acct1", "acct2", "carol", "dave"];
            let mut v = json!({"epoch": "2026-10", "machines": [], "bindings": [], "sessions": [],
                "earnings": [], "probes": [], "prior_draws": [], "previous_totals": [],
                "policy": {"pool_micro_usd": pool}});
            for (i, (owner, gap, gap_day, jobs, probe, gb)) in machines.into_iter().enumerate() {
                let id = format!("m{i}");
                let acct = format!("acct{owner}");
                let pay = if shared && owner < 2 { "pay-shared".to_string() } else { format!("pay{owner}") };
                let push = |v: &mut Value, list: &str, item: Value| v[list].as_array_mut().unwrap().push(item);
                push(&mut v, "machines", json!({"machine_id": id, "attested_at": "2026-09-01T00:00:00Z",
                    "hardware_model": "Mac15,14", "reported_memory_gb": gb, "trust": "hardware"}));
                push(&mut v, "sessions", json!({"session_id": format!("s{i}"), "machine_id": id,
                    "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-01T00:00:00Z"}));
                let day = |d: u32| format!("2026-10-{:02}T00:00:00Z", d + 1);
                if gap {
                    push(&mut v, "bindings", json!({"machine_id": id, "account_id": acct, "payout_identity": pay,
                        "from": "2026-01-01T00:00:00Z", "to": day(gap_day)}));
                    push(&mut v, "bindings", json!({"machine_id": id, "account_id": acct, "payout_identity": pay,
                        "from": day(gap_day + 1)}));
                } else {
                    push(&mut v, "bindings", json!({"machine_id": id, "account_id": acct, "payout_identity": pay,
                        "from": "2026-01-01T00:00:00Z"}));
                }
                for (j, (c, d, amount)) in jobs.into_iter().enumerate() {
                    let at = if d < 31 { day(d) } else { format!("2026-09-{:02}T00:00:00Z", d - 30) };
                    push(&mut v, "earnings", json!({"job_id": format!("j{i}-{j}"), "machine_id": id,
                        "consumer_account_id": consumers[c], "amount_micro_usd": amount,
                        "kind": "inference", "pinned": false, "at": at}));
                }
                if probe {
                    push(&mut v, "probes", json!({"probe_id": format!("p{i}"), "machine_id": id,
                        "at": "2026-10-03T00:00:00Z", "passed": true}));
                }
            }
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// D9: jobs bought by a machine's self accounts — its owners' accounts
    /// and every account linked to their payout identities — at any time,
    /// gaps included, change nothing: no draw rises.
    #[test]
    fn self_account_jobs_never_raise_a_draw(v in arb_bundle(), extra in prop::collection::vec((0usize..4, 0u32..31, 1i64..1_000_000), 1..6)) {
        let before = plan_of(&v);
        let mut more = v.clone();
        let bindings = v["bindings"].as_array().unwrap().clone();
        let machines = v["machines"].as_array().unwrap().len();
        for (k, (m, d, amount)) in extra.into_iter().enumerate() {
            let id = format!("m{}", m % machines);
            // Some self account of `id`: an owner's account or one linked
            // to an owner's payout identity by any binding.
            let pays: Vec<&Value> = bindings.iter().filter(|b| b["machine_id"] == json!(id)).map(|b| &b["payout_identity"]).collect();
            let selves: Vec<&Value> = bindings.iter().filter(|b| pays.contains(&&b["payout_identity"])).map(|b| &b["account_id"]).collect();
            let consumer = selves[k % selves.len()].clone();
            more["earnings"].as_array_mut().unwrap().push(json!({"job_id": format!("self-{k}"),
                "machine_id": id, "consumer_account_id": consumer, "amount_micro_usd": amount,
                "kind": "inference", "pinned": false, "at": format!("2026-10-{:02}T12:00:00Z", d + 1)}));
        }
        let after = plan_of(&more);
        for (b, a) in before.machines.iter().zip(&after.machines) {
            prop_assert!(a.desired_draw_micro_usd <= b.desired_draw_micro_usd, "{} desired rose", a.machine_id);
            prop_assert!(a.granted_micro_usd <= b.granted_micro_usd, "{} was paid more", a.machine_id);
        }
        // Stronger: they are not organic, so nothing changes at all.
        prop_assert_eq!(&before.machines, &after.machines);
        prop_assert_eq!(before.manifest_sha256, after.manifest_sha256);
    }

    /// D12: another machine id attested with a key some machine already
    /// holds (in any encoding) never raises the total paid.
    #[test]
    fn a_second_id_with_an_existing_key_never_raises_the_total(v in arb_bundle(), holder in 0usize..4, encoding in 0usize..3, gb in prop::sample::select(vec![24u32, 64, 512])) {
        let mut v = v;
        let n = v["machines"].as_array().unwrap().len();
        let keys = [key(21), key(22), key(23), key(24)];
        for i in 0..n {
            v["machines"][i]["se_public_key"] = json!(keys[i].0);
        }
        let before = plan_of(&v);
        let h = holder % n;
        let (x963, compressed, spki) = &keys[h];
        let copy_key = [x963, compressed, spki][encoding];
        let mut more = v.clone();
        let push = |v: &mut Value, list: &str, item: Value| v[list].as_array_mut().unwrap().push(item);
        // The copy sorts after every real machine (`z…` > `m…`).
        push(&mut more, "machines", json!({"machine_id": "z-copy", "attested_at": "2026-09-01T00:00:00Z",
            "hardware_model": "Mac15,14", "reported_memory_gb": gb, "trust": "hardware", "se_public_key": copy_key}));
        push(&mut more, "bindings", json!({"machine_id": "z-copy", "account_id": "zed", "payout_identity": "pay-zed",
            "from": "2026-01-01T00:00:00Z"}));
        push(&mut more, "sessions", json!({"session_id": "s-copy", "machine_id": "z-copy",
            "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-01T00:00:00Z"}));
        push(&mut more, "probes", json!({"probe_id": "p-copy", "machine_id": "z-copy",
            "at": "2026-10-03T00:00:00Z", "passed": true}));
        let after = plan_of(&more);
        prop_assert!(total(&after) <= total(&before), "{} > {}", total(&after), total(&before));
        prop_assert_eq!(&machine(&after, "z-copy").reasons, &vec![Reason::DuplicateIdentity]);
    }
}

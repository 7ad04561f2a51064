//! The checker is not vacuous: after a clean trial it finds nothing, and
//! each violation planted behind floorline's back (a raw SQL write) is
//! reported — by the model-free invariants and by the model.

use floorline_proving::dst::{Backend, Options, Trial};

/// A finished trial with draws, its checker clean.
async fn settled_trial() -> Trial {
    for seed in 0..20 {
        let mut t = Trial::new(seed, Backend::Sqlite, &Options::default())
            .await
            .unwrap();
        t.run().await;
        assert!(t.report.passed(), "seed {seed}: {:#?}", t.report.violations);
        if !t.model.draws.is_empty() {
            assert_eq!(t.check().await, Vec::<String>::new());
            return t;
        }
        t.teardown().await;
    }
    panic!("no seed in 0..20 settled a draw");
}

fn first_draw(t: &Trial) -> (String, String, String, i64) {
    let ((e, m, a), d) = t.model.draws.iter().next().unwrap();
    (e.to_string(), m.clone(), a.clone(), d.amount_micro_usd)
}

fn assert_reports(found: &[String], needles: &[&str]) {
    for n in needles {
        assert!(
            found.iter().any(|f| f.contains(n)),
            "expected a violation containing {n:?}, got {found:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_balance_is_reported() {
    let t = settled_trial().await;
    let (_, _, account, _) = first_draw(&t);
    let n = t
        .raw
        .execute(&format!(
            "UPDATE accounts SET balance_micro_usd = balance_micro_usd + 1 \
             WHERE account_id = '{account}'"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let found = t.check().await;
    assert_reports(
        &found,
        &[
            &format!("balance of {account} is"),
            &format!("balance of {account}: store"),
        ],
    );
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_frozen_draw_is_reported() {
    let t = settled_trial().await;
    let (epoch, machine, account, _) = first_draw(&t);
    t.raw
        .execute(&format!(
            "UPDATE floor_draws SET amount_micro_usd = amount_micro_usd + 1 \
             WHERE epoch = '{epoch}' AND machine_id = '{machine}' AND account_id = '{account}'"
        ))
        .await
        .unwrap();
    let found = t.check().await;
    assert_reports(
        &found,
        &[
            "frozen draw",
            "no matching ledger credit",
            "draws differ from the model",
        ],
    );
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_credit_for_one_draw_is_reported() {
    let t = settled_trial().await;
    let (epoch, machine, account, amount) = first_draw(&t);
    // A double credit that keeps balance = Σ ledger: only the one-credit-per-draw
    // rule and the model can see it.
    t.raw
        .execute(&format!(
            "INSERT INTO ledger_entries (account_id, amount_micro_usd, kind, reference, epoch, \
             machine_id, actor, created_at_ms) VALUES ('{account}', {amount}, \
             'provider_floor_draw', 'floor:{epoch}:{machine}:{account}:again', '{epoch}', \
             '{machine}', 'intruder', 0)"
        ))
        .await
        .unwrap();
    t.raw
        .execute(&format!(
            "UPDATE accounts SET balance_micro_usd = balance_micro_usd + {amount} \
             WHERE account_id = '{account}'"
        ))
        .await
        .unwrap();
    let found = t.check().await;
    assert!(
        !found
            .iter()
            .any(|f| f.contains(" is ") && f.contains("Σ ledger")),
        "the balance still equals Σ ledger: {found:#?}"
    );
    assert_reports(
        &found,
        &[
            "floor-draw ledger credits for",
            &format!("balance of {account}: store"),
        ],
    );
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draws_over_the_pool_are_reported() {
    let t = settled_trial().await;
    let (epoch, machine, account, _) = first_draw(&t);
    let pool = t.scenario.policy.pool_micro_usd;
    t.raw
        .execute(&format!(
            "UPDATE floor_draws SET amount_micro_usd = {} WHERE epoch = '{epoch}' \
             AND machine_id = '{machine}' AND account_id = '{account}'",
            pool + 1
        ))
        .await
        .unwrap();
    let found = t.check().await;
    assert_reports(&found, &[&format!("Σ draws of {epoch} = "), "> pool"]);
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_for_an_open_epoch_is_reported() {
    let t = settled_trial().await;
    let (epoch, machine, account, _) = first_draw(&t);
    t.raw
        .execute(&format!(
            "UPDATE floor_draws SET created_at_ms = 0 WHERE epoch = '{epoch}' \
             AND machine_id = '{machine}' AND account_id = '{account}'"
        ))
        .await
        .unwrap();
    let found = t.check().await;
    assert_reports(&found, &["before its epoch closed"]);
    t.teardown().await;
}

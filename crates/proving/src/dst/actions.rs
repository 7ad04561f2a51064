//! The steps of a trial that feed facts and move time: sending released
//! batches (out of order), exact re-sends, conflicting re-sends, invalid
//! batches, backward watermarks, clock moves, restarts and adjustments — and
//! the dispatcher that picks one step at random.

use floorline_core::bundle::{Binding, Earning, Session};
use floorline_core::{FactKind, Watermark};
use floorline_engine::{Engine, EngineError};
use floorline_store::{Adjust, AdjustKind, IngestReport, Store, StoreError, MAX_BATCH_ITEMS};
use rand::seq::SliceRandom;
use rand::Rng;

use super::gen::{FactBatch, DAY_MS, HOUR_MS, MINUTE_MS};
use super::model::{IngestExpect, ModelAdjustment};
use super::Trial;

/// How a batch went, as far as the trial cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Accepted,
    Rejected,
}

fn json<T: serde::Serialize>(items: &T) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// Sends `batch` straight to the store.
async fn to_store(store: &Store, batch: &FactBatch) -> Result<IngestReport, StoreError> {
    match batch {
        FactBatch::Attestations(v) => store.ingest(v).await,
        FactBatch::Aliases(v) => store.ingest(v).await,
        FactBatch::Bindings(v) => store.ingest(v).await,
        FactBatch::Sessions(v) => store.ingest(v).await,
        FactBatch::Health(v) => store.ingest(v).await,
        FactBatch::Earnings(v) => store.ingest(v).await,
        FactBatch::Probes(v) => store.ingest(v).await,
        FactBatch::Watermarks(v) => store.ingest(v).await,
    }
}

/// Sends `batch` as the HTTP API does: a JSON body parsed by the engine.
async fn as_json(engine: &Engine, batch: &FactBatch) -> Result<IngestReport, EngineError> {
    let body = match batch {
        FactBatch::Attestations(v) => json(v),
        FactBatch::Aliases(v) => json(v),
        FactBatch::Bindings(v) => json(v),
        FactBatch::Sessions(v) => json(v),
        FactBatch::Health(v) => json(v),
        FactBatch::Earnings(v) => json(v),
        FactBatch::Probes(v) => json(v),
        FactBatch::Watermarks(v) => json(v),
    };
    let kind = FactKind::parse(batch.kind())
        .ok_or_else(|| EngineError::Other(format!("no fact kind {}", batch.kind())))?;
    engine.ingest_json(kind, &body, MAX_BATCH_ITEMS).await
}

impl Trial {
    /// Picks and runs one step; returns its name and what it found wrong.
    pub(crate) async fn random_action(&mut self) -> (String, Vec<String>) {
        let now = self.clock.get();
        let released: Vec<usize> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.release_ms <= now)
            .map(|(i, _)| i)
            .collect();
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=29 if released.is_empty() => self.move_clock(),
            0..=29 => self.send_released(released).await,
            30..=33 => self.resend().await,
            34..=37 => self.conflicting().await,
            38..=40 => self.invalid().await,
            41..=44 => self.refine().await,
            45..=55 => self.move_clock(),
            56..=65 => self.settle_manual().await,
            66 => self.dry_run().await,
            67..=68 => self.preview().await,
            // Period seeds: a scheduler tick (which settles every closed,
            // unsettled period of two months, D24) or a `settle_month`, half
            // each; 5-minute seeds whose ticks would settle the whole month
            // before their span take `settle_month` only (see the module
            // docs of `dst`).
            69..=78 if self.scenario.has_periods() => {
                if self.period_ticks_bounded() && self.rng.gen_bool(0.5) {
                    self.tick().await
                } else {
                    self.settle_month_step().await
                }
            }
            69..=78 => self.tick().await,
            79..=81 => self.verify_step().await,
            82..=84 if self.opts.floorline_bin.is_some() && self.rng.gen_bool(0.5) => {
                self.concurrent_processes().await
            }
            82..=84 => self.concurrent().await,
            85..=86 => self.restart().await,
            87..=88 => self.adjust().await,
            89..=91 if self.opts.floorline_bin.is_some() => self.process_crash().await,
            _ => self.move_clock(),
        }
    }

    /// Sends a batch and compares the answer with the model's.
    pub(crate) async fn send(&mut self, batch: &FactBatch) -> (Sent, Vec<String>) {
        let expect = self.model.ingest(batch);
        let via_json = self.rng.gen_bool(0.5);
        let got: Result<IngestReport, (bool, String)> = if via_json {
            as_json(&self.engine, batch)
                .await
                .map_err(|e| (e.is_bad_input(), e.to_string()))
        } else {
            to_store(&self.store, batch)
                .await
                .map_err(|e| (matches!(e, StoreError::Invalid(_)), e.to_string()))
        };
        self.report.batches_sent += 1;
        self.sent.push(batch.clone());
        let how = if via_json { "json" } else { "store" };
        match (expect, got) {
            (IngestExpect::Invalid(why), Err((true, _))) => {
                if self.opts.trace {
                    eprintln!("    {} batch rejected: {why}", batch.kind());
                }
                self.report.batches_rejected += 1;
                (Sent::Rejected, vec![])
            }
            (IngestExpect::Invalid(why), other) => (
                Sent::Rejected,
                vec![format!(
                    "{} batch ({how}) should be rejected whole ({why}), got {other:?}",
                    batch.kind()
                )],
            ),
            (
                IngestExpect::Report {
                    accepted,
                    refined,
                    duplicates,
                    conflicts,
                },
                Ok(r),
            ) => {
                self.report.refined += r.refined;
                self.report.duplicates += r.duplicates;
                self.report.conflicts += u64::try_from(r.conflicts.len()).unwrap_or(0);
                let got: Vec<usize> = r.conflicts.iter().map(|c| c.index).collect();
                if r.accepted == accepted
                    && r.refined == refined
                    && r.duplicates == duplicates
                    && got == conflicts
                {
                    (Sent::Accepted, vec![])
                } else {
                    (
                        Sent::Accepted,
                        vec![format!(
                            "{} batch ({how}): expected accepted {accepted}, refined \
                             {refined}, duplicates {duplicates}, conflicts {conflicts:?}; got {r:?}",
                            batch.kind()
                        )],
                    )
                }
            }
            (IngestExpect::Report { .. }, Err((_, e))) => (
                Sent::Rejected,
                vec![format!("{} batch ({how}) refused: {e}", batch.kind())],
            ),
        }
    }

    /// Sends a handful of the oldest released batches, shuffled (out of order).
    async fn send_released(&mut self, mut released: Vec<usize>) -> (String, Vec<String>) {
        released.sort_by_key(|&i| self.pending.get(i).map(|p| p.release_ms));
        let k = self.rng.gen_range(1..=12);
        released.truncate(k + 6);
        released.shuffle(&mut self.rng);
        released.truncate(k);
        if self.rng.gen_bool(0.7) {
            // Usually machines go before what names them; not always.
            released.sort_by_key(|&i| self.pending.get(i).map(|p| p.batch.flush_rank()));
        }
        let mut found = Vec::new();
        let mut accepted = Vec::new();
        for &i in &released {
            let Some(batch) = self.pending.get(i).map(|p| p.batch.clone()) else {
                continue;
            };
            let (sent, f) = self.send(&batch).await;
            found.extend(f);
            if sent == Sent::Accepted {
                accepted.push(i);
            }
        }
        accepted.sort_unstable();
        for i in accepted.iter().rev() {
            self.pending.remove(*i);
        }
        (
            format!(
                "send {} batches ({} accepted)",
                released.len(),
                accepted.len()
            ),
            found,
        )
    }

    async fn resend(&mut self) -> (String, Vec<String>) {
        let Some(batch) = self.sent.choose(&mut self.rng).cloned() else {
            return self.move_clock();
        };
        let (_, found) = self.send(&batch).await;
        (format!("resend {} ×{}", batch.kind(), batch.len()), found)
    }

    /// What a live coordinator sends as it learns (SPEC §2 refinements):
    /// heartbeats (a later `last_seen_at`) and closes (a first
    /// `disconnected_at`) of stored sessions, or the end (`to`) of stored
    /// open bindings — whatever has settled since. The model applies them
    /// in place; the store must count them `refined`.
    async fn refine(&mut self) -> (String, Vec<String>) {
        let f = &self.model.facts;
        let batch = if self.rng.gen_bool(0.75) {
            let mut all: Vec<Session> = f.sessions.values().cloned().collect();
            all.shuffle(&mut self.rng);
            let n = self.rng.gen_range(1..=4);
            let beats: Vec<Session> = all
                .into_iter()
                .take(n)
                .map(|mut s| {
                    let last = s.last_seen_at.unwrap_or(s.connected_at).0;
                    if s.disconnected_at.is_none() && self.rng.gen_bool(0.3) {
                        let at =
                            last.max(s.connected_at.0) + self.rng.gen_range(0..=60) * MINUTE_MS;
                        s.disconnected_at = Some(floorline_core::Timestamp(at));
                    } else {
                        let at = last + self.rng.gen_range(1..=180) * MINUTE_MS;
                        s.last_seen_at = Some(floorline_core::Timestamp(at));
                    }
                    s
                })
                .collect();
            (!beats.is_empty()).then_some(FactBatch::Sessions(beats))
        } else {
            let mut open: Vec<Binding> = f
                .bindings
                .values()
                .filter(|b| b.to.is_none())
                .cloned()
                .collect();
            open.shuffle(&mut self.rng);
            let ends: Vec<Binding> = open
                .into_iter()
                .take(2)
                .map(|mut b| {
                    let to = b.from.0 + self.rng.gen_range(1..=40) * DAY_MS;
                    b.to = Some(floorline_core::Timestamp(to));
                    b
                })
                .collect();
            (!ends.is_empty()).then_some(FactBatch::Bindings(ends))
        };
        let Some(batch) = batch else {
            return self.move_clock();
        };
        let (_, found) = self.send(&batch).await;
        (format!("refine {} ×{}", batch.kind(), batch.len()), found)
    }

    /// A fact already stored, re-sent with one field changed (plus identical copies).
    async fn conflicting(&mut self) -> (String, Vec<String>) {
        let f = &self.model.facts;
        let machines: Vec<String> = self.model.machine_ids().into_iter().collect();
        let accounts = self.scenario.accounts.clone();
        let batch = match self.rng.gen_range(0..8) {
            0 => f
                .earnings
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|e| {
                    let changed = Earning {
                        amount_micro_usd: e.amount_micro_usd + 1,
                        ..e.clone()
                    };
                    FactBatch::Earnings(vec![e, changed])
                }),
            1 => f
                .sessions
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|mut s| {
                    // A changed connected_at: a conflict (SPEC §2). A later
                    // last_seen_at would be a refinement, applied in place.
                    s.connected_at = floorline_core::Timestamp(s.connected_at.0 - MINUTE_MS);
                    FactBatch::Sessions(vec![s])
                }),
            2 => f
                .probes
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|mut p| {
                    // The other verdict, well-formed (§2: a failure names
                    // itself and proves no memory; a pass names no failure).
                    p.passed = !p.passed;
                    p.failure = (!p.passed).then(|| "wrong_answer".to_string());
                    if !p.passed {
                        p.verified_memory_gb = None;
                    }
                    FactBatch::Probes(vec![p])
                }),
            3 => f
                .health
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|mut h| {
                    h.healthy = !h.healthy;
                    FactBatch::Health(vec![h])
                }),
            4 => f
                .bindings
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|b| {
                    let other = accounts
                        .iter()
                        .find(|a| **a != b.account_id)
                        .cloned()
                        .unwrap_or_else(|| "acct-other".into());
                    FactBatch::Bindings(vec![Binding {
                        account_id: other,
                        ..b
                    }])
                }),
            5 => f
                .attestations
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .map(|mut a| {
                    a.reported_memory_gb += 8;
                    FactBatch::Attestations(vec![a])
                }),
            6 => f
                .aliases
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
                .cloned()
                .and_then(|mut a| {
                    let other = machines.iter().find(|m| **m != a.machine_id)?.clone();
                    a.machine_id = other;
                    Some(FactBatch::Aliases(vec![a]))
                }),
            _ => self.model.watermarks.iter().next().map(|(s, up_to)| {
                FactBatch::Watermarks(vec![Watermark {
                    source: s.clone(),
                    up_to: floorline_core::Timestamp(up_to - HOUR_MS),
                }])
            }),
        };
        let Some(batch) = batch else {
            return self.move_clock();
        };
        let before = self.report.conflicts;
        let (_, mut found) = self.send(&batch).await;
        // A re-send that raised no conflict proved nothing: the harness is wrong.
        if self.report.conflicts == before && found.is_empty() {
            found.push(format!(
                "harness: a conflicting {} re-send raised no conflict",
                batch.kind()
            ));
        }
        (format!("conflict {}", batch.kind()), found)
    }

    /// A batch with one bad item: it must be rejected whole.
    async fn invalid(&mut self) -> (String, Vec<String>) {
        let f = &self.model.facts;
        let mut earnings: Vec<Earning> = f.earnings.values().take(3).cloned().collect();
        let bad = match self.rng.gen_range(0..6) {
            0 => {
                earnings.push(Earning {
                    job_id: format!("neg-{}", self.step),
                    machine_id: self
                        .model
                        .machine_ids()
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                    consumer_account_id: "buyer-0".into(),
                    amount_micro_usd: -1,
                    kind: floorline_core::facts::EarningKind::Inference,
                    pinned: false,
                    model: None,
                    at: floorline_core::Timestamp(self.clock.get()),
                });
                FactBatch::Earnings(earnings)
            }
            1 => {
                earnings.push(Earning {
                    job_id: format!("floor:{}", self.step),
                    machine_id: self
                        .model
                        .machine_ids()
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                    consumer_account_id: "buyer-0".into(),
                    amount_micro_usd: 5,
                    kind: floorline_core::facts::EarningKind::Inference,
                    pinned: false,
                    model: None,
                    at: floorline_core::Timestamp(self.clock.get()),
                });
                FactBatch::Earnings(earnings)
            }
            2 => {
                let mut s: Vec<_> = f.sessions.values().take(2).cloned().collect();
                s.push(floorline_core::bundle::Session {
                    session_id: format!("backwards-{}", self.step),
                    machine_id: self
                        .model
                        .machine_ids()
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                    connected_at: floorline_core::Timestamp(self.clock.get()),
                    last_seen_at: Some(floorline_core::Timestamp(self.clock.get() - DAY_MS)),
                    disconnected_at: None,
                });
                FactBatch::Sessions(s)
            }
            3 => {
                let mut p: Vec<_> = f.probes.values().take(2).cloned().collect();
                p.push(floorline_core::bundle::Probe {
                    probe_id: format!("ghost-probe-{}", self.step),
                    machine_id: format!("ghost-{}", self.step),
                    at: floorline_core::Timestamp(self.clock.get()),
                    passed: true,
                    failure: None,
                    model: None,
                    verified_memory_gb: None,
                    source: None,
                });
                FactBatch::Probes(p)
            }
            4 => {
                let mut h: Vec<_> = f.health.values().take(2).cloned().collect();
                h.push(floorline_core::bundle::Health {
                    machine_id: "bad machine".into(),
                    at: floorline_core::Timestamp(self.clock.get()),
                    healthy: true,
                    reason: None,
                });
                FactBatch::Health(h)
            }
            _ => {
                // A new binding inside a stored one of the same machine (D2).
                let Some(b) = f.bindings.values().next().cloned() else {
                    return self.move_clock();
                };
                let inside = Binding {
                    from: floorline_core::Timestamp(b.from.0 + 1),
                    to: Some(floorline_core::Timestamp(b.from.0 + 2)),
                    ..b
                };
                FactBatch::Bindings(vec![inside])
            }
        };
        let before = self.report.batches_rejected;
        let (_, mut found) = self.send(&bad).await;
        if found.is_empty() && self.report.batches_rejected == before {
            found.push(format!(
                "harness: the invalid {} batch was not rejected",
                bad.kind()
            ));
        }
        (format!("invalid {}", bad.kind()), found)
    }

    /// Moves the clock: forward, backward, and around month ends and
    /// `settle_delay` (period ends on period seeds).
    pub(crate) fn move_clock(&mut self) -> (String, Vec<String>) {
        if self.scenario.period() == floorline_core::time::Period::FiveMinutes {
            return self.move_clock_short();
        }
        let now = self.clock.get();
        let epochs = self.scenario.epochs.clone();
        let e = epochs
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(self.scenario.first());
        let end = e.end().0;
        let delay = self.scenario.settle_delay_ms;
        let periods = self.scenario.has_periods();
        let r = &mut self.rng;
        let (what, to) = match r.gen_range(0..10) {
            0..=3 => ("forward", now + r.gen_range(10 * MINUTE_MS..2 * DAY_MS)),
            4 => ("backward", now - r.gen_range(MINUTE_MS..3 * DAY_MS)),
            5 => (
                "month end",
                e.month_id().end().0 + r.gen_range(-2 * HOUR_MS..2 * HOUR_MS),
            ),
            // Period seeds: around a period end (the `at delay` arm below
            // lands on a period end + `settle_delay`, where ticks change).
            6 if periods => ("period end", end + r.gen_range(-2 * HOUR_MS..2 * HOUR_MS)),
            6 => ("settle delay", end + delay + r.gen_range(-HOUR_MS..HOUR_MS)),
            7 => ("late", end + r.gen_range(2 * DAY_MS..12 * DAY_MS)),
            8 => ("jump", now + r.gen_range(2 * DAY_MS..10 * DAY_MS)),
            _ => ("at delay", end + delay + r.gen_range(-1..2)),
        };
        let (lo, hi) = (self.scenario.clock_lo_ms, self.scenario.clock_hi_ms);
        self.clock.set(to.clamp(lo, hi));
        (format!("clock {what}"), vec![])
    }

    /// The clock of a 5-minute seed: minutes forward or back, around the
    /// month start and period ends, never far out of its few hours.
    fn move_clock_short(&mut self) -> (String, Vec<String>) {
        let now = self.clock.get();
        let epochs = self.scenario.epochs.clone();
        let end = epochs
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(self.scenario.first())
            .end()
            .0;
        let month_start = self
            .scenario
            .month_settles
            .first()
            .map_or(end, |m| m.start().0);
        let r = &mut self.rng;
        let (what, to) = match r.gen_range(0..10) {
            0..=3 => ("forward", now + r.gen_range(MINUTE_MS..30 * MINUTE_MS)),
            4 => ("backward", now - r.gen_range(MINUTE_MS..30 * MINUTE_MS)),
            5 => (
                "month start",
                month_start + r.gen_range(-15 * MINUTE_MS..15 * MINUTE_MS),
            ),
            6 => (
                "period end",
                end + r.gen_range(-2 * MINUTE_MS..2 * MINUTE_MS),
            ),
            7 => ("late", end + r.gen_range(10 * MINUTE_MS..HOUR_MS)),
            8 => ("jump", now + r.gen_range(30 * MINUTE_MS..2 * HOUR_MS)),
            _ => ("at period end", end + r.gen_range(-1..2)),
        };
        let (lo, hi) = (self.scenario.clock_lo_ms, self.scenario.clock_hi_ms);
        self.clock.set(to.clamp(lo, hi));
        (format!("clock {what}"), vec![])
    }

    /// A process restart: the store and engine are built again from the URL.
    async fn restart(&mut self) -> (String, Vec<String>) {
        self.store.close().await;
        match Store::connect(&self.db.url).await {
            Ok(store) => {
                self.engine = Engine::new(store.clone(), self.config.clone(), self.clock.clone());
                self.store = store;
                ("restart".into(), vec![])
            }
            Err(e) => ("restart".into(), vec![format!("reconnecting: {e}")]),
        }
    }

    /// An admin correction; a retried identical request must not apply twice.
    async fn adjust(&mut self) -> (String, Vec<String>) {
        let accounts = self.model.adjustable_accounts();
        let Some(account) = accounts.choose(&mut self.rng).cloned() else {
            return self.move_clock();
        };
        let clawback = self.rng.gen_bool(0.4);
        let size = self.rng.gen_range(1..5_000_000);
        let amount = if clawback || self.rng.gen_bool(0.3) {
            -size
        } else {
            size
        };
        let kind = if clawback {
            AdjustKind::Clawback
        } else {
            AdjustKind::Adjustment
        };
        let adj = Adjust {
            account_id: account.clone(),
            amount_micro_usd: amount,
            kind,
            reason: "dst correction".into(),
            actor: "dst-admin".into(),
            now_ms: self.clock.get(),
            reference: None,
        };
        let identity = format!("{account}|{amount}|{kind:?}|{}", adj.now_ms);
        let tries = if self.rng.gen_bool(0.3) { 2 } else { 1 };
        let mut found = Vec::new();
        for _ in 0..tries {
            match self.store.adjust(&adj).await {
                Ok(entry) => {
                    if entry.amount_micro_usd != amount || entry.account_id != account {
                        found.push(format!("adjustment came back as {entry:?}"));
                    }
                    self.model.adjust(
                        identity.clone(),
                        ModelAdjustment {
                            account_id: account.clone(),
                            amount_micro_usd: amount,
                            kind: if clawback { "clawback" } else { "adjustment" },
                        },
                    );
                }
                Err(e) => found.push(format!("adjusting {account}: {e}")),
            }
        }
        (format!("adjust ×{tries}"), found)
    }
}

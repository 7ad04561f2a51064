//! Real `floorline` processes on the trial's database:
//!
//! - **crashes**: one `floorline settle` with
//!   `FLOORLINE_FAILPOINT=<point>[@skip]:abort`, so the process dies
//!   mid-settlement (`std::process::abort`, no unwinding, no rollback code
//!   runs). A death before `COMMIT` must leave nothing; a death after it must
//!   leave exactly the committed run; the model judges both.
//! - **concurrent processes**: 8 `floorline settle` processes on PostgreSQL
//!   (4 on SQLite) started at once on one epoch, one of them sometimes armed
//!   to abort at a failpoint. The new runs must be exactly the processes that
//!   committed, and each, in id order, the model's plan given the runs before.
//!
//! The binary reads the system clock, so only epochs that are closed in real
//! time are settled this way (the scenario's epochs all are, by late 2026),
//! and always with `--force` (the trial's watermarks follow its own clock).

use std::path::PathBuf;

use floorline_core::policy::{Policy, PolicyPatch};
use floorline_core::EpochId;
use floorline_engine::clock::{Clock, SystemClock};
use floorline_store::{FailPoint, RunMode};
use rand::seq::SliceRandom;
use rand::Rng;

use super::Trial;

/// The `floorline.toml` that makes the binary plan with `policy`.
pub fn config_text(policy: &Policy) -> Result<String, String> {
    toml::to_string(&PolicyPatch::from(policy)).map_err(|e| format!("policy as TOML: {e}"))
}

/// How one `floorline settle` process ended.
enum Exit {
    /// Exit code 0: the run committed.
    Settled,
    /// Killed by a signal (the armed `abort`): committed only after `COMMIT`.
    Died,
    /// Any other exit: never expected.
    Failed(String),
}

/// What every `floorline settle` of a trial is started with.
struct Launcher {
    bin: PathBuf,
    url: String,
    /// The `floorline.toml` with the trial's policy.
    cfg: PathBuf,
    /// The working directory (the trial's own).
    dir: PathBuf,
}

impl Launcher {
    /// Starts one `floorline settle --force` of `epoch` as `actor`, with
    /// `failpoint` (`FLOORLINE_FAILPOINT`) when given.
    fn start(
        &self,
        epoch: EpochId,
        actor: &str,
        failpoint: Option<&str>,
    ) -> std::io::Result<tokio::process::Child> {
        self.start_with(&["--epoch".into(), epoch.to_string()], actor, failpoint)
    }

    /// Starts one `floorline settle <target> --force` (`--epoch E` or `--month M`).
    fn start_with(
        &self,
        target: &[String],
        actor: &str,
        failpoint: Option<&str>,
    ) -> std::io::Result<tokio::process::Child> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.env_clear().env("FLOORLINE_LOG", "off");
        if let Some(spec) = failpoint {
            cmd.env("FLOORLINE_FAILPOINT", spec);
        }
        cmd.arg("--database-url")
            .arg(&self.url)
            .arg("--config")
            .arg(&self.cfg)
            .arg("settle")
            .args(target)
            .arg("--force")
            .args(["--actor", actor])
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }
}

/// How a process started by [`Launcher::start`] ended.
async fn exit_of(actor: &str, child: std::io::Result<tokio::process::Child>) -> Exit {
    let out = match child {
        Ok(c) => c.wait_with_output().await,
        Err(e) => Err(e),
    };
    match out {
        Err(e) => Exit::Failed(format!("running {actor}: {e}")),
        Ok(o) if o.status.success() => Exit::Settled,
        Ok(o) if o.status.code().is_none() => Exit::Died,
        Ok(o) => Exit::Failed(format!(
            "{actor} exited with {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        )),
    }
}

impl Trial {
    /// The binary, its config for the trial's policy and an epoch closed in
    /// real time; `None` when there is no binary or no such epoch.
    fn process_setup(&mut self) -> Option<Result<(Launcher, EpochId), String>> {
        let bin = self.opts.floorline_bin.clone()?;
        let epochs = self.scenario.epochs.clone();
        let epoch = epochs.choose(&mut self.rng).copied()?;
        if !epoch.is_closed(SystemClock.now()) {
            return None;
        }
        let cfg = self.db.dir.path().join("floorline.toml");
        let written = config_text(&self.scenario.policy).and_then(|text| {
            std::fs::write(&cfg, text).map_err(|e| format!("writing the config: {e}"))
        });
        let launcher = Launcher {
            bin,
            url: self.db.url.clone(),
            cfg,
            dir: self.db.dir.path().to_path_buf(),
        };
        Some(written.map(|()| (launcher, epoch)))
    }

    /// A failpoint spec that aborts the process (`point[@skip]:abort`).
    fn pick_abort(&mut self) -> (FailPoint, String) {
        let point = FailPoint::ALL
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(FailPoint::AfterPlan);
        let skip = if point == FailPoint::BetweenWrites {
            self.rng.gen_range(0..7)
        } else {
            0
        };
        let spec = if skip > 0 {
            format!("{}@{skip}:abort", point.as_str())
        } else {
            format!("{}:abort", point.as_str())
        };
        (point, spec)
    }

    /// Counts a process killed at `point`: 1 if it died after `COMMIT` (its
    /// run is in the store), else 0.
    fn died_at(&mut self, point: FailPoint) -> usize {
        *self
            .report
            .process_crashes
            .entry(point.as_str())
            .or_insert(0) += 1;
        usize::from(point == FailPoint::AfterCommit)
    }

    pub(crate) async fn process_crash(&mut self) -> (String, Vec<String>) {
        // Daily seeds: half the crashes kill a `settle --month` between its
        // periods (5-minute months are too long to settle whole this way).
        if self.scenario.period() == floorline_core::time::Period::Day && self.rng.gen_bool(0.5) {
            return self.process_month_crash().await;
        }
        let (launcher, epoch) = match self.process_setup() {
            None => return self.move_clock(),
            Some(Err(e)) => return ("process crash".into(), vec![e]),
            Some(Ok(s)) => s,
        };
        let (point, spec) = self.pick_abort();
        let name = format!("process settle {epoch} {spec}");
        let child = launcher.start(epoch, "dst-process", Some(&spec));
        let exit = exit_of("dst-process", child).await;
        let committed = match exit {
            Exit::Settled => 1,
            Exit::Died => self.died_at(point),
            Exit::Failed(e) => return (name, vec![e]),
        };
        let found = self.take_new_runs(epoch, RunMode::Live, committed).await;
        (name, found)
    }

    /// `floorline settle --month M --force` killed after `skip` of its periods
    /// (`point@skip:abort`): the periods before the death stay committed,
    /// the one it died in only if it died after `COMMIT`. The binary reads
    /// the system clock, so every period of the month is closed for it.
    async fn process_month_crash(&mut self) -> (String, Vec<String>) {
        let months = self.scenario.month_settles.clone();
        let Some(month) = months.choose(&mut self.rng).copied() else {
            return self.move_clock();
        };
        let (launcher, _) = match self.process_setup() {
            None => return self.move_clock(),
            Some(Err(e)) => return ("process settle --month".into(), vec![e]),
            Some(Ok(s)) => s,
        };
        if !month.is_closed(SystemClock.now()) {
            return self.move_clock();
        }
        self.report.month_settles += 1;
        let (units, _) = self.model.month_to_settle(month, i64::MAX, true);
        let n = units.len();
        let point = FailPoint::ALL
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(FailPoint::AfterPlan);
        let bound = u32::try_from(n).unwrap_or(u32::MAX);
        let skip = if point == FailPoint::BetweenWrites {
            self.rng.gen_range(0..=bound.saturating_mul(4))
        } else {
            self.rng.gen_range(0..=bound)
        };
        let spec = format!("{}@{skip}:abort", point.as_str());
        let name = format!("process settle --month {month} {spec} ({n} periods due)");
        let target = ["--month".to_string(), month.to_string()];
        let child = launcher.start_with(&target, "dst-process", Some(&spec));
        let exit = exit_of("dst-process", child).await;
        let died = matches!(exit, Exit::Died);
        let at = usize::try_from(skip).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let committed = match exit {
            Exit::Settled if point == FailPoint::BetweenWrites || at >= n => n,
            Exit::Settled => {
                found.push(format!("{name}: exited 0, should have died in period {at}"));
                n
            }
            Exit::Died if point == FailPoint::BetweenWrites => {
                self.died_at(point);
                match self.count_new_runs().await {
                    Ok(k) if k < n => k,
                    Ok(k) => {
                        found.push(format!(
                            "{name}: died between writes after {k} of {n} periods"
                        ));
                        k.min(n)
                    }
                    Err(e) => return (name, vec![e]),
                }
            }
            Exit::Died if at < n => at + self.died_at(point),
            Exit::Died => return (name, vec![format!("died beyond the month's {n} periods")]),
            Exit::Failed(e) => return (name, vec![e]),
        };
        if died && committed > 0 {
            self.report.between_period_crashes += 1;
        }
        let prefix = units.get(..committed).unwrap_or(&units).to_vec();
        found.extend(self.take_new_runs_of(&prefix, RunMode::Live).await);
        (name, found)
    }

    /// Several `floorline settle` processes on one epoch at once (see the module docs).
    pub(crate) async fn concurrent_processes(&mut self) -> (String, Vec<String>) {
        let (launcher, epoch) = match self.process_setup() {
            None => return self.move_clock(),
            Some(Err(e)) => return ("concurrent processes".into(), vec![e]),
            Some(Ok(s)) => s,
        };
        let n = match self.backend {
            super::Backend::Postgres => 8,
            super::Backend::Sqlite => 4,
        };
        let armed_at = self.rng.gen_bool(0.5).then(|| self.rng.gen_range(0..n));
        let (point, spec) = self.pick_abort();
        let name = match armed_at {
            Some(i) => format!("concurrent ×{n} processes {epoch}, settler-{i} {spec}"),
            None => format!("concurrent ×{n} processes {epoch}"),
        };
        self.report.concurrent_process_rounds += 1;
        // All started before any is waited for: they race for the epoch's lock.
        let children: Vec<_> = (0..n)
            .map(|i| {
                let actor = format!("dst-settler-{i}");
                let failpoint = (armed_at == Some(i)).then_some(spec.as_str());
                let child = launcher.start(epoch, &actor, failpoint);
                (actor, child)
            })
            .collect();
        let mut committed = 0;
        let mut found = Vec::new();
        for (i, (actor, child)) in children.into_iter().enumerate() {
            match exit_of(&actor, child).await {
                Exit::Settled => committed += 1,
                Exit::Died if armed_at == Some(i) => committed += self.died_at(point),
                Exit::Died => found.push(format!("settler-{i} died without a failpoint armed")),
                Exit::Failed(e) => found.push(e),
            }
        }
        found.extend(self.take_new_runs(epoch, RunMode::Live, committed).await);
        (name, found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floorline_core::money::Ppm;
    use floorline_core::policy::Allocation;
    use floorline_engine::config::Config;

    #[test]
    fn the_binary_config_reproduces_a_period_policy() {
        for period in [
            floorline_core::time::Period::Day,
            floorline_core::time::Period::FiveMinutes,
        ] {
            let policy = Policy {
                period,
                ..Policy::default()
            };
            let text = config_text(&policy).unwrap();
            assert!(
                text.contains(&format!("period = \"{}\"", period.as_str())),
                "{text}"
            );
            let loaded = Config::load(&text, "floorline.toml", Vec::new()).unwrap();
            assert_eq!(loaded.policy, policy, "{text}");
        }
    }

    #[test]
    fn the_binary_config_reproduces_the_policy() {
        let policy = Policy {
            pool_micro_usd: 123_456_789,
            allocation: Allocation::Waterfill,
            workhorse_reserve: Ppm(300_000),
            account_cap: Ppm(350_000),
            reduction_k: Ppm(500_000),
            taper_enabled: true,
            require_tier_probe: true,
            ..Policy::default()
        };
        let text = config_text(&policy).unwrap();
        let loaded = Config::load(&text, "floorline.toml", Vec::new()).unwrap();
        assert_eq!(loaded.policy, policy, "{text}");
    }
}

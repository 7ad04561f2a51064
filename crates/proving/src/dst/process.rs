//! Process-level crashes: the real `floorline` binary settles the trial's
//! database with `FLOORLINE_FAILPOINT=<point>[@skip]:abort`, so the process
//! dies mid-settlement (`std::process::abort`, no unwinding, no rollback
//! code runs). A death before `COMMIT` must leave nothing; a death after it
//! must leave exactly the committed run; the model judges both.
//!
//! The binary reads the system clock, so only epochs that are closed in real
//! time are settled this way (the scenario's epochs all are, by late 2026).

use floorline_core::policy::{Policy, PolicyPatch};
use floorline_engine::clock::{Clock, SystemClock};
use floorline_store::{FailPoint, Mode as RunMode};
use rand::seq::SliceRandom;
use rand::Rng;

use super::Trial;

/// The `floorline.toml` that makes the binary plan with `policy`.
pub fn config_text(policy: &Policy) -> Result<String, String> {
    toml::to_string(&PolicyPatch::from(policy)).map_err(|e| format!("policy as TOML: {e}"))
}

impl Trial {
    pub(crate) async fn process_crash(&mut self) -> (String, Vec<String>) {
        let Some(bin) = self.opts.floorline_bin.clone() else {
            return self.move_clock();
        };
        let epochs = self.scenario.epochs.clone();
        let Some(epoch) = epochs.choose(&mut self.rng).copied() else {
            return self.move_clock();
        };
        if !epoch.is_closed(SystemClock.now()) {
            return self.move_clock();
        }
        let cfg = self.db.dir.path().join("floorline.toml");
        let text = match config_text(&self.scenario.policy) {
            Ok(t) => t,
            Err(e) => return ("process crash".into(), vec![e]),
        };
        if let Err(e) = std::fs::write(&cfg, text) {
            return (
                "process crash".into(),
                vec![format!("writing the config: {e}")],
            );
        }
        let point = FailPoint::ALL
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(FailPoint::AfterPlan);
        let skip = if point == FailPoint::BetweenWrites {
            self.rng.gen_range(0..6)
        } else {
            0
        };
        let spec = if skip > 0 {
            format!("{}@{skip}:abort", point.as_str())
        } else {
            format!("{}:abort", point.as_str())
        };
        let out = tokio::process::Command::new(&bin)
            .env_clear()
            .env("FLOORLINE_FAILPOINT", &spec)
            .env("FLOORLINE_LOG", "off")
            .arg("--database-url")
            .arg(&self.db.url)
            .arg("--config")
            .arg(&cfg)
            .args(["settle", "--epoch", &epoch.to_string(), "--force"])
            .args(["--actor", "dst-process"])
            .current_dir(self.db.dir.path())
            .output()
            .await;
        let name = format!("process settle {epoch} {spec}");
        let out = match out {
            Ok(o) => o,
            Err(e) => return (name, vec![format!("running {}: {e}", bin.display())]),
        };
        // Killed by a signal: no exit code.
        let died = out.status.code().is_none();
        let committed = if out.status.success() {
            1
        } else if died {
            *self
                .report
                .process_crashes
                .entry(point.as_str())
                .or_insert(0) += 1;
            usize::from(point == FailPoint::AfterCommit)
        } else {
            return (
                name,
                vec![format!(
                    "floorline exited with {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                )],
            );
        };
        let found = self.take_new_runs(epoch, RunMode::Live, committed).await;
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

//! Running the measured binary, and judging whether a run was correct. Every figure's
//! verdict requires its run's check: a fast run that lost, doubled or resent a key is not a
//! result.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{self, Usage};
use crate::{Ctx, R, data};

/// `forget status --format json` of a ledger.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Status {
    pub total: u64,
    pub deleted: u64,
    pub pending: u64,
    pub failed: u64,
}

/// What a run that sent `n` keys, each held by the simulator, must show: exit 0; the ledger
/// holds `n` keys, all `deleted` (none `failed`, none left `pending`); the simulator deleted
/// each exactly once and received no request for a key whose fate it had already answered.
pub struct Check {
    pub ok: bool,
    /// "n/n deleted, exit 0", then whatever went wrong.
    pub summary: String,
}

impl Check {
    pub fn of(n: u64, usage: &Usage, status: &Status, stats: &serde_json::Value) -> Check {
        let stat = |name: &str| stats[name].as_u64();
        let sim_deleted = stat("deleted").unwrap_or(0) + stat("deleted_then_faulted").unwrap_or(0);
        let mut wrong = Vec::new();
        if usage.code() != 0 {
            wrong.push(format!("exit {}", usage.code()));
        }
        if status.total != n || status.deleted != n {
            wrong.push(format!(
                "ledger: {} of {} keys deleted",
                status.deleted, status.total
            ));
        }
        if status.failed > 0 {
            wrong.push(format!("{} failed", status.failed));
        }
        if status.pending > 0 {
            wrong.push(format!("{} pending", status.pending));
        }
        if sim_deleted != n {
            wrong.push(format!("the simulator deleted {sim_deleted}"));
        }
        if n > 0 && stat("max_deletes_per_key") != Some(1) {
            wrong.push(format!(
                "a key deleted {:?} times",
                stat("max_deletes_per_key")
            ));
        }
        for name in ["resent_without_cause", "resent_after_final"] {
            match stat(name) {
                Some(0) => {}
                other => wrong.push(format!("{name} {other:?}")),
            }
        }
        let mut summary = format!("{}/{n} deleted, exit {}", status.deleted, usage.code());
        if !wrong.is_empty() {
            summary = format!("{summary} — NOT correct: {}", wrong.join(", "));
        }
        Check {
            ok: wrong.is_empty(),
            summary,
        }
    }
}

impl Ctx {
    /// The binary, without the shell's proxy variables: one would switch forget from its own
    /// pool to reqwest and send through the proxy, and the figures would measure that.
    pub fn forget(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `forget run` of `csv` against `url` into `db`, at `rate`, with the bench's concurrency.
    pub fn run(&self, csv: &Path, url: &str, db: &Path, rate: &str, extra: &[&str]) -> Command {
        let mut cmd = self.forget();
        cmd.arg("run")
            .arg(csv)
            .args(["--base-url", url, "--token-file"])
            .arg(&self.token)
            .args(["--rate", rate, "--concurrency"])
            .arg(self.concurrency.to_string())
            .args(["--quiet", "--state"])
            .arg(db)
            .args(extra);
        cmd
    }

    /// `forget run` against `url`, measured.
    pub fn send(&self, csv: &Path, url: &str, db: &Path, rate: &str, extra: &[&str]) -> R<Usage> {
        process::measure(&mut self.run(csv, url, db, rate, extra), &self.log)
    }

    /// `forget run` as [`Ctx::send`], sent SIGINT (as Ctrl-C would) once `now()` says so:
    /// the run stops as a user stops it, answers in flight recorded.
    pub fn send_interrupted(
        &self,
        csv: &Path,
        url: &str,
        db: &Path,
        now: impl Fn() -> bool,
    ) -> R<Usage> {
        let (child, started) =
            process::spawn(&mut self.run(csv, url, db, "unlimited", &[]), &self.log)?;
        let pid = child.id();
        let deadline = started + Duration::from_secs(600);
        // Not `try_wait`: it would reap the child, and its CPU times with it.
        while process::stat(pid).is_some_and(|s| s.state != 'Z') && Instant::now() < deadline {
            if now() {
                Command::new("kill")
                    .args(["-INT", &pid.to_string()])
                    .status()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        process::watch(child, started, Some(Duration::from_secs(600)))
    }

    /// `forget run --dry-run`: the ingest alone, measured.
    pub fn dry_run(&self, csv: &Path, db: &Path, extra: &[&str]) -> R<Usage> {
        let mut cmd = self.forget();
        cmd.arg("run")
            .arg(csv)
            .args(["--dry-run", "--quiet", "--state"])
            .arg(db)
            .args(extra);
        process::measure(&mut cmd, &self.log)
    }

    pub fn status(&self, db: &Path) -> R<Status> {
        let out = self
            .forget()
            .args(["status", "--format", "json", "--state"])
            .arg(db)
            .output()?;
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// A dry-run ingest of `n` key-only rows into a fresh ledger (memoised: later figures
    /// reuse it).
    pub fn ingest_rows(&mut self, n: u64) -> R<(Usage, PathBuf, PathBuf)> {
        if let Some(done) = self.ingested.get(&n) {
            return Ok(done.clone());
        }
        let csv = data::csv(&self.dir, n)?;
        let db = data::fresh_ledger(&self.dir, &format!("ingest-{n}"))?;
        let usage = self.dry_run(&csv, &db, &[])?;
        let status = self.status(&db)?;
        if usage.code() != 0 || status.total != n || status.pending != n {
            return Err(format!(
                "dry run of {n} rows: exit {}, {status:?} (see {})",
                usage.code(),
                self.log.display()
            )
            .into());
        }
        self.ingested
            .insert(n, (usage.clone(), db.clone(), csv.clone()));
        Ok((usage, db, csv))
    }
}

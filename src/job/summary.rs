//! What a run did: the summary a [`Collector`] gathers as the run goes, the exit code it
//! means, and the table printed at the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::connector::Connector;
use crate::engine::{Counters, StopReason};
use crate::error::{Result, exit};
use crate::ledger::SendPreview;
use crate::ledger::file_options::FileOptions;
use crate::ledger::ingest::IngestCounts;
use crate::ledger::requests::{self, RequestCounts};
use crate::ledger::writer::Recorded;
use crate::ledger::{Counts, Ledger, ScopeCounts, render_by_scope, shows_connectors};
use crate::outcome::Outcome;
use crate::text::{count, printable};

/// What a run did, for the summary and the exit code.
#[derive(Debug)]
pub struct RunSummary {
    /// The connector this run was for; `ledger` counts its units only.
    pub connector: &'static str,
    pub ingested: IngestCounts,
    pub to_send: u64,
    pub sent_units: u64,
    pub this_run: [(Outcome, u64); 4],
    pub attempts: u64,
    pub retries: u64,
    pub throttled: u64,
    pub after_ambiguous: u64,
    /// Final answers for keys the ledger had already finished: their first outcome was
    /// kept, and the answer recorded as an attempt only.
    pub kept_final: u64,
    pub ledger: Counts,
    /// Every connector and scope in the ledger, for the side-by-side table.
    pub by_scope: Vec<ScopeCounts>,
    /// This connector's requests by state: the exit code is 0 only when all have ended.
    pub requests: RequestCounts,
    /// The ledger, as the hints printed must name it.
    pub state: PathBuf,
    pub stop: Option<StopReason>,
    /// Why the API stopped the run, in the connector's words.
    pub stop_message: Option<String>,
    pub elapsed: Duration,
    pub dry_run: bool,
    /// Keys set aside without being sent, per profile the preflight found invalid.
    pub set_aside: Vec<(String, u64)>,
    /// A dry run: the files it recorded, with their options.
    pub dry_run_files: Vec<FileOptions>,
    /// Keys a dry run alone recorded, which a real run does not send.
    pub dry_run_units: u64,
    /// Requests in the ledger whose received date could not be read: they need attention
    /// (the deadline is unknown) even once erased.
    pub dates_unreadable: u64,
    /// ` --state PATH` when the ledger is not the default one, for the commands hints name.
    pub state_flag: String,
    /// A dry run: what a real run would send (per profile, and the first requests).
    pub preview: Option<SendPreview>,
}

impl RunSummary {
    /// The summary for scripts (`forget run --format json`): what was read, sent and
    /// recorded, the ledger's counts, its requests by state, and why the run stopped.
    pub fn to_json(&self) -> serde_json::Value {
        let i = &self.ingested;
        let this_run: serde_json::Map<String, serde_json::Value> = self
            .this_run
            .iter()
            .map(|(o, n)| (o.as_str().to_owned(), (*n).into()))
            .collect();
        serde_json::json!({
            "connector": self.connector,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code(),
            "stopped": self.stop.as_ref().map(|_| self.stop_message.clone()
                .unwrap_or_else(|| "interrupted, or the ledger could not be written".into())),
            "input": {
                "rows": i.rows, "new_units": i.new_units, "duplicates": i.duplicates,
                "invalid": i.invalid, "dates_unreadable": i.dates_unreadable,
                "corrected": i.corrected, "unmatched_refs": i.unmatched_refs,
            },
            "to_send": self.to_send,
            "sent": self.sent_units,
            "this_run": this_run,
            "attempts": self.attempts,
            "retries": self.retries,
            "throttled": self.throttled,
            "after_ambiguous": self.after_ambiguous,
            "kept_final": self.kept_final,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "set_aside": self.set_aside,
            "ledger": self.ledger,
            "requests": self.requests,
            "would_send": self.preview,
        })
    }

    pub fn exit_code(&self) -> i32 {
        match &self.stop {
            Some(StopReason::Api(_)) => exit::STOPPED,
            Some(StopReason::Interrupted(signal)) => signal.exit_code(),
            Some(StopReason::Ledger(_)) | Some(StopReason::Output(_)) => exit::FAILURE,
            None if self.dry_run => exit::OK,
            None if self.requests.all_ended() => exit::OK,
            None => exit::INCOMPLETE,
        }
    }
}

/// Gathers a run's summary: what it recorded and counted, and who can explain a stop.
pub(super) struct Collector {
    pub connector: &'static str,
    pub started: Instant,
    pub ingested: IngestCounts,
    pub to_send: u64,
    pub counters: Arc<Counters>,
    /// What the ledger's writer committed: the summary's counts of this run.
    pub recorded: Arc<Recorded>,
    /// The connector that can explain an API's stop in its own words (none for a dry run).
    pub explainer: Option<Arc<dyn Connector>>,
    pub set_aside: Vec<(String, u64)>,
    pub dry_run_files: Vec<FileOptions>,
    pub state_flag: String,
    /// A dry run: what a real run would send.
    pub preview: Option<SendPreview>,
}

impl Collector {
    /// The summary now, with the ledger's counts and the reason the run stopped, if any.
    pub fn summary(
        &self,
        ledger: &Ledger,
        stop: Option<StopReason>,
        dry_run: bool,
    ) -> Result<RunSummary> {
        let stop_message = match (&stop, &self.explainer) {
            (Some(StopReason::Api(cause)), Some(c)) => Some(c.explain_stop(cause)),
            (Some(StopReason::Api(cause)), None) => Some(cause.explain().to_owned()),
            _ => None,
        };
        let by_scope = ledger.counts_by_scope()?;
        let counters = &self.counters;
        // What this run finished is what the ledger recorded, not what the engine heard.
        let recorded = &self.recorded;
        Ok(RunSummary {
            connector: self.connector,
            ingested: self.ingested,
            to_send: self.to_send,
            sent_units: recorded.finished_total(),
            this_run: [
                Outcome::Deleted,
                Outcome::NotFound,
                Outcome::Rejected,
                Outcome::Failed,
            ]
            .map(|o| (o, recorded.finished(o))),
            attempts: counters.attempts.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            throttled: counters.throttled.load(Ordering::Relaxed),
            after_ambiguous: recorded.after_ambiguous(),
            kept_final: recorded.kept_final(),
            ledger: Counts::of_connector(&by_scope, self.connector),
            requests: ledger.request_counts_with(Some(self.connector), &by_scope)?,
            by_scope,
            state: ledger.path().to_owned(),
            stop,
            stop_message,
            elapsed: self.started.elapsed(),
            dry_run,
            set_aside: self.set_aside.clone(),
            dry_run_files: self.dry_run_files.clone(),
            // A dry run's summary does not show it (all its keys are a dry run's).
            dry_run_units: match dry_run {
                true => 0,
                false => ledger.dry_run_units(self.connector)?,
            },
            dates_unreadable: ledger.count_unreadable_dates(self.connector)?,
            state_flag: self.state_flag.clone(),
            preview: self.preview.clone(),
        })
    }
}

/// ` --state PATH` for hints (see [`crate::text::state_flag`]).
pub use crate::text::state_flag;

/// A file's recorded options, in the flags that give them.
fn render_options(f: &FileOptions) -> String {
    let mut parts = vec![
        format!("--key-column {}", f.key_column),
        format!("--profile-name {:?}", f.profile_default),
    ];
    for (name, value) in &f.exparams {
        parts.push(format!("--exparam {name}={value}"));
    }
    if let Some(column) = &f.received_column {
        parts.push(format!("--received-column {column}"));
        if let Some(format) = &f.date_format {
            parts.push(format!("--date-format {format}"));
        }
    }
    for column in &f.keep_columns {
        parts.push(format!("--keep-column {column}"));
    }
    parts.push(format!("--delimiter '{}'", f.delimiter));
    parts.join(" ")
}

/// The summary table printed at the end of a run.
pub fn render_summary(s: &RunSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let secs = s.elapsed.as_secs_f64();
    let i = &s.ingested;
    let _ = writeln!(
        out,
        "input: {} recorded ({}, {}, {})",
        count(i.rows, "row", "rows"),
        count(i.new_units, "new key", "new keys"),
        count(i.duplicates, "duplicate row", "duplicate rows"),
        count(i.invalid, "invalid row", "invalid rows")
    );
    if i.dates_unreadable > 0 {
        let _ = writeln!(
            out,
            "{} requests have a received date that cannot be read (see --date-format): recorded \
             without a due date{}; `forget invalid{}` lists them",
            i.dates_unreadable,
            if s.dry_run {
                ""
            } else {
                " and sent all the same"
            },
            s.state_flag
        );
    }
    let by_connector = if shows_connectors(&s.by_scope) {
        format!(
            "the ledger by connector (this run counts {} only):\n{}",
            s.connector,
            render_by_scope(&s.by_scope)
        )
    } else {
        String::new()
    };
    if s.dry_run {
        let l = &s.ledger;
        let _ = writeln!(out, "dry run: nothing was sent");
        let _ = writeln!(out, "  would send          {:>9}", s.to_send);
        let _ = writeln!(
            out,
            "  already finished    {:>9}",
            l.deleted + l.not_found + l.rejected
        );
        let _ = writeln!(out, "  duplicate rows      {:>9}", l.duplicates);
        let _ = writeln!(out, "  invalid rows        {:>9}", l.invalid);
        if let Some(p) = &s.preview {
            out.push_str(&render_preview(p, s.to_send));
        }
        out.push_str(&by_connector);
        for f in &s.dry_run_files {
            let _ = writeln!(
                out,
                "recorded as a dry run's (never sent): {}",
                render_options(f)
            );
        }
        if !s.dry_run_files.is_empty() {
            let _ = writeln!(
                out,
                "A dry run's keys are never sent. A real run of the same file with these \
                 options sends them; with other options it replaces what the dry run recorded."
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "sent {} keys in {:.1} s ({:.0} keys/s); {} attempts, {} retries, {} throttled (429)",
        s.sent_units,
        secs,
        s.sent_units as f64 / secs.max(0.001),
        s.attempts,
        s.retries,
        s.throttled
    );
    let _ = writeln!(out, "  {:<16}{:>10}{:>10}", "outcome", "this run", "ledger");
    for (outcome, n) in s.this_run {
        let _ = writeln!(
            out,
            "  {:<16}{:>10}{:>10}",
            outcome.as_str(),
            n,
            s.ledger.get(outcome)
        );
    }
    let _ = writeln!(out, "  {:<16}{:>10}{:>10}", "pending", "", s.ledger.pending);
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "total keys", "", s.ledger.total
    );
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "invalid rows", "", s.ledger.invalid
    );
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}",
        "duplicate rows", "", s.ledger.duplicates
    );
    out.push_str(&s.requests.render_line());
    out.push_str(&by_connector);
    if s.after_ambiguous > 0 {
        let _ = writeln!(
            out,
            "{} keys answered \"not found\" after an attempt with no clear answer (a timeout, a \
             dropped connection, a server error): erased, by that attempt or before it (flagged \
             after_ambiguous in reports)",
            s.after_ambiguous
        );
    }
    if s.kept_final > 0 {
        let _ = writeln!(
            out,
            "{} answers came for keys the ledger had already finished: their recorded outcome \
             was kept, and each answer recorded as an attempt",
            s.kept_final
        );
    }
    for (scope, n) in s.set_aside.iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(
            out,
            "{n} keys set aside, not sent: the preflight found profile {scope:?} invalid (102). \
             Fix their profile-name in a new file and run it; `forget status{}` counts them",
            s.state_flag
        );
    }
    if s.dry_run_units > 0 {
        let _ = writeln!(
            out,
            "{} keys were recorded by a dry run only and are not sent: run their file for real",
            s.dry_run_units
        );
    }
    match &s.stop {
        Some(StopReason::Api(cause)) => {
            let message = s
                .stop_message
                .clone()
                .unwrap_or_else(|| cause.explain().to_owned());
            let _ = writeln!(out, "STOPPED: {message}. Unfinished keys stay pending.");
        }
        Some(StopReason::Interrupted(_)) => {
            let _ = writeln!(out, "interrupted: run the same command again to resume");
        }
        Some(StopReason::Ledger(m)) | Some(StopReason::Output(m)) => {
            let _ = writeln!(
                out,
                "STOPPED: {m}. Unfinished keys stay pending; fix the disk and run again"
            );
        }
        None => {
            if s.ingested.corrected > 0 {
                let _ = writeln!(
                    out,
                    "{} earlier requests corrected by rows of this run (they end as \"corrected\", \
                     the new rows count in their place)",
                    s.ingested.corrected
                );
            }
            out.push_str(&requests::render_open(
                &s.requests,
                &s.state,
                "run the same command again",
            ));
        }
    }
    if s.ingested.unmatched_refs > 0 {
        let _ = writeln!(
            out,
            "note: {} rows name in their `ref` column no earlier request that needs attention \
             (already ended, or not in this ledger): nothing was corrected for them",
            s.ingested.unmatched_refs
        );
    }
    out
}

/// What a dry run would send, per profile, and its first requests (masked keys).
fn render_preview(p: &SendPreview, total: u64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if !p.per_scope.is_empty() {
        let _ = writeln!(out, "would send, per profile:");
    }
    for (scope, n) in &p.per_scope {
        let scope = if scope.is_empty() {
            "(the tenant's default)"
        } else {
            scope
        };
        let _ = writeln!(out, "  {:<30}{:>9}", printable(scope), n);
    }
    if !p.first.is_empty() {
        let _ = writeln!(
            out,
            "the first {} of {total}, in sending order (keys masked):",
            p.first.len()
        );
        for u in &p.first {
            let fields: Vec<String> = u.exparams.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let scope = if u.scope.is_empty() {
                "(default)"
            } else {
                &u.scope
            };
            let _ = writeln!(
                out,
                "  {}  profile {}  {}",
                printable(&u.key_masked),
                printable(scope),
                printable(&fields.join(" "))
            );
        }
    }
    out
}

//! The summary of an access run, in the words of exports (exported, no transactions, …).

use crate::text::count;
use std::path::Path;

use crate::engine::StopReason;
use crate::job::RunSummary;
use crate::outcome::Outcome;

/// The summary of an access run.
pub fn render_summary(s: &RunSummary, out: &Path, state: &Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let i = &s.ingested;
    let l = &s.ledger;
    let _ = writeln!(
        o,
        "input: {} recorded ({}, {}, {})",
        count(i.rows, "row", "rows"),
        count(i.new_units, "new subject", "new subjects"),
        count(i.duplicates, "duplicate row", "duplicate rows"),
        count(i.invalid, "invalid row", "invalid rows")
    );
    if s.dry_run {
        let _ = writeln!(o, "dry run: nothing was fetched");
        let _ = writeln!(o, "  would fetch         {:>9}", s.to_send);
        let _ = writeln!(o, "  already exported    {:>9}", l.deleted);
        let _ = writeln!(o, "  invalid rows        {:>9}", l.invalid);
    } else {
        let secs = s.elapsed.as_secs_f64();
        let _ = writeln!(
            o,
            "fetched {} subjects in {:.1} s; {} attempts, {} retries, {} throttled (429)",
            s.sent_units, secs, s.attempts, s.retries, s.throttled
        );
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "outcome", "this run", "ledger");
        let this_run = |outcome: Outcome| {
            s.this_run
                .iter()
                .find(|(o, _)| *o == outcome)
                .map_or(0, |(_, n)| *n)
        };
        for (label, outcome) in [
            ("exported", Outcome::Deleted),
            ("no data", Outcome::NotFound),
            ("rejected", Outcome::Rejected),
            ("failed", Outcome::Failed),
        ] {
            let _ = writeln!(
                o,
                "  {label:<16}{:>10}{:>10}",
                this_run(outcome),
                l.get(outcome)
            );
        }
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "pending", "", l.pending);
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "invalid rows", "", l.invalid);
        let _ = writeln!(
            o,
            "  {:<16}{:>10}{:>10}",
            "duplicate rows", "", l.duplicates
        );
        if l.deleted + l.not_found > 0 {
            let _ = writeln!(
                o,
                "documents: {} (one JSON file per subject, named by a keyed hash: \
                 `forget report{} --outcome exported,no_data` maps each request to its file)",
                out.display(),
                crate::text::state_flag(state)
            );
        }
    }
    // Every audit command reads forget.db without --state: name this ledger.
    let state = crate::text::state_flag(state);
    match &s.stop {
        Some(StopReason::Api(cause)) => {
            let _ = writeln!(
                o,
                "STOPPED: {}. Unfinished subjects stay pending; run again to resume.",
                cause.explain()
            );
        }
        Some(StopReason::Interrupted(_)) => {
            let _ = writeln!(o, "interrupted: run the same command again to resume");
        }
        Some(StopReason::Ledger(m)) | Some(StopReason::Output(m)) => {
            let _ = writeln!(
                o,
                "STOPPED: {m}. Unfinished subjects stay pending; fix it and run again"
            );
        }
        None => {
            if l.failed + l.pending > 0 && !s.dry_run {
                let _ = writeln!(
                    o,
                    "{} subjects not finished: run the same command again to retry them",
                    l.failed + l.pending
                );
            }
            if l.rejected > 0 {
                let _ = writeln!(
                    o,
                    "{} subjects rejected by the API: `forget report{state} --outcome rejected` \
                     lists them with the API's answers; the same command with --retry-rejected \
                     asks again",
                    l.rejected
                );
            }
            if l.invalid > 0 {
                let _ = writeln!(
                    o,
                    "{} rows invalid: `forget invalid{state}` lists them with reasons",
                    l.invalid
                );
            }
        }
    }
    o
}

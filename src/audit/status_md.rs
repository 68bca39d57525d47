//! `forget status --format md`: a short paragraph and table a team pastes into a ticket —
//! what was asked, what was done and when, what remains. Counts only: no key, masked or not.

use std::fmt::Write;

use crate::ledger::report::{FileFact, RunFact};
use crate::ledger::requests::RequestCounts;

/// The summary as Markdown. `ledger` names the ledger it was read from.
pub fn render(ledger: &str, files: &[FileFact], runs: &[RunFact], r: &RequestCounts) -> String {
    let mut out = String::new();
    let first = runs.iter().map(|r| r.started_at.as_str()).min();
    let last = runs
        .iter()
        .filter_map(|r| r.ended_at.as_deref().or(Some(r.started_at.as_str())))
        .max();
    let day = |t: Option<&str>| t.and_then(|t| t.get(..10)).unwrap_or("—").to_owned();
    let operators: Vec<&str> = {
        let mut o: Vec<&str> = runs.iter().filter_map(|r| r.operator.as_deref()).collect();
        o.sort_unstable();
        o.dedup();
        o
    };
    let _ = writeln!(out, "### Erasure requests: {}", status_word(r));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} requests for {} people arrived in {} file{}; forget ran {} time{} between {} and {}{}. \
         {} of {} requests have ended; {} {} still open.",
        r.requests,
        r.people,
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        day(first),
        day(last),
        if operators.is_empty() {
            String::new()
        } else {
            format!(" (by {})", operators.join(", "))
        },
        r.ended,
        r.requests,
        r.open,
        if r.open == 1 { "is" } else { "are" },
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| state | requests |");
    let _ = writeln!(out, "| --- | ---: |");
    for (label, n) in [
        ("erased", r.erased),
        ("not held by the system", r.not_held),
        ("resolved by an operator", r.resolved),
        ("corrected by a later request", r.corrected),
        ("pending", r.pending),
        ("rejected", r.rejected),
        ("failed", r.failed),
        ("set aside (invalid profile)", r.set_aside),
        ("invalid row", r.invalid),
        ("received date unreadable", r.date_unreadable),
    ] {
        if n > 0 {
            let _ = writeln!(out, "| {label} | {n} |");
        }
    }
    let _ = writeln!(out, "| **total** | **{}** |", r.requests);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Evidence: the ledger `{}`; `forget report --manifest` writes the per-request report \
         and its SHA-256 manifest.",
        ledger.replace('`', "'")
    );
    out
}

/// The state of the whole ledger in a few words: the summary's title.
pub(crate) fn status_word(r: &RequestCounts) -> &'static str {
    if r.requests == 0 {
        "nothing recorded yet"
    } else if r.open == 0 {
        "every request has ended"
    } else if r.needs_attention > 0 {
        "some need attention"
    } else {
        "in progress"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_and_never_lists_keys() {
        let counts = RequestCounts {
            people: 2,
            requests: 3,
            units: 2,
            open: 1,
            needs_attention: 1,
            ended: 2,
            erased: 1,
            resolved: 1,
            invalid: 1,
            ..RequestCounts::default()
        };
        let md = render("forget.db", &[], &[], &counts);
        assert!(
            md.starts_with("### Erasure requests: some need attention\n"),
            "{md}"
        );
        assert!(
            md.contains("3 requests for 2 people arrived in 0 files"),
            "{md}"
        );
        assert!(
            md.contains("| erased | 1 |") && md.contains("| invalid row | 1 |"),
            "{md}"
        );
        assert!(!md.contains("| pending |"), "{md}");
        assert!(md.contains("| **total** | **3** |"), "{md}");
    }
}

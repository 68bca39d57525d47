//! Which rows a report keeps: `--outcome` names — the stored outcomes, an access export's
//! words (`exported`, `no_data`) and `late` (erased after the due date) — and `--overdue`
//! (still open after the due date).

use crate::ledger::report::ReportRow;

/// The stored outcomes behind a name `--outcome` accepts beyond them.
fn stored(name: &str) -> &'static [&'static str] {
    match name {
        "exported" => &["deleted"],
        "no_data" => &["not_found"],
        "late" => &["deleted", "not_found"],
        _ => &[],
    }
}

/// The rows a report keeps.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--outcome` names (`None`: every outcome).
    pub names: Option<Vec<String>>,
    /// `--overdue`: only requests still open after their due date, as of this day.
    pub overdue_on: Option<String>,
}

impl Selection {
    /// The stored outcomes the ledger's query can filter on (`None`: all of them); rows it
    /// returns still go through [`Selection::keeps`].
    pub fn stored_outcomes(&self) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |o: &str| {
            if !out.iter().any(|x| x == o) {
                out.push(o.to_owned());
            }
        };
        match &self.names {
            Some(names) => {
                for name in names {
                    match stored(name) {
                        [] => add(name),
                        outcomes => outcomes.iter().for_each(|o| add(o)),
                    }
                }
            }
            None if self.overdue_on.is_some() => {
                ["rejected", "failed", "pending", "invalid"]
                    .iter()
                    .for_each(|o| add(o));
            }
            None => return None,
        }
        Some(out)
    }

    pub fn keeps(&self, row: &ReportRow) -> bool {
        let named = match &self.names {
            None => true,
            Some(names) => names.iter().any(|n| match n.as_str() {
                "late" => late(row),
                n => n == row.outcome || n == row.outcome_shown(),
            }),
        };
        let overdue = match &self.overdue_on {
            None => true,
            // Still open: neither erased nor ended by a resolution or a correction.
            Some(today) => {
                !row.succeeded()
                    && !row.ended_by_event()
                    && row.due_on.as_deref().is_some_and(|d| d < today.as_str())
            }
        };
        named && overdue
    }
}

/// Erased (or found not held) after the row's due date.
pub fn late(row: &ReportRow) -> bool {
    let finished = row.finished_at.as_deref().and_then(|t| t.get(..10));
    row.succeeded() && matches!((finished, row.due_on.as_deref()), (Some(f), Some(due)) if f > due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &str, due: Option<&str>, finished: Option<&str>) -> ReportRow {
        let state = match outcome {
            "deleted" => "erased",
            "not_found" => "not_held",
            other => other,
        };
        ReportRow {
            outcome: outcome.into(),
            state: state.into(),
            due_on: due.map(Into::into),
            finished_at: finished.map(Into::into),
            ..ReportRow::default()
        }
    }

    #[test]
    fn late_and_overdue() {
        let late_only = Selection {
            names: Some(vec!["late".into()]),
            overdue_on: None,
        };
        assert_eq!(
            late_only.stored_outcomes(),
            Some(vec!["deleted".to_owned(), "not_found".to_owned()])
        );
        let on_time = row("deleted", Some("2026-02-10"), Some("2026-02-10T09:00:00Z"));
        let after = row(
            "not_found",
            Some("2026-02-10"),
            Some("2026-02-11T00:00:00Z"),
        );
        let undated = row("deleted", None, Some("2026-02-11T00:00:00Z"));
        assert!(!late_only.keeps(&on_time));
        assert!(late_only.keeps(&after));
        assert!(!late_only.keeps(&undated));

        let overdue = Selection {
            names: None,
            overdue_on: Some("2026-03-01".into()),
        };
        assert!(overdue.keeps(&row("pending", Some("2026-02-28"), None)));
        assert!(overdue.keeps(&row("invalid", Some("2026-02-28"), None)));
        assert!(!overdue.keeps(&row("pending", Some("2026-03-01"), None)));
        assert!(!overdue.keeps(&row("pending", None, None)));
        assert!(!overdue.keeps(&after));
        // A request an operator resolved has ended: not overdue, whatever its outcome.
        let mut resolved = row("rejected", Some("2026-02-28"), None);
        resolved.state = "resolved".into();
        assert!(!overdue.keeps(&resolved));
    }
}

//! `forget status --format md`: a short paragraph and table a team pastes into a ticket —
//! what was asked, what was done and when, what remains. Counts only: no key, masked or not.

use std::fmt::Write;

use crate::ledger::chain::Head;
use crate::ledger::report::{FileFact, RunFact};
use crate::ledger::requests::RequestCounts;

/// What the summary says of the evidence: the ledger's chain head, and a manifest's seal.
#[derive(Default)]
pub struct Seal {
    pub chain: Option<Head>,
    /// `--manifest`: its path, the fingerprint of the key that signed it (`None`: unsigned),
    /// the chain record it pins, and whether the ledger still holds that record as pinned.
    pub manifest: Option<ManifestSeal>,
}

pub struct ManifestSeal {
    pub path: String,
    pub fingerprint: Option<String>,
    pub pinned: Option<i64>,
    pub holds_pin: bool,
}

/// The summary as Markdown. `ledger` names the ledger it was read from.
pub fn render(
    ledger: &str,
    files: &[FileFact],
    runs: &[RunFact],
    r: &RequestCounts,
    seal: &Seal,
) -> String {
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
    let tick = |s: &str| s.replace('`', "'");
    let chain = match &seal.chain {
        Some(head) => format!(
            ", its hash chain at record {} (`{}…`)",
            head.seq,
            head.hash.get(..16).unwrap_or(&head.hash)
        ),
        None => String::new(),
    };
    let _ = write!(out, "Evidence: the ledger `{}`{chain}", tick(ledger));
    match &seal.manifest {
        Some(m) => {
            let signed = match &m.fingerprint {
                Some(f) => format!("signed by key `{}`", tick(f)),
                None => "**not signed**".into(),
            };
            let pin = match (m.pinned, m.holds_pin) {
                (Some(seq), true) => format!(", pinning chain record {seq} (the ledger holds it)"),
                (Some(seq), false) => {
                    format!(
                        ", pinning chain record {seq} (**the ledger does not hold it as pinned**)"
                    )
                }
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "; manifest `{}` {signed}{pin}. Check: `forget verify --manifest {} --public-key KEY.pub`.",
                tick(&m.path),
                tick(&m.path)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "; `forget evidence DIR --sign-key KEY` writes the report, the summary and a \
                 signed manifest."
            );
        }
    }
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
        let md = render("forget.db", &[], &[], &counts, &Seal::default());
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

    #[test]
    fn the_evidence_line_names_the_chain_head_and_the_manifests_key() {
        let seal = Seal {
            chain: Some(Head {
                seq: 42,
                hash: "ab".repeat(32),
            }),
            manifest: Some(ManifestSeal {
                path: "pack/manifest.json".into(),
                fingerprint: Some("SHA256:xyz".into()),
                pinned: Some(41),
                holds_pin: true,
            }),
        };
        let md = render("forget.db", &[], &[], &RequestCounts::default(), &seal);
        assert!(
            md.contains("hash chain at record 42 (`abababababababab…`)"),
            "{md}"
        );
        assert!(
            md.contains("manifest `pack/manifest.json` signed by key `SHA256:xyz`"),
            "{md}"
        );
        assert!(
            md.contains("pinning chain record 41 (the ledger holds it)"),
            "{md}"
        );
        let unsigned = Seal {
            manifest: Some(ManifestSeal {
                fingerprint: None,
                holds_pin: false,
                ..ManifestSeal {
                    path: "m.json".into(),
                    fingerprint: None,
                    pinned: Some(7),
                    holds_pin: false,
                }
            }),
            ..Seal::default()
        };
        let md = render("forget.db", &[], &[], &RequestCounts::default(), &unsigned);
        assert!(md.contains("**not signed**"), "{md}");
        assert!(
            md.contains("**the ledger does not hold it as pinned**"),
            "{md}"
        );
    }
}

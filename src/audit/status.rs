//! `forget status` for humans: counts per outcome, where the ledger key lives, and deadlines.
//! (`status --json` prints [`crate::ledger::Counts`] as before, and the requests by state.)

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::deadline::DUE_SOON_DAYS;
use crate::error::Result;
use crate::keys::KeyHasher;
use crate::ledger::deadlines::DeadlineSummary;
use crate::ledger::{Counts, KeyCheck, Ledger};
use crate::secret::{self, SecretSource};
use crate::text::printable;

/// How many of the earliest-due keys the plain `status` lists.
pub const EARLIEST_SHOWN: usize = 5;

/// Where the ledger key comes from, and whether it fits this ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStatus {
    pub source: SecretSource,
    /// `Err`: the key cannot be loaded (missing file, too short), in words.
    pub check: std::result::Result<KeyCheck, String>,
}

/// Load the ledger key the way a run would (without creating it) and compare it with the
/// ledger's check value.
pub fn key_status(ledger: &Ledger, key_file: &Path) -> Result<KeyStatus> {
    match secret::load_ledger_key(key_file, false) {
        Ok((key, source)) => Ok(KeyStatus {
            source,
            check: Ok(ledger.verify_key(&KeyHasher::new(&key))?),
        }),
        Err(e) => Ok(KeyStatus {
            source: if std::env::var(secret::LEDGER_KEY_ENV).is_ok() {
                SecretSource::Env(secret::LEDGER_KEY_ENV)
            } else {
                SecretSource::File(PathBuf::from(key_file))
            },
            check: Err(e.to_string()),
        }),
    }
}

pub fn render_key(k: &KeyStatus) -> String {
    let state = match &k.check {
        Ok(KeyCheck::Matches) => "matches this ledger".to_owned(),
        Ok(KeyCheck::Differs) => {
            "DOES NOT MATCH this ledger: its keys were hashed with another key".to_owned()
        }
        Ok(KeyCheck::Unset) => "not yet used with this ledger".to_owned(),
        Err(e) => format!("UNAVAILABLE: {e}"),
    };
    format!(
        "ledger key: {} ({})\n",
        printable(&k.source.to_string()),
        printable(&state)
    )
}

pub fn render(path: &Path, counts: &Counts, key: &KeyStatus, d: &DeadlineSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ledger: {}", printable(&path.display().to_string()));
    out.push_str(&render_key(key));
    for (name, n) in [
        ("total keys", counts.total),
        ("deleted", counts.deleted),
        ("not_found", counts.not_found),
        ("rejected", counts.rejected),
        ("failed", counts.failed),
        ("pending", counts.pending),
        ("invalid rows", counts.invalid),
        ("duplicate rows", counts.duplicates),
    ] {
        let _ = writeln!(out, "  {name:<16}{n:>10}");
    }
    if d.dated > 0 {
        out.push_str(&render_deadlines(d));
        // The lists name every request to act on: overdue ones, and late ones as evidence.
        if d.overdue + d.due_soon > d.earliest.len() as u64 || d.overdue + d.erased_late > 0 {
            let _ = writeln!(
                out,
                "  `forget status --deadlines{}` lists them all",
                crate::text::state_flag(path)
            );
        }
    }
    out
}

/// The deadline section: counts, then the earliest-due unfinished keys (masked).
pub fn render_deadlines(d: &DeadlineSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deadlines on {} (UTC; due one month after receipt, GDPR Art. 12(3)):",
        d.today
    );
    for (name, n) in [
        ("overdue", d.overdue),
        (&*format!("due within {DUE_SOON_DAYS}d"), d.due_soon),
        ("erased late", d.erased_late),
        ("undated, open", d.undated_unfinished),
    ] {
        let _ = writeln!(out, "  {name:<16}{n:>10}");
    }
    if !d.earliest.is_empty() {
        let _ = writeln!(out, "  earliest due among unfinished keys:");
        for u in &d.earliest {
            let late = if u.due_on < d.today { "  OVERDUE" } else { "" };
            let scope = if u.profile_name.is_empty() {
                "-".into()
            } else {
                printable(&u.profile_name)
            };
            let _ = writeln!(
                out,
                "    {}  {:<24} {:<16} {}{late}",
                u.due_on,
                printable(&u.key_masked),
                scope,
                u.outcome
            );
        }
    }
    out
}

/// A note on input files a run left partly recorded, if any: the counts above leave out
/// their unread rows (and, for a bulk load, may count a key of theirs twice) until a run
/// given the same files continues them.
pub fn render_unfinished((files, bulk): (u64, bool)) -> Option<String> {
    if files == 0 {
        return None;
    }
    let mut note = format!(
        "note: {files} input file{} only partly recorded (a run was stopped while reading {}): \
         `forget run` with the same file continues it; until then these counts are partial",
        if files == 1 { " is" } else { "s are" },
        if files == 1 { "it" } else { "them" },
    );
    if bulk {
        note.push_str(", and a key repeated in it may be counted twice");
    }
    note.push('\n');
    Some(note)
}

//! What to do about open requests, as commands that work as printed: how many per reason,
//! and the command that ends each kind, naming the ledger when it is not the default one.

use std::path::Path;

use super::{RequestCounts, State};

pub use crate::text::{DEFAULT_LEDGER, shell_word, state_flag};

/// What to do about the requests still open, one line each: how many per reason and the
/// command that resolves that kind, as it must be typed for this ledger (`ledger`).
/// `run_again`: the command that sends pending and failed keys, in words.
pub fn render_open(counts: &RequestCounts, ledger: &Path, run_again: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if counts.all_ended() {
        return out;
    }
    let _ = writeln!(
        out,
        "{} of {} requests still open ({} need attention):",
        counts.open, counts.requests, counts.needs_attention
    );
    for hint in open_hints(counts, ledger, run_again) {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            hint.count,
            hint.state.words(),
            hint.what
        );
    }
    out
}

/// The open requests of one state and what ends them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenHint {
    pub state: State,
    pub count: u64,
    /// What to do, in words, each command in backquotes as it is typed.
    pub what: String,
}

/// [`render_open`]'s lines as data: pending first, then the states that need attention, each
/// that has requests.
pub fn open_hints(counts: &RequestCounts, ledger: &Path, run_again: &str) -> Vec<OpenHint> {
    let state = state_flag(ledger);
    let resolve = |outcome: &str| {
        format!("`forget resolve{state} --outcome {outcome} --reason \"WHY\"` ends them")
    };
    [State::Pending]
        .into_iter()
        .chain(State::ATTENTION)
        .filter(|s| counts.get(*s) > 0)
        .map(|s| {
            let what = match s {
                State::Pending => format!("{run_again} to send them"),
                State::Failed => format!("{run_again} to retry them, or {}", resolve("failed")),
                State::Rejected => format!(
                    "`forget report{state} --split DIR` writes them to DIR/needs-attention.csv to fix \
                     and feed back to forget run; or {}",
                    resolve("rejected")
                ),
                State::Invalid => format!(
                    "`forget invalid{state}` lists them; fix them in `forget report{state} --split DIR` \
                     (DIR/needs-attention.csv) and feed it back, or {}",
                    resolve("invalid")
                ),
                State::DateUnreadable => resolve("date_unreadable"),
                State::SetAside => format!(
                    "fix the profile name and feed them back, or {}",
                    resolve("set_aside")
                ),
                _ => String::new(),
            };
            OpenHint {
                state: s,
                count: counts.get(s),
                what,
            }
        })
        .collect()
}

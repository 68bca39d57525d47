//! Text from input files and APIs, made safe to show on a terminal or in a log.
//!
//! A CSV cell, an API's description or a header name may hold ESC sequences (clear the
//! screen, set the window title, rewrite earlier lines), carriage returns, or bidi overrides
//! that make a line read backwards. Everything forget prints for people goes through
//! [`printable_lines`] at the boundary (see [`crate::output`]); values from input or an API
//! are passed through [`printable`] where they are put into a line, so a newline in a value
//! cannot forge a line of its own either. JSON (escaped by serde) and CSV (data, see
//! [`crate::csvfile`]) are not text for a terminal and are not changed.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every character a terminal would act on shown as an escape: C0 controls
/// (newline and tab included), DEL, C1 controls and Unicode bidi controls. `\n`, `\r` and
/// `\t` read as themselves; anything else as `\u{1b}`.
pub fn printable(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// [`printable`] for a whole message of several lines: every line break is kept.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n')
}

/// `s` as one shell word, for a command a hint prints: as is when it holds only characters
/// no shell treats specially, else in single quotes (a `'` inside written `'\''`).
pub fn shell_word(s: &str) -> Cow<'_, str> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=@+%".contains(c));
    if plain {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', "'\\''")))
    }
}

/// The ledger the audit commands (`status`, `invalid`, `lookup`, `report`) read without
/// `--state` (see `cli::args::LedgerArgs`).
pub const DEFAULT_LEDGER: &str = "forget.db";

/// ` --state PATH` for a hint naming an audit command of `ledger`, or nothing when it is the
/// one they read without it: the command then works as printed.
pub fn state_flag(ledger: &std::path::Path) -> String {
    if ledger == std::path::Path::new(DEFAULT_LEDGER) {
        String::new()
    } else {
        format!(" --state {}", shell_word(&ledger.to_string_lossy()))
    }
}

/// A character a terminal acts on rather than shows.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi(c)
}

/// Unicode's directional formatting characters: they reorder what follows them on screen
/// (U+202E shows `exe.txt` as `txt.exe`).
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if keep(c) || !is_unsafe(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// `n` and the noun for it: "1 row", "2 rows".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("forget-simulate.db"), "forget-simulate.db");
        assert_eq!(shell_word("/tmp/a b.db"), "'/tmp/a b.db'");
        assert_eq!(shell_word("it's.db"), "'it'\\''s.db'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(state_flag(std::path::Path::new("forget.db")), "");
        assert_eq!(state_flag(std::path::Path::new("x.db")), " --state x.db");
    }

    #[test]
    fn controls_are_shown_not_obeyed() {
        let case = |s: &str, want: &str| assert_eq!(printable(s), want, "{s:?}");
        case("plain, ünïcode – ok", "plain, ünïcode – ok");
        case("\x1b]0;pwned\x07", "\\u{1b}]0;pwned\\u{7}");
        case("\x1b[2J", "\\u{1b}[2J");
        case("a\nb\tc\rd", "a\\nb\\tc\\rd");
        case("\0\x7f\u{85}\u{9b}", "\\u{0}\\u{7f}\\u{85}\\u{9b}");
        case("abc\u{202e}txt.exe", "abc\\u{202e}txt.exe");
        case("\u{2066}x\u{2069}\u{200f}", "\\u{2066}x\\u{2069}\\u{200f}");
        assert!(matches!(printable("nothing to do"), Cow::Borrowed(_)));
    }

    #[test]
    fn messages_keep_their_lines() {
        assert_eq!(printable_lines("one\ntwo\x1b[2J\n"), "one\ntwo\\u{1b}[2J\n");
        assert_eq!(printable_lines("a\tb\r"), "a\\tb\\r");
    }
}

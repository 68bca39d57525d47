//! Text into HTML: every string from the ledger or an input file (a file name, an API's
//! description, an operator's name, a request id) goes through [`esc`] before it reaches the
//! page, in an element or in a quoted attribute.

use std::fmt::Write;

use crate::text::printable;

/// `s` safe as HTML text or as a double- or single-quoted attribute value: `&`, `<`, `>`,
/// `"` and `'` as character references; control characters (newlines included) and bidi
/// controls shown as escapes (`\u{202e}`), as a terminal is shown them (see [`crate::text`]),
/// so a value can neither open markup nor reorder what the page shows around it.
pub fn esc(s: &str) -> String {
    let shown = printable(s);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped, with each `` `command` `` in it set as code (a hint's commands, to copy).
pub fn with_code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// `n` with thousands separated by commas: 1,234,567.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters of `s`, an ellipsis marking the cut (before escaping: a cut
/// never splits a character reference).
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_shown_not_obeyed() {
        let case = |s: &str, want: &str| assert_eq!(esc(s), want, "{s:?}");
        case("plain – ünïcode", "plain – ünïcode");
        case(
            "<script>alert(1)</script>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        );
        case("a & b", "a &amp; b");
        case("&amp;", "&amp;amp;");
        case(r#"" onmouseover="x"#, "&quot; onmouseover=&quot;x");
        case("it's", "it&#39;s");
        case("</td></tr></table>", "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;");
        case("<!-- x -->", "&lt;!-- x --&gt;");
        case("]]><svg onload=x>", "]]&gt;&lt;svg onload=x&gt;");
        // Controls and bidi overrides: visible, inert.
        case("a\nb\rc\td", "a\\nb\\rc\\td");
        case("\0\x1b[2J\x7f\u{85}", "\\u{0}\\u{1b}[2J\\u{7f}\\u{85}");
        case("invoice\u{202e}fdp.exe", "invoice\\u{202e}fdp.exe");
        case("\u{2066}x\u{2069}\u{200f}", "\\u{2066}x\\u{2069}\\u{200f}");
        // Nothing escaped twice, nothing left raw, whatever is mixed.
        let hostile = "<a href='javascript:x'>&\"\u{202e}\n</a>";
        let e = esc(hostile);
        assert!(!e.contains(['<', '>', '"', '\'', '\n', '\u{202e}']), "{e}");
    }

    #[test]
    fn hints_set_commands_as_code_and_escape_them() {
        assert_eq!(
            with_code("`forget resolve --reason \"WHY\"` ends them"),
            "<code>forget resolve --reason &quot;WHY&quot;</code> ends them"
        );
        assert_eq!(
            with_code("`forget invalid --state 'a<b>.db'` lists them"),
            "<code>forget invalid --state &#39;a&lt;b&gt;.db&#39;</code> lists them"
        );
        assert_eq!(with_code("no command"), "no command");
    }

    #[test]
    fn numbers_and_cuts() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }
}

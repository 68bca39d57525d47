//! Keyed hashing and masking of erasure keys.
//!
//! The ledger matches rows to units of work by `HMAC-SHA256(secret, key)`, never by the
//! plaintext, so the plaintext can be dropped once a key is gone. The secret lives outside
//! the database (see [`crate::secret`]): without it, a stolen ledger cannot be brute-forced
//! back into phone numbers, which a plain or predictably salted hash would allow.

use std::borrow::Cow;
use std::ops::Range;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub type KeyHash = [u8; 32];

#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl KeyHasher {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        KeyHasher { mac }
    }

    pub fn hash(&self, key: &str) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A form of the key a human can recognise but that does not identify the person:
/// `jane.doe@example.com` → `j***@e***.com`, `+447700900123` → `+44*******23`,
/// `f3a9c2d4-1b2c` → `f3*********2c`, `12345` → `****5`, `42` → `**`.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if let Some(at) = key.find('@') {
        let (local, domain) = (&key[..at], &key[at + 1..]);
        let tld = domain.rfind('.').map(|i| &domain[i..]).unwrap_or("");
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        return format!("{}***@{}***{}", first(local), first(domain), tld);
    }
    let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    if digits >= 6 && digits + 4 >= chars.len() {
        // A phone number: keep a country-code-sized prefix and the last two digits.
        let keep_front = if chars.first() == Some(&'+') { 3 } else { 2 };
        return chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < keep_front || i + 2 >= chars.len() {
                    *c
                } else {
                    '*'
                }
            })
            .collect();
    }
    // Anything else (device ids, customer ids): first two and last two characters; a short
    // one (an Outreach id) only its last characters, at most a third of it and never fewer
    // than three hidden, so `12345` is told from `12346` without being given away.
    if chars.len() <= 6 {
        let shown = (chars.len() / 3).min(chars.len().saturating_sub(3));
        let hidden = chars.len().max(1) - shown;
        let tail: String = chars[chars.len() - shown..].iter().collect();
        return format!("{}{tail}", "*".repeat(hidden));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 4))
}

/// Keys shorter than this (an Outreach id) are masked by [`redact`] only where they stand as
/// a word of their own (`ID '7'`, `callPurpose 3 is in use`): found inside longer words or
/// numbers, they would garble unrelated text (`v2`, `404`).
pub const MIN_REDACT_LEN: usize = 6;

/// `text` with every form of `key` it holds replaced by the key's mask: an API answer that
/// echoes the key back ("profile +4477… not found"), an audit field or a kept column that
/// repeats it, must not keep it once the key is gone. The one function through which a key
/// is taken out of a text; the forms it finds:
///
/// - the key as written, ignoring the case of ASCII letters (`BOB@EXAMPLE.ORG`);
/// - percent-encoded, in whole or in part (`bob%40example.org`, `%2B447700900123`);
/// - for a key that is a phone number (digits, an optional leading `+`, spaces, dashes,
///   dots or brackets): its digits with `+`, with `00` instead of `+`, or with no prefix,
///   with any of those separators between the digits (`0044 7700-900.123`), but not inside
///   a longer run of digits (another number);
/// - for a key shorter than [`MIN_REDACT_LEN`]: as written, in any ASCII case, as a word of
///   its own (no ASCII letter or digit on either side).
///
/// Not found: other encodings (base64, JSON `\u` escapes in raw text — callers hand over
/// parsed values), letters outside ASCII in another case, a number in national form.
pub fn redact<'a>(text: &'a str, key: &str) -> Cow<'a, str> {
    let Some(forms) = KeyForms::new(key) else {
        return Cow::Borrowed(text);
    };
    replace_spans(text, forms.find(text), &mask(key))
}

/// `text` with every form of `secret` (a token) replaced by `[token]`: as written, in any
/// ASCII case, or percent-encoded. Secrets shorter than 4 characters are left alone.
pub fn redact_secret<'a>(text: &'a str, secret: &str) -> Cow<'a, str> {
    let secret = secret.trim();
    if secret.chars().count() < 4 {
        return Cow::Borrowed(text);
    }
    let decoded = Decoded::new(text);
    let mut spans = Vec::new();
    find_ignoring_case(
        &decoded.bytes,
        secret.to_ascii_lowercase().as_bytes(),
        &mut spans,
    );
    let spans = spans.into_iter().map(|r| decoded.span(r)).collect();
    replace_spans(text, spans, "[token]")
}

/// The forms of one key [`redact`] looks for.
struct KeyForms {
    /// The key, ASCII letters lowercased.
    lower: Vec<u8>,
    /// A phone number's digits, without a leading `00`.
    digits: Option<Vec<u8>>,
    /// A short key, found only as a word of its own.
    word: bool,
}

impl KeyForms {
    fn new(key: &str) -> Option<KeyForms> {
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        Some(KeyForms {
            lower: key.to_ascii_lowercase().into_bytes(),
            digits: phone_digits(key),
            word: key.chars().count() < MIN_REDACT_LEN,
        })
    }

    /// Where in `text` the key is, as byte ranges (overlapping ones merged).
    fn find(&self, text: &str) -> Vec<Range<usize>> {
        let decoded = Decoded::new(text);
        let hay = &decoded.bytes;
        let mut spans = Vec::new();
        match &self.digits {
            Some(digits) => find_number(hay, digits, &mut spans),
            None => find_ignoring_case(hay, &self.lower, &mut spans),
        }
        if self.word {
            let joined = |at: Option<&u8>| at.is_some_and(u8::is_ascii_alphanumeric);
            spans.retain(|r| {
                !joined(r.start.checked_sub(1).and_then(|i| hay.get(i))) && !joined(hay.get(r.end))
            });
        }
        spans.into_iter().map(|r| decoded.span(r)).collect()
    }
}

/// Characters written between the digits of a phone number.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')')
}

/// The digits of a key that is a phone number (an international `00` prefix dropped, as
/// `+` is), or `None` for any other key.
fn phone_digits(key: &str) -> Option<Vec<u8>> {
    let plus = key.starts_with('+');
    let rest = key.strip_prefix('+').unwrap_or(key);
    if !rest.bytes().all(|b| b.is_ascii_digit() || is_separator(b)) {
        return None;
    }
    let mut digits: Vec<u8> = rest.bytes().filter(u8::is_ascii_digit).collect();
    if !plus && digits.starts_with(b"00") {
        digits.drain(..2);
    }
    (digits.len() >= MIN_REDACT_LEN).then_some(digits)
}

/// A spelling of a key that `forget lookup` tries, and how it differs from what was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub key: String,
    /// `None` for the key as given (trimmed); else the change, in words.
    pub form: Option<&'static str>,
}

/// The spellings a person may give for the key a ledger holds, the given one (trimmed)
/// first: an e-mail address in lower case; a phone number (as [`redact`] recognises one)
/// without separators, with `+`, with `00` and with no prefix. A request file is recorded
/// as written, so the ledger holds whichever of these its file had.
pub fn variants(key: &str) -> Vec<Variant> {
    let given = key.trim();
    let mut out = vec![Variant {
        key: given.to_owned(),
        form: None,
    }];
    let mut add = |key: String, form: &'static str| {
        if !out.iter().any(|v| v.key == key) {
            out.push(Variant {
                key,
                form: Some(form),
            });
        }
    };
    if given.contains('@') {
        add(given.to_lowercase(), "the address in lower case");
    } else if let Some(digits) = phone_digits(given) {
        let digits = String::from_utf8_lossy(&digits).into_owned();
        add(
            format!("+{digits}"),
            "the number with +, without separators",
        );
        add(digits.clone(), "the number without prefix or separators");
        add(
            format!("00{digits}"),
            "the number with 00, without separators",
        );
    }
    out
}

/// Every place `needle` (ASCII-lowercased) occurs in `hay`, ignoring ASCII case.
fn find_ignoring_case(hay: &[u8], needle: &[u8], spans: &mut Vec<Range<usize>>) {
    let Some(&first) = needle.first() else { return };
    if hay.len() < needle.len() {
        return;
    }
    for i in 0..=hay.len() - needle.len() {
        if hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()]
                .iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        {
            spans.push(i..i + needle.len());
        }
    }
}

/// Every place `hay` writes the phone number `digits`: after `+`, `00` or nothing, with
/// separators anywhere between the digits, and not part of a longer run of digits.
fn find_number(hay: &[u8], digits: &[u8], spans: &mut Vec<Range<usize>>) {
    for start in 0..hay.len() {
        let c = hay[start];
        let begins = c == b'+' || c.is_ascii_digit();
        if !begins || (start > 0 && hay[start - 1].is_ascii_digit()) {
            continue;
        }
        let found = if c == b'+' {
            digits_at(hay, start + 1, digits)
        } else {
            digits_at(hay, start, digits).or_else(|| {
                hay[start..]
                    .starts_with(b"00")
                    .then(|| digits_at(hay, start + 2, digits))
                    .flatten()
            })
        };
        if let Some(end) = found {
            spans.push(start..end);
        }
    }
}

/// Where `digits` end when `hay` writes them from `at` (separators allowed before each).
fn digits_at(hay: &[u8], mut at: usize, digits: &[u8]) -> Option<usize> {
    for d in digits {
        while hay.get(at).copied().is_some_and(is_separator) {
            at += 1;
        }
        if hay.get(at) != Some(d) {
            return None;
        }
        at += 1;
    }
    // One more digit makes it another number.
    (!hay.get(at).is_some_and(u8::is_ascii_digit)).then_some(at)
}

/// A text with its `%XX` escapes decoded, and where each decoded byte came from.
struct Decoded<'a> {
    bytes: Cow<'a, [u8]>,
    /// The text offset of each decoded byte, then the text's length; `None` when the text
    /// holds no escape (offsets are then the same).
    starts: Option<Vec<usize>>,
}

impl<'a> Decoded<'a> {
    fn new(text: &'a str) -> Decoded<'a> {
        let raw = text.as_bytes();
        if !raw.contains(&b'%') {
            return Decoded {
                bytes: Cow::Borrowed(raw),
                starts: None,
            };
        }
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        let mut bytes = Vec::with_capacity(raw.len());
        let mut starts = Vec::with_capacity(raw.len() + 1);
        let mut i = 0;
        while i < raw.len() {
            starts.push(i);
            if raw[i] == b'%'
                && let (Some(high), Some(low)) = (hex(raw.get(i + 1)), hex(raw.get(i + 2)))
            {
                bytes.push((high * 16 + low) as u8);
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
        starts.push(raw.len());
        Decoded {
            bytes: Cow::Owned(bytes),
            starts: Some(starts),
        }
    }

    /// The text's bytes that decoded into `range`.
    fn span(&self, range: Range<usize>) -> Range<usize> {
        match &self.starts {
            None => range,
            Some(starts) => starts[range.start]..starts[range.end],
        }
    }
}

/// `text` with each of `spans` (byte ranges, in any order, possibly overlapping) replaced
/// by `with`.
fn replace_spans<'a>(text: &'a str, mut spans: Vec<Range<usize>>, with: &str) -> Cow<'a, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for span in spans {
        if span.end <= done {
            continue;
        }
        let start = span.start.max(done);
        // Spans begin and end on characters the search matched; a cut inside a character
        // cannot happen, and would be skipped rather than break the text.
        let (Some(before), Some(_)) = (text.get(done..start), text.get(start..span.end)) else {
            continue;
        };
        out.push_str(before);
        if start == span.start {
            out.push_str(with);
        }
        done = span.end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let case = |key: &str, want: &str| assert_eq!(mask(key), want, "{key}");
        case("jane.doe@example.com", "j***@e***.com");
        case("a@b", "a***@b***");
        case("+447700900123", "+44********23");
        case("919876543210", "91********10");
        case(
            "f3a9c2d4-1b2c-4d5e-8f90-123456789abc",
            "f3********************************bc",
        );
        case("abc", "***");
        // Short ids: the last characters, never more than a third, at least three hidden.
        case("7", "*");
        case("42", "**");
        case("1234", "***4");
        case("12345", "****5");
        case("ab12cd", "****cd");
        case("", "*");
    }

    #[test]
    fn redaction() {
        let case = |text: &str, key: &str, want: &str| {
            assert_eq!(redact(text, key), want, "{text:?} / {key:?}")
        };
        case(
            "Profile +447700900123 not found",
            "+447700900123",
            "Profile +44********23 not found",
        );
        case(
            "Contact profile not found",
            "+447700900123",
            "Contact profile not found",
        );
        case(
            "a@b.com and a@b.com",
            "a@b.com",
            "a***@b***.com and a***@b***.com",
        );
        case("anything", "", "anything");
        // A short key (an Outreach id) where it stands alone, and only there.
        case("callPurpose 3 is in use", "3", "callPurpose * is in use");
        case(
            "Could not find 'callPurpose' with ID '12345'.",
            "12345",
            "Could not find 'callPurpose' with ID '****5'.",
        );
        case("ID=%31%32%33%34%35", "12345", "ID=****5");
        case(
            "v2 answered 404 for 40 and 4x",
            "4",
            "v2 answered 404 for 40 and 4x",
        );
        case("AB and ab, not abc", "ab", "** and **, not abc");
    }

    /// Every form of a key that must not survive, and texts that only look like one.
    #[test]
    fn every_form_of_a_key_is_masked() {
        const MAIL: &str = "bob.0@example.org";
        const PHONE: &str = "+447922200000";
        let mail = mask(MAIL);
        let phone = mask(PHONE);
        let m = |s: &str| s.replace("{M}", &mail).replace("{P}", &phone);
        let table: &[(&str, &str, &str)] = &[
            // E-mail addresses: case and percent-encoding.
            (MAIL, "bob.0@example.org", "{M}"),
            (MAIL, "BOB.0@EXAMPLE.ORG", "{M}"),
            (MAIL, "from bob.0@example.org", "from {M}"),
            (MAIL, "From: Bob.0@Example.Org.", "From: {M}."),
            (MAIL, "bob.0%40example.org", "{M}"),
            (MAIL, "mailto:BOB.0%40EXAMPLE.ORG?x", "mailto:{M}?x"),
            (MAIL, "%62%6F%62.0%40example.org", "{M}"),
            (MAIL, "x bob.0@example.org, BOB.0@example.org", "x {M}, {M}"),
            (MAIL, "bob.1@example.org", "bob.1@example.org"),
            (MAIL, "bob.0@example.com", "bob.0@example.com"),
            (MAIL, "100% sure", "100% sure"),
            (MAIL, "%", "%"),
            (MAIL, "%4", "%4"),
            // Phone numbers: prefixes, separators, percent-encoding.
            (PHONE, "+447922200000", "{P}"),
            (PHONE, "447922200000", "{P}"),
            (PHONE, "00447922200000", "{P}"),
            (PHONE, "%2B447922200000", "{P}"),
            (PHONE, "%2b447922200000", "{P}"),
            (PHONE, "+44 7922 200 000", "{P}"),
            (PHONE, "+44-7922-200-000", "{P}"),
            (PHONE, "0044.7922.200.000", "{P}"),
            (PHONE, "+44 (7922) 200000", "{P}"),
            (PHONE, "tel:+447922200000;ext=1", "tel:{P};ext=1"),
            (
                PHONE,
                "call 447922200000 or 00447922200000",
                "call {P} or {P}",
            ),
            (PHONE, "ref-447922200000", "ref-{P}"),
            // Another number: longer, or the key's digits inside more digits.
            (PHONE, "4479222000001", "4479222000001"),
            (PHONE, "1447922200000", "1447922200000"),
            (PHONE, "+447922200001", "+447922200001"),
            (PHONE, "44792220000", "44792220000"),
            (PHONE, "no number here", "no number here"),
        ];
        for (key, text, want) in table {
            assert_eq!(redact(text, key), m(want), "{text:?} / {key:?}");
        }
        // The key given with 00 or without +, or written with separators, finds the same.
        for key in ["00447922200000", "447922200000", "+44 7922 200000"] {
            let masked = mask(key);
            for text in ["+447922200000", "0044 7922 200 000", "%2B447922200000"] {
                assert_eq!(redact(text, key), masked, "{text:?} / {key:?}");
            }
        }
        // Non-ASCII text around a key stays intact.
        assert_eq!(
            redact("café BOB.0@example.org ünd", MAIL),
            format!("café {mail} ünd")
        );
    }

    #[test]
    fn lookup_variants() {
        let keys = |k: &str| -> Vec<String> { variants(k).into_iter().map(|v| v.key).collect() };
        assert_eq!(
            keys(" Yara.Garcia899@Example.com "),
            ["Yara.Garcia899@Example.com", "yara.garcia899@example.com"]
        );
        assert_eq!(keys("yara@example.com"), ["yara@example.com"]);
        assert_eq!(
            keys("+44 7700 900448"),
            [
                "+44 7700 900448",
                "+447700900448",
                "447700900448",
                "00447700900448"
            ]
        );
        assert_eq!(
            keys("0044-7700-900448"),
            [
                "0044-7700-900448",
                "+447700900448",
                "447700900448",
                "00447700900448"
            ]
        );
        assert_eq!(
            keys("+447700900448"),
            ["+447700900448", "447700900448", "00447700900448"]
        );
        assert_eq!(keys("f3a9c2d4-1b2c"), ["f3a9c2d4-1b2c"]);
        assert_eq!(variants("x")[0].form, None);
    }

    #[test]
    fn secrets_are_masked_as_written_in_any_case_or_percent_encoded() {
        let case = |text: &str, want: &str| {
            assert_eq!(redact_secret(text, "tok-AbC123"), want, "{text:?}")
        };
        case("invalid token tok-AbC123", "invalid token [token]");
        case("Bearer TOK-ABC123.", "Bearer [token].");
        case("t=tok%2DAbC123&x", "t=[token]&x");
        case("tok-AbC12", "tok-AbC12");
        case("no token", "no token");
        assert_eq!(redact_secret("abc", "ab"), "abc");
    }

    #[test]
    fn hash_depends_on_secret_and_key() {
        let a = KeyHasher::new(b"one");
        let b = KeyHasher::new(b"two");
        assert_eq!(a.hash("+447700900123"), a.hash("+447700900123"));
        assert_ne!(a.hash("+447700900123"), b.hash("+447700900123"));
        assert_ne!(a.hash("+447700900123"), a.hash("+447700900124"));
    }
}

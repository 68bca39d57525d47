//! Keyed hashing and masking of erasure keys.
//!
//! The ledger matches rows to units of work by `HMAC-SHA256(secret, key)`, never by the
//! plaintext, so the plaintext can be dropped once a key is gone. The secret lives outside
//! the database (see [`crate::secret`]): without it, a stolen ledger cannot be brute-forced
//! back into phone numbers, which a plain or predictably salted hash would allow.

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
/// `jane.doe@example.com` → `j***@e***.com`, `+447700900123` → `+44*******23`.
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
    // Anything else (device ids, customer ids): first two and last two characters.
    if chars.len() <= 6 {
        return "*".repeat(chars.len().max(1));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 4))
}

/// `text` with every occurrence of `key` replaced by its mask: an API answer that echoes the
/// key back ("profile +4477… not found") must not smuggle it into the ledger.
/// Keys shorter than this are left alone by [`redact`].
pub const MIN_REDACT_LEN: usize = 6;

pub fn redact(text: &str, key: &str) -> String {
    // A key this short identifies no one, and replacing it would garble unrelated text.
    if key.chars().count() < MIN_REDACT_LEN || !text.contains(key) {
        return text.to_owned();
    }
    text.replace(key, &mask(key))
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
    }

    #[test]
    fn redaction() {
        let case = |text: &str, key: &str, want: &str| assert_eq!(redact(text, key), want);
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
        // Too short to identify anyone: replacing it would garble the text.
        case("callPurpose 3 is in use", "3", "callPurpose 3 is in use");
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

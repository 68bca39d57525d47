//! Turning command-line arguments into a validated run configuration, in one place.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::input::{EXPARAM_MAX, InputOptions};
use crate::engine::retry::RetryPolicy;

/// `--rate`: a number of requests per second, or `unlimited`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub Option<f64>);

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("unlimited") || s == "0" {
            return Ok(Rate(None));
        }
        match s.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate(Some(r))),
            _ => Err(format!(
                "`{s}` is not a rate: give requests per second (e.g. 10, 0.5) or `unlimited`"
            )),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(r) => write!(f, "{r}/s"),
            None => f.write_str("unlimited"),
        }
    }
}

/// Parse `--exparam exparamN=VALUE`.
pub fn parse_exparam(s: &str) -> Result<(String, String)> {
    let (name, value) = s.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "--exparam {s}: expected exparamN=VALUE, e.g. --exparam exparam1=GDPR-2026-11"
        ))
    })?;
    let n = name
        .trim()
        .to_ascii_lowercase()
        .strip_prefix("exparam")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=EXPARAM_MAX).contains(n))
        .ok_or_else(|| {
            Error::usage(format!(
                "--exparam {s}: the name must be exparam1 to exparam10"
            ))
        })?;
    Ok((format!("exparam{n}"), value.to_owned()))
}

/// Check a base URL: a host is required, and plain http only for loopback (a token sent in
/// clear over a network is a leaked token).
pub fn parse_base_url(s: &str) -> Result<reqwest::Url> {
    parse_url("--base-url", s)
}

/// [`parse_base_url`]'s rules for any URL a token is sent to; `flag` names it in errors.
pub fn parse_url(flag: &str, s: &str) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| {
        Error::usage(format!(
            "{flag} {s}: not a URL ({e}); expected e.g. https://acme.webexcampaign.io"
        ))
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(Error::usage(format!("{flag} {s}: no host in it"))),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(Error::usage(format!(
                "{flag} {s}: plain http would send the token unencrypted; use https:// (http is allowed only for localhost)"
            )));
        }
        other => {
            return Err(Error::usage(format!(
                "{flag} {s}: scheme {other} is not http(s)"
            )));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::usage(format!(
            "{flag} {s}: give the base only, without ?query or #fragment"
        )));
    }
    Ok(url)
}

/// Everything `forget run` needs, validated.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The connector's ledger name (`webex`, `outreach`): input is recorded for it.
    pub connector: &'static str,
    pub files: Vec<PathBuf>,
    pub input: InputOptions,
    pub base_url: Option<reqwest::Url>,
    pub token_file: Option<PathBuf>,
    pub rate: Rate,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub state: PathBuf,
    pub ledger_key_file: PathBuf,
    pub retry_rejected: bool,
    pub dry_run: bool,
    /// Prove URL, token and profile name with a canary before sending (see `preflight`).
    pub preflight: bool,
    pub simulate: bool,
    pub quiet: bool,
    pub progress_every: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let case = |s: &str, want: Option<Rate>| assert_eq!(s.parse::<Rate>().ok(), want, "{s}");
        case("10", Some(Rate(Some(10.0))));
        case("0.5", Some(Rate(Some(0.5))));
        case("unlimited", Some(Rate(None)));
        case("0", Some(Rate(None)));
        case("-1", None);
        case("fast", None);
        case("NaN", None);
    }

    #[test]
    fn exparams() {
        let case = |s: &str, want: Option<(&str, &str)>| {
            assert_eq!(
                parse_exparam(s).ok(),
                want.map(|(a, b)| (a.to_string(), b.to_string())),
                "{s}"
            )
        };
        case("exparam1=GDPR", Some(("exparam1", "GDPR")));
        case("EXPARAM10=a=b", Some(("exparam10", "a=b")));
        case("exparam11=x", None);
        case("exparam0=x", None);
        case("exparam1", None);
        case("other=x", None);
    }

    #[test]
    fn base_urls() {
        let ok = |s: &str| assert!(parse_base_url(s).is_ok(), "{s} should be accepted");
        let bad = |s: &str, why: &str| {
            let message = parse_base_url(s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(why), "{s}: {message}");
        };
        ok("https://acme.webexcampaign.io");
        ok("http://127.0.0.1:8080");
        ok("http://localhost:1");
        ok("http://[::1]:9");
        bad("http://acme.webexcampaign.io", "unencrypted");
        bad("http://10.0.0.1", "unencrypted");
        bad("ftp://x", "not http");
        bad("acme.webexcampaign.io", "not a URL");
        bad("https://acme.io/?x=1", "without ?query");
    }
}

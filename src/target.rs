//! Where requests go: a tenant's API at a base URL with its token, or the built-in simulator
//! loaded with the sample tenant (rehearsals). A [`Target`] is what a run sends to; the
//! rules a URL must pass before a token is sent to it live here too.

use std::sync::Arc;

use crate::connector::{Connector, Kind};
use crate::error::{Error, Result};
use crate::secret::Token;
use crate::sim;

/// A connector bound to a tenant (or to a simulator started for this command, kept alive as
/// long as the target).
pub struct Target {
    pub connector: Arc<dyn Connector>,
    /// The API host, recorded with each run.
    pub api_host: Option<String>,
    /// Recorded in the ledger: a ledger used against one tenant refuses another.
    pub label: String,
    _sim: Option<sim::SimHandle>,
}

impl Target {
    /// `connector`, sending to `base_url`.
    pub fn new(connector: Arc<dyn Connector>, base_url: &reqwest::Url) -> Target {
        Target {
            connector,
            api_host: base_url.host_str().map(String::from),
            label: base_url.as_str().trim_end_matches('/').to_owned(),
            _sim: None,
        }
    }

    /// `kind`'s API at `base_url`, with `token`.
    pub fn connect(kind: Kind, base_url: reqwest::Url, token: Token) -> Result<Target> {
        Ok(Target::new(kind.connect(&base_url, &token)?, &base_url))
    }
}

/// The built-in simulator, loaded with the sample tenant: Webex profiles, purposes, target
/// groups and transactions, and Outreach call purposes. Each start is a fresh tenant with the
/// same contents; a [`Target`] made from it keeps it alive.
pub struct SampleTenant {
    handle: sim::SimHandle,
    pub token: Token,
}

/// Call purposes in the sample Outreach tenant, and the ones it refuses to delete (in use).
pub const SAMPLE_CALL_PURPOSES: usize = 120;
pub const SAMPLE_UNDELETABLE: [i64; 2] = [7, 42];

/// What the ledger records as the tenant of a rehearsal.
const SIMULATOR_LABEL: &str = "simulator";

impl SampleTenant {
    /// Start a simulator on 127.0.0.1 holding the sample tenant.
    pub async fn start() -> Result<SampleTenant> {
        let token = format!("sim-{}", crate::secret::random_uuid());
        let mut call_purposes = sim::outreach::OutreachCollection::new(
            sim::outreach::DEFAULT_RESOURCE,
            sim::outreach::sample_call_purposes(SAMPLE_CALL_PURPOSES),
        );
        call_purposes.undeletable = SAMPLE_UNDELETABLE.to_vec();
        let config = sim::SimConfig {
            token: token.clone(),
            profiles: vec![("customers".into(), sample_profiles())],
            outreach: vec![call_purposes],
            ..sim::SimConfig::default()
        };
        let handle = sim::spawn(sim::Sim::new(config))
            .await
            .map_err(|e| Error::io("cannot start the simulator", e))?;
        Ok(SampleTenant {
            handle,
            token: Token::new(token),
        })
    }

    /// Where `kind`'s API is served.
    pub fn base_url(&self, kind: Kind) -> Result<reqwest::Url> {
        let path = match kind {
            Kind::Webex => "",
            Kind::Outreach => sim::outreach::PREFIX.trim_end_matches('/'),
        };
        reqwest::Url::parse(&format!("{}{path}", self.handle.url()))
            .map_err(|e| Error::internal(format!("the simulator's URL: {e}")))
    }

    /// A target sending `kind`'s requests here.
    pub fn target(self, kind: Kind) -> Result<Target> {
        let connector = kind.connect(&self.base_url(kind)?, &self.token)?;
        self.target_with(kind, connector)
    }

    /// A target sending here through `connector` (which must speak `kind`'s API).
    pub fn target_with(self, kind: Kind, connector: Arc<dyn Connector>) -> Result<Target> {
        let mut target = Target::new(connector, &self.base_url(kind)?);
        target.label = SIMULATOR_LABEL.into();
        target._sim = Some(self.handle);
        Ok(target)
    }
}

/// The profile keys of the sample tenant, built into the binary so `--simulate` works anywhere.
pub fn sample_profiles() -> Vec<String> {
    include_str!("../samples/profiles/customers.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
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
    if url.host().is_none() {
        return Err(Error::usage(format!("{flag} {s}: no host in it")));
    }
    let loopback = crate::transport::is_loopback(&url);
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Preflight: prove that the base URL, the token and the profile name are right before
//! thousands of keys are spent on a mistake.
//!
//! One delete is sent for a canary key that cannot exist (`forget-preflight-<uuid>`, marked
//! `exparam10=forget-preflight` for the tenant's audit log) through the connector and its
//! classifier, exactly as a real key would go. The answer that proves everything is
//! "contact profile not found" (Webex 1020); 102 means the profile name is wrong, 401 the
//! token, 404/405 the URL. The canary is never recorded in the ledger.
//!
//! `forget check` runs it on demand (and, with hub access, names the tenant from
//! `/v1/purposes`); `forget run` runs it before sending, unless `--no-preflight`, for each
//! profile with keys to send: an invalid one has its keys set aside, the others go on.

use std::time::{Duration, Instant};

use crate::connector::{Answer, Connector, Unit};
use crate::engine::retry::{Attempt, RetryPolicy};
use crate::engine::{self, EngineConfig};
use crate::error::{Error, Result, exit};
use crate::outcome::{Outcome, StopCause, Verdict, VerdictKind};
use crate::output;
use crate::text::printable;
use crate::transport::Transport;

pub const CANARY_PREFIX: &str = "forget-preflight-";
/// The audit field that marks a canary in the tenant's logs.
pub const MARK: (&str, &str) = ("exparam10", "forget-preflight");
/// Profiles checked before a run, at most (one canary each).
pub const MAX_SCOPES: usize = 20;

/// What the canary proved.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// "Not found" (1020): URL, token and profile name are right.
    Ok,
    /// Code 102: the profile name is not one of the tenant's.
    WrongProfile,
    /// The token was refused, has expired, or may not delete.
    Token(StopCause),
    /// No delete endpoint at this address (404, 405, a redirect).
    WrongUrl,
    /// A final answer other than "not found": said in words.
    Unexpected(String),
    /// No final answer after every attempt (server errors, throttling, no connection).
    Inconclusive(String),
}

impl Finding {
    pub fn is_ok(&self) -> bool {
        *self == Finding::Ok
    }

    /// As for `run`: 2 for a wrong setting that was caught before anything was sent (the
    /// profile name), 3 for a stop (token, URL, an API that does not answer properly).
    pub fn exit_code(&self) -> i32 {
        match self {
            Finding::Ok => exit::OK,
            Finding::WrongProfile => exit::USAGE,
            _ => exit::STOPPED,
        }
    }
}

/// The canary's result for one profile name.
#[derive(Clone, Debug)]
pub struct ProfileCheck {
    /// The profile name ('' = the tenant's default).
    pub scope: String,
    pub finding: Finding,
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub latency: Duration,
    /// Attempts made (the canary is retried as the run retries a key).
    pub attempts: u32,
}

fn profile_label(scope: &str) -> String {
    if scope.is_empty() {
        "the tenant's default profile".to_owned()
    } else {
        format!("profile {scope:?}")
    }
}

impl ProfileCheck {
    fn answered(&self) -> String {
        let mut s = match self.http_status {
            Some(status) => format!("HTTP {status}"),
            None => "no answer".to_owned(),
        };
        // The API's words, shown but never obeyed by the terminal.
        if let Some(code) = &self.code {
            s.push_str(&format!(", code {}", printable(code)));
        }
        if let Some(d) = &self.description {
            s.push_str(&format!(": {}", printable(d)));
        }
        s
    }

    /// One line: what was checked, what came back, what it means.
    pub fn explain(&self) -> String {
        let who = profile_label(&self.scope);
        let answered = self.answered();
        match &self.finding {
            Finding::Ok => format!(
                "{who}: ok — a canary key was answered \"not found\" ({answered}) in {} ms",
                self.latency.as_millis()
            ),
            Finding::WrongProfile => format!(
                "{who}: the profile name is wrong ({answered}): check --profile-name or the \
                 profile-name column"
            ),
            Finding::Token(cause) => format!("{who}: {} — {answered}", cause.explain()),
            Finding::WrongUrl => format!("{who}: {} — {answered}", StopCause::WrongUrl.explain()),
            Finding::Unexpected(what) => format!("{who}: unexpected answer: {what} — {answered}"),
            Finding::Inconclusive(what) => format!(
                "{who}: no usable answer after {} attempts ({what}); try again later",
                self.attempts
            ),
        }
    }
}

fn finding(verdict: &Verdict) -> Option<Finding> {
    let code = verdict.code.as_deref();
    Some(match &verdict.kind {
        VerdictKind::Final(Outcome::NotFound) => Finding::Ok,
        VerdictKind::Final(Outcome::Rejected) if code == Some("102") => Finding::WrongProfile,
        VerdictKind::Final(Outcome::Deleted) => Finding::Unexpected(
            "the canary key was deleted, so a profile with that key existed".to_owned(),
        ),
        VerdictKind::Final(Outcome::Rejected) => {
            Finding::Unexpected("the API refused the request".to_owned())
        }
        VerdictKind::Final(other) => Finding::Unexpected(other.as_str().to_owned()),
        VerdictKind::Stop(StopCause::WrongUrl) => Finding::WrongUrl,
        VerdictKind::Stop(cause) => Finding::Token(cause.clone()),
        VerdictKind::Retry { .. } => return None,
    })
}

/// Send one canary for `scope` through `connector` and read the answer, retrying answers
/// that are not final as the run retries a key: `config.retry`'s attempts and backoff (a
/// canary that gave up sooner would stop a run that would have got through).
pub async fn canary(
    connector: &dyn Connector,
    transport: &Transport,
    config: &EngineConfig,
    scope: &str,
) -> ProfileCheck {
    let unit = Unit {
        id: 0,
        scope: scope.to_owned(),
        key: format!("{CANARY_PREFIX}{}", crate::secret::random_uuid()),
        exparams: vec![(MARK.0.to_owned(), MARK.1.to_owned())],
    };
    let policy = RetryPolicy {
        max_attempts: config.retry.max_attempts.max(1),
        ..config.retry
    };
    let mut check = ProfileCheck {
        scope: scope.to_owned(),
        finding: Finding::Inconclusive("not sent".to_owned()),
        http_status: None,
        code: None,
        description: None,
        latency: Duration::ZERO,
        attempts: 0,
    };
    // The canary key is not personal, but the token may be quoted back: what is shown of
    // an answer goes through the connector's scrub, as in a run.
    let scrub = |text: Option<String>| text.map(|t| connector.scrub(&t, &unit.key));
    let found = policy
        .run(async |n| {
            check.attempts = n;
            let started = Instant::now();
            let (verdict, status, error) =
                match engine::ask(connector, transport, &unit, config.timeout).await {
                    Ok(reply) => (
                        connector.classify(&Answer::from(&reply)),
                        Some(reply.status),
                        None,
                    ),
                    Err(failure) => (
                        engine::transport_verdict(&failure),
                        failure.status(),
                        scrub(Some(failure.describe())),
                    ),
                };
            check.latency = started.elapsed();
            check.http_status = status;
            check.code = scrub(verdict.code.clone());
            check.description = scrub(verdict.description.clone());
            match (finding(&verdict), verdict.kind) {
                (Some(found), _) => Attempt::Done(Ok(found)),
                (None, kind) => Attempt::Again {
                    after: match kind {
                        VerdictKind::Retry { retry_after, .. } => retry_after,
                        _ => None,
                    },
                    error: Finding::Inconclusive(error.unwrap_or_else(|| check.answered())),
                },
            }
        })
        .await;
    check.finding = found.unwrap_or_else(|inconclusive| inconclusive);
    check
}

/// The automatic preflight of `forget run`: one canary per profile name. A profile the API
/// calls invalid (102) is returned, for its waiting keys to be set aside, unless it is one of
/// `refuse` (a default about to be recorded: a typo in `--profile-name` records nothing).
/// Any other failure (token, URL, no usable answer) proves nothing of any profile: it is
/// the error that refuses the run.
pub async fn before_run(
    connector: &dyn Connector,
    config: &EngineConfig,
    scopes: &[String],
    refuse: &[String],
    quiet: bool,
) -> Result<Vec<ProfileCheck>> {
    let mut invalid = Vec::new();
    if scopes.is_empty() {
        return Ok(invalid);
    }
    let transport = config.transport()?;
    for scope in scopes {
        let check = canary(connector, &transport, config, scope).await;
        if check.finding == Finding::WrongProfile && !refuse.contains(scope) {
            if !quiet {
                output::eprint(&format!(
                    "preflight: {}; its waiting keys are set aside, not sent\n",
                    check.explain()
                ));
            }
            invalid.push(check);
            continue;
        }
        if !check.finding.is_ok() {
            let message = format!(
                "preflight failed, nothing was sent: {}. (`forget check` repeats this test; \
                 --no-preflight skips it)",
                check.explain()
            );
            return Err(match check.finding.exit_code() {
                exit::USAGE => Error::usage(message),
                _ => Error::api(message),
            });
        }
        if !quiet {
            output::eprint(&format!("preflight: {}\n", check.explain()));
        }
    }
    Ok(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_from_verdicts() {
        let case = |kind: VerdictKind, code: Option<&str>, want: Option<Finding>| {
            let verdict = Verdict::new(kind.clone()).with_code(code.map(String::from), None);
            assert_eq!(finding(&verdict), want, "{kind:?} {code:?}");
        };
        case(
            VerdictKind::Final(Outcome::NotFound),
            Some("1020"),
            Some(Finding::Ok),
        );
        case(
            VerdictKind::Final(Outcome::Rejected),
            Some("102"),
            Some(Finding::WrongProfile),
        );
        case(
            VerdictKind::Stop(StopCause::BadToken),
            Some("430"),
            Some(Finding::Token(StopCause::BadToken)),
        );
        case(
            VerdictKind::Stop(StopCause::WrongUrl),
            None,
            Some(Finding::WrongUrl),
        );
        case(
            VerdictKind::Final(Outcome::Rejected),
            Some("1001"),
            Some(Finding::Unexpected("the API refused the request".into())),
        );
        case(
            VerdictKind::Retry {
                throttled: true,
                ambiguous: false,
                retry_after: None,
            },
            Some("429"),
            None,
        );
    }

    #[test]
    fn exit_codes() {
        let case = |f: Finding, want: i32| assert_eq!(f.exit_code(), want, "{f:?}");
        case(Finding::Ok, exit::OK);
        case(Finding::WrongProfile, exit::USAGE);
        case(Finding::Token(StopCause::ExpiredToken), exit::STOPPED);
        case(Finding::WrongUrl, exit::STOPPED);
        case(Finding::Inconclusive("x".into()), exit::STOPPED);
    }
}

//! `forget access`: data-subject access exports (GDPR Art. 15) from the last-N-transactions
//! API, one JSON document per subject.
//!
//! The job has the same shape as an erasure run, so it *is* one: the CSV is recorded in a
//! ledger, each subject becomes a unit of work of the `webex-access` connector (its scope is
//! the query, so the same subject asked with another window is another unit), and the engine
//! sends, throttles, retries and classifies. The connector saves the document when the
//! answer is good, before the unit is recorded as finished (see
//! [`Connector::on_success`](crate::connector::Connector::on_success)); a finished subject
//! is never fetched again, and a subject whose document was not saved stays pending.
//!
//! Internally a finished export is the ledger outcome `deleted` (the key leaves the ledger
//! with it); this module's summary calls it "exported".

pub mod connector;

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value, json};

use crate::connector::{NotKept, Unit};
use crate::engine::StopReason;
use crate::error::{Error, Result};
use crate::job::RunSummary;
use crate::keys::KeyHasher;
use crate::outcome::Outcome;

/// The ledger name of access units: never confused with deletions of the same key.
pub const CONNECTOR: &str = "webex-access";
/// Where the last-N-transactions API is assumed to be (the document does not say).
pub const DEFAULT_PATH: &str = "/campaignapi/resources/v3/transactions";
/// The most transactions one call returns, as documented.
pub const MAX_COUNT: u8 = 50;

/// `--channel`: the request's channel names, with the response's channel codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Mms,
    Ussd,
    Obd,
    Email,
    App,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Sms,
        Channel::Mms,
        Channel::Ussd,
        Channel::Obd,
        Channel::Email,
        Channel::App,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Mms => "MMS",
            Channel::Ussd => "USSD",
            Channel::Obd => "OBD",
            Channel::Email => "EMAIL",
            Channel::App => "APP",
        }
    }

    /// The response's `channel` code: 0-SMS 1-MMS 3-USSD 6-OBD 7-EMAIL 8-APP.
    pub fn code(self) -> u8 {
        match self {
            Channel::Sms => 0,
            Channel::Mms => 1,
            Channel::Ussd => 3,
            Channel::Obd => 6,
            Channel::Email => 7,
            Channel::App => 8,
        }
    }

    pub fn from_code(code: &str) -> Option<Channel> {
        let code: u8 = code.trim().parse().ok()?;
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let wanted = s.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                format!("`{wanted}` is not a channel: give one of SMS, MMS, USSD, OBD, APP, EMAIL")
            })
    }
}

/// Which query parameter carries the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// MSISDN, e-mail or app device id.
    Key,
    CustomerId,
}

impl Subject {
    pub fn param(self) -> &'static str {
        match self {
            Subject::Key => "key",
            Subject::CustomerId => "customer-id",
        }
    }
}

/// One export request's query, apart from the subject. Stored as the unit's scope, so a
/// resumed run asks exactly what was first asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub subject: Subject,
    pub count: u8,
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<Channel>,
    pub message_preview: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            subject: Subject::Key,
            count: MAX_COUNT,
            from: None,
            to: None,
            channel: None,
            message_preview: false,
        }
    }
}

/// `yyyy-MM-dd`, a real date.
pub fn parse_date(flag: &str, s: &str) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &format)
        .map(|_| s.trim().to_owned())
        .map_err(|_| {
            Error::usage(format!(
                "{flag} {s}: expected a date as yyyy-MM-dd, e.g. 2026-01-31"
            ))
        })
}

impl Query {
    /// Check the limits the API documents.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::usage("--count must be at least 1"));
        }
        if self.count > MAX_COUNT {
            return Err(Error::usage(format!(
                "--count {}: the API returns at most {MAX_COUNT} transactions per subject; give 1 to {MAX_COUNT}",
                self.count
            )));
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to)
            && from > to
        {
            return Err(Error::usage(format!("--from {from} is after --to {to}")));
        }
        Ok(())
    }

    /// The query parameters after the subject's, in a fixed order.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("count", self.count.to_string())];
        if let Some(from) = &self.from {
            p.push(("from-date", from.clone()));
        }
        if let Some(to) = &self.to {
            p.push(("to-date", to.clone()));
        }
        if let Some(channel) = self.channel {
            p.push(("channel", channel.as_str().to_owned()));
        }
        if self.message_preview {
            p.push(("message_preview", "true".to_owned()));
        }
        p
    }

    /// The unit scope: `key?count=50&channel=SMS`, `customer-id?count=10`.
    pub fn scope(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.params() {
            query.append_pair(name, &value);
        }
        format!("{}?{}", self.subject.param(), query.finish())
    }

    /// Read a scope back (`None` if it is not one).
    pub fn from_scope(scope: &str) -> Option<Query> {
        let (subject, rest) = scope.split_once('?')?;
        let subject = match subject {
            "key" => Subject::Key,
            "customer-id" => Subject::CustomerId,
            _ => return None,
        };
        let mut q = Query {
            subject,
            ..Query::default()
        };
        for (name, value) in url::form_urlencoded::parse(rest.as_bytes()) {
            match name.as_ref() {
                "count" => q.count = value.parse().ok()?,
                "from-date" => q.from = Some(value.into_owned()),
                "to-date" => q.to = Some(value.into_owned()),
                "channel" => q.channel = Some(value.parse().ok()?),
                "message_preview" => q.message_preview = value == "true",
                _ => return None,
            }
        }
        Some(q)
    }

    /// As the document records it.
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("by".into(), json!(self.subject.param()));
        for (name, value) in self.params() {
            let v = match name {
                "count" => json!(self.count),
                "message_preview" => json!(true),
                _ => json!(value),
            };
            map.insert(name.into(), v);
        }
        Value::Object(map)
    }
}

fn looks_like_msisdn(key: &str) -> bool {
    let digits = key.chars().filter(char::is_ascii_digit).count();
    (6..=15).contains(&digits)
        && key
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+') || " -().".contains(c))
}

/// The row check for a query: the document says an e-mail id cannot fetch SMS or MMS
/// transactions and an MSISDN cannot fetch e-mail ones, so such rows are invalid before
/// anything is sent.
pub fn key_rule(query: &Query) -> fn(&str) -> std::result::Result<(), String> {
    match (query.subject, query.channel) {
        (Subject::Key, Some(Channel::Sms | Channel::Mms)) => |key| {
            if key.contains('@') {
                Err(
                    "an e-mail address cannot fetch SMS or MMS transactions (the API matches \
                     them by MSISDN): use --channel EMAIL, or no --channel, for this row"
                        .into(),
                )
            } else {
                Ok(())
            }
        },
        (Subject::Key, Some(Channel::Email)) => |key| {
            if looks_like_msisdn(key) {
                Err(
                    "an MSISDN cannot fetch EMAIL transactions (the API matches them by \
                     e-mail address): use another --channel, or none, for this row"
                        .into(),
                )
            } else {
                Ok(())
            }
        },
        _ => |_| Ok(()),
    }
}

/// What a transaction status means, by the document's list: a category and plain words.
pub fn status_meaning(status: &str) -> (&'static str, String) {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let n = norm(status);
    if let Some(reason) = n.strip_prefix("notpushed") {
        let why = NOT_SENT
            .iter()
            .find(|(r, _)| norm(r) == reason)
            .map(|(_, words)| (*words).to_owned())
            .unwrap_or_else(|| status.trim().to_owned());
        return ("not sent", format!("not sent: {why}"));
    }
    if let Some(rest) = n.strip_prefix("obd") {
        let words = if rest.starts_with("success") {
            "outbound call answered"
        } else {
            "outbound call not completed"
        };
        return ("call", format!("{words} ({})", status.trim()));
    }
    for (documented, category, words) in STATUSES {
        if norm(documented) == n {
            return (category, (*words).to_owned());
        }
    }
    ("other", status.trim().to_owned())
}

/// `Notpushed, <reason>` reasons, in words.
const NOT_SENT: &[(&str, &str)] = &[
    ("InternalException", "an internal error"),
    (
        "GlobalDND",
        "the number or address is on the global do-not-disturb list",
    ),
    ("ChannelDND", "do-not-disturb is set for this channel"),
    ("CategoryDND", "do-not-disturb is set for this category"),
    ("CampaignDND", "do-not-disturb is set for this campaign"),
    ("DeploymentBlackListDND", "blacklisted for this deployment"),
    ("Controlgroup", "held back as part of a control group"),
    (
        "PolicyBreached",
        "a contact policy would have been breached",
    ),
    ("Filtersapplied", "excluded by the deployment's filters"),
    ("Abandoned", "abandoned"),
    ("DeploymentStopped", "the deployment was stopped"),
    ("Calendartimedout", "outside the allowed sending calendar"),
    ("Others", "other reasons"),
    ("Limit reached", "a sending limit was reached"),
    ("Runtimefilter", "excluded by a run-time filter"),
];

/// The other documented statuses: (as documented, category, words).
const STATUSES: &[(&str, &str, &str)] = &[
    (
        "Successfully delivered to the Customer",
        "delivered",
        "delivered",
    ),
    (
        "Failed to deliver to the Customer",
        "not delivered",
        "delivery failed",
    ),
    ("Attempted Send", "sent", "sending attempted"),
    ("Attempted Send successfully", "sent", "sent"),
    (
        "Pushed to Gateways",
        "sent",
        "handed to the operator's gateway",
    ),
    ("Expired", "not delivered", "expired before delivery"),
    ("Duplicate", "not delivered", "dropped as a duplicate"),
    ("Invalid", "not delivered", "invalid address"),
    ("Partial Delivery", "delivered", "partly delivered"),
    ("Email, hardbounced", "bounced", "e-mail hard bounce"),
    ("EmailSoftbounced", "bounced", "e-mail soft bounce"),
    ("Email, Mailblocks", "bounced", "e-mail blocked"),
    (
        "Email, ISPcomplaints",
        "complaint",
        "marked as spam at the mail provider",
    ),
    ("DNDAddition", "preference", "added to do-not-disturb"),
    ("DNDRemoval", "preference", "removed from do-not-disturb"),
    (
        "Email Unsubscribe",
        "preference",
        "unsubscribed from e-mail",
    ),
    (
        "MSISDN Unsubscribe",
        "preference",
        "unsubscribed the phone number",
    ),
    ("EventProcessedSuccess", "event", "event processed"),
    ("EventProcessedFailed", "event", "event processing failed"),
    ("MOProcessedSuccess", "inbound", "inbound message processed"),
    (
        "MOProcessedFailed",
        "inbound",
        "inbound message processing failed",
    ),
    ("Email,Opened", "engagement", "e-mail opened"),
    ("Email, LinkClicked", "engagement", "link in e-mail clicked"),
    ("ActionProcessedSuccess", "event", "action processed"),
    ("ActionProcessedFailed", "event", "action processing failed"),
    ("SMS, LinkClicked", "engagement", "link in SMS clicked"),
    ("USSD, DTMF", "engagement", "USSD menu answered"),
    ("Click Transaction", "engagement", "link clicked"),
    ("MMS, LinkClicked", "engagement", "link in MMS clicked"),
    (
        "App notification, Opened",
        "engagement",
        "app notification opened",
    ),
    ("Landing Page Open", "engagement", "landing page opened"),
    (
        "Landing Page Submit",
        "engagement",
        "landing page form submitted",
    ),
];

fn field_text(item: &Value, name: &str) -> Option<String> {
    match item.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The transactions an answer carries: an array, an object holding one array, or a single
/// transaction object.
pub fn transactions_of(json: Value) -> Option<Vec<Value>> {
    if json.get("transaction-id").is_some() {
        return Some(vec![json]);
    }
    crate::connector::as_list(json)
}

/// Whether an answer carries transactions in one of the shapes [`transactions_of`] reads.
pub fn carries_transactions(json: &Value) -> bool {
    match json {
        Value::Array(_) => true,
        Value::Object(map) => {
            map.contains_key("transaction-id") || map.values().filter(|v| v.is_array()).count() == 1
        }
        _ => false,
    }
}

/// One transaction with a `decoded` object beside the fields as sent.
fn decode(mut transaction: Value) -> Value {
    let channel = field_text(&transaction, "channel");
    let channel_name = channel.as_deref().map(|c| match Channel::from_code(c) {
        Some(ch) => ch.as_str().to_owned(),
        None => format!("undocumented channel {c}"),
    });
    let status = field_text(&transaction, "transaction-status");
    let mut decoded = Map::new();
    if let Some(name) = channel_name {
        decoded.insert("channel".into(), json!(name));
    }
    if let Some(status) = status {
        let (category, words) = status_meaning(&status);
        decoded.insert("status".into(), json!(category));
        decoded.insert("status_meaning".into(), json!(words));
    }
    if let Some(map) = transaction.as_object_mut() {
        map.insert("decoded".into(), Value::Object(decoded));
    }
    transaction
}

/// Saves one JSON document per subject into a folder.
pub struct Exporter {
    dir: PathBuf,
    hasher: KeyHasher,
    /// The API address, recorded in each document.
    source: String,
}

impl Exporter {
    /// Create `dir` (0700) if needed. `hasher` names the files: a keyed hash, so a folder
    /// listing (or a backup catalogue) does not name the people in it.
    pub fn new(dir: &Path, hasher: KeyHasher, source: String) -> Result<Exporter> {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create --out {}", dir.display()), e))?;
        } else if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--out {}: exists and is not a folder",
                dir.display()
            )));
        } else if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: the export folder {} can be read by other users; run: chmod 700 {}",
                dir.display(),
                dir.display()
            );
        }
        Ok(Exporter {
            dir: dir.to_owned(),
            hasher,
            source,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<keyed hash of scope and key>.json`: stable for a subject and query, so a resumed
    /// export overwrites rather than duplicates.
    pub fn file_name(&self, unit: &Unit) -> String {
        let hash = self
            .hasher
            .hash(&format!("access\u{0}{}\u{0}{}", unit.scope, unit.key));
        format!("{}.json", &hex::encode(hash)[..32])
    }

    /// The document for one subject.
    pub fn document(&self, unit: &Unit, transactions: Vec<Value>) -> Value {
        let query = Query::from_scope(&unit.scope).unwrap_or_default();
        let returned = transactions.len();
        let mut doc = json!({
            "export": "GDPR Art. 15 access export: Webex Campaign transactions",
            "subject": { query.subject.param(): unit.key },
            "query": query.to_json(),
            "source": self.source,
            "exported_at": crate::ledger::timestamp(std::time::SystemTime::now()),
            "tool": concat!("forget ", env!("CARGO_PKG_VERSION")),
            "transaction_count": returned,
            "transactions": transactions.into_iter().map(decode).collect::<Vec<_>>(),
        });
        if returned >= usize::from(query.count) {
            doc["note"] = json!(format!(
                "the API returns the {} most recent transactions at most: older ones may exist \
                 (narrow --from/--to to reach them)",
                query.count
            ));
        }
        doc
    }

    /// Write the document for `unit` from an answer `body`: to a temporary file (0600),
    /// flushed, then renamed, so a document is whole or absent. This runs on the engine's
    /// task: one small file per subject, synced because the ledger will say it exists.
    pub fn save(&self, unit: &Unit, body: &[u8]) -> std::result::Result<PathBuf, NotKept> {
        let json: Value =
            serde_json::from_slice(body).map_err(|e| NotKept::new("the answer is not JSON", e))?;
        let transactions = transactions_of(json).unwrap_or_default();
        let doc = self.document(unit, transactions);
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| NotKept::new("cannot write the document", e))?;
        let name = self.file_name(unit);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.write_all(b"\n")?;
                f.sync_data()
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        written.map_err(|e| NotKept::new(format!("cannot save {}", path.display()), e))?;
        Ok(path)
    }
}

/// The summary of an access run.
pub fn render_summary(s: &RunSummary, out: &Path, state: &Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let i = &s.ingested;
    let l = &s.ledger;
    let _ = writeln!(
        o,
        "input: {} rows recorded ({} new subjects, {} duplicate rows, {} invalid rows)",
        i.rows, i.new_units, i.duplicates, i.invalid
    );
    if s.dry_run {
        let _ = writeln!(o, "dry run: nothing was fetched");
        let _ = writeln!(o, "  would fetch         {:>9}", s.to_send);
        let _ = writeln!(o, "  already exported    {:>9}", l.deleted);
        let _ = writeln!(o, "  invalid rows        {:>9}", l.invalid);
    } else {
        let secs = s.elapsed.as_secs_f64();
        let _ = writeln!(
            o,
            "fetched {} subjects in {:.1} s; {} attempts, {} retries, {} throttled (429)",
            s.sent_units, secs, s.attempts, s.retries, s.throttled
        );
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "outcome", "this run", "ledger");
        let this_run = |outcome: Outcome| {
            s.this_run
                .iter()
                .find(|(o, _)| *o == outcome)
                .map_or(0, |(_, n)| *n)
        };
        for (label, outcome) in [
            ("exported", Outcome::Deleted),
            ("rejected", Outcome::Rejected),
            ("failed", Outcome::Failed),
        ] {
            let _ = writeln!(
                o,
                "  {label:<16}{:>10}{:>10}",
                this_run(outcome),
                l.get(outcome)
            );
        }
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "pending", "", l.pending);
        let _ = writeln!(o, "  {:<16}{:>10}{:>10}", "invalid rows", "", l.invalid);
        let _ = writeln!(
            o,
            "  {:<16}{:>10}{:>10}",
            "duplicate rows", "", l.duplicates
        );
        if l.deleted > 0 {
            let _ = writeln!(
                o,
                "documents: {} (one JSON file per subject, named by a keyed hash: search them \
                 for a key or customer id)",
                out.display()
            );
        }
    }
    let state = state.display();
    match &s.stop {
        Some(StopReason::Api(cause)) => {
            let _ = writeln!(
                o,
                "STOPPED: {}. Unfinished subjects stay pending; run again to resume.",
                cause.explain()
            );
        }
        Some(StopReason::Interrupted) => {
            let _ = writeln!(o, "interrupted: run the same command again to resume");
        }
        Some(StopReason::Ledger(m)) | Some(StopReason::Output(m)) => {
            let _ = writeln!(
                o,
                "STOPPED: {m}. Unfinished subjects stay pending; fix it and run again"
            );
        }
        None => {
            if l.failed + l.pending > 0 && !s.dry_run {
                let _ = writeln!(
                    o,
                    "{} subjects not finished: run the same command again to retry them",
                    l.failed + l.pending
                );
            }
            if l.rejected > 0 {
                let _ = writeln!(
                    o,
                    "{} subjects rejected by the API: `forget status --state {state}`; \
                     --retry-rejected asks again",
                    l.rejected
                );
            }
            if l.invalid > 0 {
                let _ = writeln!(
                    o,
                    "{} rows invalid: `forget invalid --state {state}` lists them with reasons",
                    l.invalid
                );
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        let case = |q: Query, want: &str| {
            assert_eq!(q.scope(), want);
            assert_eq!(Query::from_scope(want), Some(q), "{want}");
        };
        case(Query::default(), "key?count=50");
        case(
            Query {
                subject: Subject::CustomerId,
                count: 10,
                from: Some("2026-01-01".into()),
                to: Some("2026-03-31".into()),
                channel: Some(Channel::Email),
                message_preview: true,
            },
            "customer-id?count=10&from-date=2026-01-01&to-date=2026-03-31&channel=EMAIL&message_preview=true",
        );
        assert_eq!(Query::from_scope("customers"), None);
        assert_eq!(Query::from_scope("key?bogus=1"), None);
    }

    #[test]
    fn query_limits() {
        let case = |count: u8, from: Option<&str>, to: Option<&str>, want: Option<&str>| {
            let q = Query {
                count,
                from: from.map(String::from),
                to: to.map(String::from),
                ..Query::default()
            };
            let got = q.validate().err().map(|e| e.to_string());
            match (got, want) {
                (None, None) => {}
                (Some(m), Some(w)) => assert!(m.contains(w), "{m}"),
                (got, want) => panic!("count {count}: got {got:?}, want {want:?}"),
            }
        };
        case(50, None, None, None);
        case(1, Some("2026-01-01"), Some("2026-01-01"), None);
        case(51, None, None, Some("at most 50"));
        case(0, None, None, Some("at least 1"));
        case(5, Some("2026-02-01"), Some("2026-01-01"), Some("is after"));
        assert!(parse_date("--from", "2026-02-30").is_err());
        assert!(parse_date("--from", "01/02/2026").is_err());
        assert_eq!(
            parse_date("--to", " 2026-02-28 ").ok().as_deref(),
            Some("2026-02-28")
        );
    }

    #[test]
    fn impossible_key_and_channel_pairs_are_invalid() {
        let case = |channel: Option<Channel>, subject: Subject, key: &str, ok: bool| {
            let q = Query {
                subject,
                channel,
                ..Query::default()
            };
            assert_eq!(key_rule(&q)(key).is_ok(), ok, "{channel:?} {key}");
        };
        case(Some(Channel::Sms), Subject::Key, "jane@example.com", false);
        case(Some(Channel::Mms), Subject::Key, "jane@example.com", false);
        case(Some(Channel::Sms), Subject::Key, "+447700900123", true);
        case(Some(Channel::Email), Subject::Key, "+447700900123", false);
        case(Some(Channel::Email), Subject::Key, "919876543210", false);
        case(Some(Channel::Email), Subject::Key, "jane@example.com", true);
        case(
            Some(Channel::Email),
            Subject::Key,
            "f3a9c2d4-1b2c-4d5e-8f90-123456789abc",
            true,
        );
        case(None, Subject::Key, "jane@example.com", true);
        case(Some(Channel::App), Subject::Key, "jane@example.com", true);
        case(Some(Channel::Sms), Subject::CustomerId, "a@b", true);
    }

    #[test]
    fn channels_and_statuses_decode_as_documented() {
        let channel = |code: &str| Channel::from_code(code).map(Channel::as_str);
        assert_eq!(
            ["0", "1", "3", "6", "7", "8", "2"].map(channel),
            [
                Some("SMS"),
                Some("MMS"),
                Some("USSD"),
                Some("OBD"),
                Some("EMAIL"),
                Some("APP"),
                None
            ]
        );
        let case = |status: &str, category: &str, words: &str| {
            let (c, w) = status_meaning(status);
            assert_eq!((c, w.as_str()), (category, words), "{status}");
        };
        case(
            "Successfully delivered to the Customer",
            "delivered",
            "delivered",
        );
        case(
            "Notpushed, GlobalDND",
            "not sent",
            "not sent: the number or address is on the global do-not-disturb list",
        );
        case(
            "Notpushed, Limit reached",
            "not sent",
            "not sent: a sending limit was reached",
        );
        case("Email,Opened", "engagement", "e-mail opened");
        case("Email, hardbounced", "bounced", "e-mail hard bounce");
        case(
            "OBD Failed -NotAnswered",
            "call",
            "outbound call not completed (OBD Failed -NotAnswered)",
        );
        case(
            "OBD Success-Completed",
            "call",
            "outbound call answered (OBD Success-Completed)",
        );
        case("Something new", "other", "Something new");
    }

    #[test]
    fn answers_become_transaction_lists() {
        let case = |json: Value, want: Option<usize>| {
            assert_eq!(
                transactions_of(json.clone()).map(|l| l.len()),
                want,
                "{json}"
            );
        };
        case(json!([]), Some(0));
        case(
            json!([{"transaction-id": "1"}, {"transaction-id": "2"}]),
            Some(2),
        );
        case(json!({"transactions": [{"transaction-id": "1"}]}), Some(1));
        case(json!({"transaction-id": "1", "code": "200"}), Some(1));
        case(json!({"code": "1002"}), None);
        for json in [
            json!([]),
            json!({"a": []}),
            json!({"transaction-id": 1}),
            json!({"code": 1}),
            json!("x"),
        ] {
            assert_eq!(
                carries_transactions(&json),
                transactions_of(json.clone()).is_some(),
                "{json}"
            );
        }
    }

    #[test]
    fn documents_decode_and_name_files_without_the_key() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let exporter = Exporter::new(
            &dir.path().join("out"),
            KeyHasher::new(b"0123456789abcdef"),
            "https://x/campaignapi/resources/v3/transactions".into(),
        )?;
        let unit = Unit {
            id: 1,
            scope: "key?count=2".into(),
            key: "+447700900123".into(),
            exparams: vec![],
        };
        let body = br#"[{"transaction-id":"t1","channel":"0","transaction-status":"Expired"},
                        {"transaction-id":"t2","channel":7,"transaction-status":"Email,Opened"}]"#;
        let path = exporter
            .save(&unit, body)
            .map_err(|e| Error::usage(e.to_string()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            !name.contains("447700900123") && name.ends_with(".json"),
            "{name}"
        );
        let mode = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat", e))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", e))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| Error::usage(e.to_string()))?;
        assert_eq!(doc["subject"], json!({"key": "+447700900123"}));
        assert_eq!(doc["transaction_count"], json!(2));
        assert_eq!(doc["transactions"][0]["decoded"]["channel"], json!("SMS"));
        assert_eq!(doc["transactions"][1]["decoded"]["channel"], json!("EMAIL"));
        assert_eq!(
            doc["transactions"][1]["decoded"]["status"],
            json!("engagement")
        );
        assert!(doc["note"].is_string(), "2 of count 2: there may be more");
        // Saving again replaces the document rather than adding one.
        exporter
            .save(&unit, b"[]")
            .map_err(|e| Error::usage(e.to_string()))?;
        let files = std::fs::read_dir(exporter.dir())
            .map_err(|e| Error::io("list", e))?
            .count();
        assert_eq!(files, 1);
        Ok(())
    }
}

//! `forget resolve`: an operator ends requests that need attention, with a reason — one
//! `resolved` event per request (when, operator, host, reason, how it was selected). The
//! unit's outcome is not touched: the event supersedes the request's open state.
//!
//! The reason is free text kept in the ledger and shown in reports: the command warns that
//! it must not hold personal data, and masks any key of the requests it resolves (or typed
//! with `--key`) that it repeats.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::keys::{KeyHasher, mask, redact};
use crate::ledger::corrections::parse_ref;
use crate::ledger::requests::{Request, RequestCounts, STATE, State};
use crate::ledger::verify::Depth;
use crate::ledger::{KeyCheck, Ledger, events};
use crate::secret;

/// Which requests to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every request for this key (matched by keyed hash, as `lookup` does; invalid rows by
    /// the key as written).
    Key(String),
    /// The request at this file (as recorded) and line.
    Row { path: String, line: u64 },
    /// Every request in this state (rejected, failed, invalid, …).
    State(State),
    /// A line of `--from FILE`: `FILE:LINE` when it names a recorded request, else a key.
    Line(String),
}

impl Selector {
    /// How the event says it was chosen (never the key itself).
    fn label(&self) -> String {
        match self {
            Selector::Key(k) => format!("key {}", mask(k.trim())),
            Selector::Row { path, line } => format!("row {path}:{line}"),
            Selector::State(s) => format!("outcome {}", s.as_str()),
            Selector::Line(l) => match parse_ref(l) {
                Some((path, line)) => format!("row {path}:{line} or key {}", mask(l.trim())),
                None => format!("key {}", mask(l.trim())),
            },
        }
    }
}

/// The states `--outcome` may select: those that can be resolved.
pub const RESOLVABLE: [State; 6] = [
    State::Rejected,
    State::Failed,
    State::Invalid,
    State::DateUnreadable,
    State::SetAside,
    State::Pending,
];

#[derive(Clone, Debug)]
pub struct ResolveConfig {
    pub state: PathBuf,
    pub ledger_key_file: PathBuf,
    pub selectors: Vec<Selector>,
    pub reason: String,
    pub dry_run: bool,
}

/// One request selected, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picked {
    pub at: String,
    pub key_masked: Option<String>,
    pub was: State,
    /// `None`: resolved (or would be, in a dry run); `Some(why)`: refused.
    pub refused: Option<String>,
    /// The reason as stored for it (the key masked if it repeated it).
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct ResolveReport {
    pub picked: Vec<Picked>,
    /// Selectors that matched no request, in words.
    pub unmatched: Vec<String>,
    /// The reason repeated a key: it is stored masked.
    pub masked: bool,
    /// Every request of the ledger, by state, after the resolution.
    pub counts: RequestCounts,
}

impl ResolveReport {
    pub fn resolved(&self) -> usize {
        self.picked.iter().filter(|p| p.refused.is_none()).count()
    }
}

/// Select, check and (unless a dry run) resolve, under the ledger's lock.
pub fn run(config: &ResolveConfig) -> Result<ResolveReport> {
    if config.reason.trim().is_empty() {
        return Err(Error::usage(
            "--reason must say why these requests end, e.g. --reason \"blank key: ticket returned to the requester\"",
        ));
    }
    if !config.state.is_file() {
        return Err(Error::ledger(
            &config.state,
            "no ledger here: `forget run` creates it (or pass --state PATH)",
        ));
    }
    let _lock = Ledger::lock(&config.state)?;
    let ledger = Ledger::open_existing(&config.state)?;
    Ledger::open_read_only(&config.state)?.ensure_sound(Depth::Run)?;
    let keys: Vec<&str> = config
        .selectors
        .iter()
        .filter_map(|s| match s {
            Selector::Key(k) | Selector::Line(k) => Some(k.trim()),
            _ => None,
        })
        .collect();
    let hasher = match keys.is_empty() {
        true => None,
        false => {
            let (secret, _) = secret::load_ledger_key(&config.ledger_key_file, false)?;
            let hasher = KeyHasher::new(&secret);
            if ledger.verify_key(&hasher)? == KeyCheck::Differs {
                return Err(ledger.wrong_key());
            }
            Some(hasher)
        }
    };
    // Every FILE:LINE named, found at once (a row stored with its unit costs a pass over
    // the units, made once for them all).
    let named: Vec<(String, u64)> = config
        .selectors
        .iter()
        .filter_map(|s| match s {
            Selector::Row { path, line } => Some((path.clone(), *line)),
            Selector::Line(l) => parse_ref(l).map(|(p, n)| (p.to_owned(), n)),
            _ => None,
        })
        .collect();
    let places = ledger.requests_at_each(&named)?;
    let mut report = ResolveReport::default();
    let mut seen = BTreeSet::new();
    let mut chosen: Vec<(Request, String)> = Vec::new();
    for selector in &config.selectors {
        let found = select(&ledger, hasher.as_ref(), &places, selector)?;
        if found.is_empty() {
            report.unmatched.push(selector.label());
        }
        for request in found {
            if seen.insert((request.file_id, request.line)) {
                chosen.push((request, selector.label()));
            }
        }
    }
    let actor = Actor::here();
    let tx = ledger.conn().unchecked_transaction()?;
    for (request, selected_by) in chosen {
        let mut reason = config.reason.trim().to_owned();
        for key in keys.iter().copied().chain(request.key.as_deref()) {
            reason = redact(&reason, key).into_owned();
        }
        report.masked |= reason != config.reason.trim();
        let at = format!("{}:{}", request.path, request.line);
        let key_masked = request
            .key_masked
            .clone()
            .or_else(|| request.key.as_deref().map(mask));
        let refused = match request.state {
            s if s.is_ended() => Some(match ledger.ended_by(request.file_id, request.line)? {
                Some(by) => format!("already ended: {by}"),
                None => format!("already ended: {}", ended_words(s)),
            }),
            _ => None,
        };
        if refused.is_none() && !config.dry_run {
            events::record(
                &tx,
                &actor,
                &events::Event {
                    kind: events::RESOLVED,
                    file_id: Some(request.file_id),
                    line: Some(request.line),
                    unit_id: request.unit_id,
                    reason: Some(&reason),
                    detail: Some(serde_json::json!({
                        "was": request.state.as_str(),
                        "selected_by": selected_by,
                    })),
                },
            )?;
        }
        report.picked.push(Picked {
            at,
            key_masked,
            was: request.state,
            refused,
            reason,
        });
    }
    tx.commit()?;
    report.counts = ledger.request_counts(None)?;
    ledger.truncate_wal()?;
    Ok(report)
}

fn ended_words(s: State) -> &'static str {
    match s {
        State::Erased => "erased (its unit was deleted)",
        State::NotHeld => "not held (the system did not hold the person)",
        _ => s.words(),
    }
}

fn select(
    ledger: &Ledger,
    hasher: Option<&KeyHasher>,
    places: &HashMap<(String, u64), Vec<Request>>,
    s: &Selector,
) -> Result<Vec<Request>> {
    let at = |path: &str, line: u64| {
        places
            .get(&(path.to_owned(), line))
            .cloned()
            .unwrap_or_default()
    };
    match s {
        Selector::Row { path, line } => Ok(at(path, *line)),
        Selector::State(state) => {
            ledger.requests_where(&format!("({STATE}) = ?1"), [state.as_str()])
        }
        Selector::Line(line) => {
            if let Some((path, n)) = parse_ref(line) {
                let found = at(path, n);
                if !found.is_empty() {
                    return Ok(found);
                }
            }
            select(ledger, hasher, places, &Selector::Key(line.clone()))
        }
        Selector::Key(key) => {
            let Some(hasher) = hasher else {
                return Ok(Vec::new());
            };
            let hash = hasher.hash(key.trim());
            // Unit by unit (an index each), never every row joined to its unit.
            let units: Vec<i64> = ledger
                .conn()
                .prepare("SELECT id FROM units WHERE key_hash = ?1 ORDER BY id")?
                .query_map([&hash[..]], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut found = Vec::new();
            for unit in units {
                found.extend(ledger.requests_where("r.unit_id = ?1", [unit])?);
            }
            // Invalid rows keep the key as written: matched by its hash, as lookup does.
            found.extend(
                ledger
                    .requests_where("r.kind = 'invalid' AND r.raw_key IS NOT NULL", [])?
                    .into_iter()
                    .filter(|r| r.key.as_deref().is_some_and(|k| hasher.hash(k) == hash)),
            );
            found.sort_by_key(|r| (r.file_id, r.line));
            Ok(found)
        }
    }
}

/// What `forget resolve` prints: each request and what became of it, then what is still open.
pub fn render(report: &ResolveReport, dry_run: bool) -> String {
    use crate::text::printable;
    use std::fmt::Write;
    let mut out = String::new();
    for p in &report.picked {
        let key = p.key_masked.as_deref().unwrap_or("(no key)");
        let what = match (&p.refused, dry_run) {
            (Some(why), _) => format!("NOT RESOLVED: {}", printable(why)),
            (None, true) => format!("would be resolved (was {})", p.was.words()),
            (None, false) => format!("resolved (was {})", p.was.words()),
        };
        let _ = writeln!(out, "{}  {}  {what}", printable(&p.at), printable(key));
    }
    for u in &report.unmatched {
        let _ = writeln!(out, "{}: no request matches", printable(u));
    }
    let resolved = report.resolved();
    let _ = writeln!(
        out,
        "{} {}{}",
        if dry_run {
            "dry run: would resolve"
        } else {
            "resolved"
        },
        crate::text::count(resolved as u64, "request", "requests"),
        if dry_run {
            " (nothing was recorded)"
        } else {
            ""
        }
    );
    out
}

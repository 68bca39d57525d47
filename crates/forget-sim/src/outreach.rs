//! Outreach's JSON:API, as the simulator serves it under `/api/v2/`:
//!
//! * `GET /api/v2/{resource}?page[size]=N&page[after]=ID` — a page of records in id order,
//!   `links.next` an absolute URL while more remain, `meta.count` the records held;
//! * `GET /api/v2/{resource}/{id}` — one record, or a 404 error document;
//! * `DELETE /api/v2/{resource}/{id}` — 204; a 404 error document when absent; a 422 error
//!   document for a record marked undeletable (it stays).
//!
//! Token, expiry, rate limit (429 with `Retry-After` or `X-RateLimit-Reset` as configured)
//! and injected faults are shared with the Webex endpoint: a bad token is a 401 error
//! document. A path under the prefix that names no collection gets the simulator's plain
//! 404, as a wrong URL would. A faulted request never deletes anything and never answers
//! 2xx to a delete.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::fault::Fault;
use super::handler::{
    Action, METHOD_405, NOT_FOUND_404, ReadError, bearer, count, json, read_body, respond,
    with_retry_after,
};
use super::state::{Auth, Sim};

/// Outreach collections are served below this path, as `https://api.outreach.io/api/v2/`.
pub const PREFIX: &str = "/api/v2/";
/// The collection the Outreach document describes; always served.
pub const DEFAULT_RESOURCE: &str = "callPurposes";
const JSON_API: &str = "application/vnd.api+json";
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

/// One collection the simulator serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutreachCollection {
    /// The collection name in the path, e.g. `callPurposes`.
    pub resource: String,
    /// `(id, attributes)`; attributes should be a JSON object.
    pub records: Vec<(i64, Value)>,
    /// Ids whose delete is refused with a 422 error document (the record stays).
    pub undeletable: Vec<i64>,
}

impl OutreachCollection {
    pub fn new(resource: impl Into<String>, records: Vec<(i64, Value)>) -> Self {
        OutreachCollection {
            resource: resource.into(),
            records,
            undeletable: Vec::new(),
        }
    }
}

/// `n` call purposes with ids `1..=n`, as the sample tenant holds them (deterministic).
pub fn sample_call_purposes(n: usize) -> Vec<(i64, Value)> {
    const NAMES: [&str; 8] = [
        "Initial Contact",
        "Follow-up",
        "Discovery",
        "Demo",
        "Negotiation",
        "Renewal",
        "Support",
        "Referral",
    ];
    (1..=n)
        .map(|i| {
            let round = (i - 1) / NAMES.len();
            let base = NAMES[(i - 1) % NAMES.len()];
            let name = if round == 0 {
                base.to_owned()
            } else {
                format!("{base} {}", round + 1)
            };
            let day = (i - 1) % 28 + 1;
            let attributes = json!({
                "name": name,
                "order": i,
                "createdAt": format!("2024-01-{day:02}T09:00:00.000Z"),
                "updatedAt": format!("2024-02-{day:02}T17:30:00.000Z"),
            });
            (i as i64, attributes)
        })
        .collect()
}

/// Records from a CSV with an `id` column, every other column an attribute (string values):
/// what `forget list` writes.
pub fn read_records(path: &Path) -> Result<Vec<(i64, Value)>, String> {
    // Ragged rows are read as they come: a short row just has fewer attributes.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let id_column = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("id"))
        .ok_or("no `id` column")?;
    let mut records = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|e| e.to_string())?;
        let id_text = row.get(id_column).unwrap_or_default().trim();
        let id = id_text
            .parse::<i64>()
            .map_err(|_| format!("row {}: id {id_text:?} is not an integer", n + 1))?;
        let attributes: serde_json::Map<String, Value> = headers
            .iter()
            .zip(row.iter())
            .enumerate()
            .filter(|(i, _)| *i != id_column)
            .map(|(_, (h, v))| (h.clone(), Value::String(v.to_owned())))
            .collect();
        records.push((id, Value::Object(attributes)));
    }
    Ok(records)
}

struct Record {
    attributes: Value,
    held: bool,
    deletes: u64,
    undeletable: bool,
}

type Collection = Mutex<BTreeMap<i64, Record>>;

enum Delete {
    Deleted(u64),
    NotFound,
    Undeletable,
}

/// The simulated Outreach tenant.
pub(crate) struct Store {
    collections: HashMap<String, Collection>,
    next_base: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    pub(crate) fn new(collections: Vec<OutreachCollection>, next_base: Option<String>) -> Store {
        let mut map: HashMap<String, BTreeMap<i64, Record>> = HashMap::new();
        map.entry(DEFAULT_RESOURCE.to_owned()).or_default();
        for c in collections {
            let records = map.entry(c.resource).or_default();
            for (id, attributes) in c.records {
                records.insert(
                    id,
                    Record {
                        attributes,
                        held: true,
                        deletes: 0,
                        undeletable: false,
                    },
                );
            }
            for id in c.undeletable {
                if let Some(r) = records.get_mut(&id) {
                    r.undeletable = true;
                }
            }
        }
        Store {
            collections: map
                .into_iter()
                .map(|(name, records)| (name, Mutex::new(records)))
                .collect(),
            next_base: next_base.map(|b| b.trim_end_matches('/').to_owned()),
        }
    }

    /// Held records after `after`, at most `size`, whether more remain, and how many are held.
    fn page(
        &self,
        resource: &str,
        after: Option<i64>,
        size: usize,
    ) -> (Vec<(i64, Value)>, bool, usize) {
        let Some(collection) = self.collections.get(resource) else {
            return (Vec::new(), false, 0);
        };
        let records = lock(collection);
        let total = records.values().filter(|r| r.held).count();
        let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut held = records
            .range((from, std::ops::Bound::Unbounded))
            .filter(|(_, r)| r.held)
            .map(|(id, r)| (*id, r.attributes.clone()));
        let page: Vec<_> = held.by_ref().take(size).collect();
        let more = held.next().is_some();
        (page, more, total)
    }

    fn get(&self, resource: &str, id: i64) -> Option<Value> {
        let records = lock(self.collections.get(resource)?);
        records
            .get(&id)
            .filter(|r| r.held)
            .map(|r| r.attributes.clone())
    }

    fn delete(&self, resource: &str, id: i64) -> Delete {
        let Some(collection) = self.collections.get(resource) else {
            return Delete::NotFound;
        };
        let mut records = lock(collection);
        match records.get_mut(&id) {
            Some(r) if r.held && r.undeletable => Delete::Undeletable,
            Some(r) if r.held => {
                r.held = false;
                r.deletes += 1;
                Delete::Deleted(r.deletes)
            }
            _ => Delete::NotFound,
        }
    }
}

impl Sim {
    /// Whether the Outreach collection `resource` still holds record `id`.
    pub fn outreach_holds(&self, resource: &str, id: i64) -> bool {
        self.outreach
            .collections
            .get(resource)
            .is_some_and(|c| lock(c).get(&id).is_some_and(|r| r.held))
    }

    /// How many times record `id` of `resource` was answered 204 (0 or 1 normally).
    pub fn outreach_delete_count(&self, resource: &str, id: i64) -> u64 {
        self.outreach
            .collections
            .get(resource)
            .and_then(|c| lock(c).get(&id).map(|r| r.deletes))
            .unwrap_or(0)
    }

    /// Records `resource` still holds.
    pub fn outreach_remaining(&self, resource: &str) -> usize {
        self.outreach
            .collections
            .get(resource)
            .map_or(0, |c| lock(c).values().filter(|r| r.held).count())
    }
}

/// The JSON:API type of a collection's records: `callPurposes` → `callPurpose`.
fn type_name(resource: &str) -> &str {
    match resource.strip_suffix('s') {
        Some(t) if !t.is_empty() => t,
        _ => resource,
    }
}

fn error_doc(status: StatusCode, id: &str, title: &str, detail: &str) -> Action {
    let body = json!({"errors": [{"id": id, "title": title, "detail": detail}]});
    respond(status, JSON_API, body.to_string())
}

fn fault_action(fault: Fault, read: bool, sim: &Sim) -> Action {
    let internal = || {
        error_doc(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "Internal Server Error",
            "Something went wrong.",
        )
    };
    match fault {
        Fault::Http500 => internal(),
        Fault::Code1010 => error_doc(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceUnavailable",
            "Service Unavailable",
            "Please try again later.",
        ),
        Fault::Code429 => too_many(sim),
        Fault::Code499 => respond(StatusCode::GATEWAY_TIMEOUT, JSON_API, ""),
        Fault::Drop => Action::Drop,
        Fault::Slow => Action::Hang,
        // A read may come back broken with a 200; a delete must never look successful.
        Fault::Truncated if read => respond(StatusCode::OK, JSON_API, r#"{"data":[{"type":""#),
        Fault::Truncated => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON_API,
            r#"{"errors":[{"title":""#,
        ),
        Fault::Empty if read => respond(StatusCode::OK, JSON_API, ""),
        Fault::Empty => respond(StatusCode::SERVICE_UNAVAILABLE, JSON_API, ""),
        Fault::NotJson if read => respond(StatusCode::OK, "text/plain", "OK"),
        Fault::NotJson => respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "error"),
        Fault::Html502 => respond(
            StatusCode::BAD_GATEWAY,
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
    }
}

fn too_many(sim: &Sim) -> Action {
    with_retry_after(
        error_doc(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "You have exceeded your permitted rate limit; please retry again later.",
        ),
        sim.retry_after,
    )
}

fn not_found(resource: &str, id: &str) -> Action {
    error_doc(
        StatusCode::NOT_FOUND,
        "resourceNotFound",
        "Resource Not Found",
        &format!("Could not find '{}' with ID '{id}'.", type_name(resource)),
    )
}

/// Handles a request whose path starts with [`PREFIX`].
pub(crate) async fn handle(sim: &Sim, req: Request<Incoming>) -> Action {
    let c = &sim.counters;
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or_default();
    let mut segments = path.split('/');
    let resource = segments.next().unwrap_or_default().to_owned();
    let id = segments.next().map(str::to_owned);
    if segments.next().is_some()
        || id.as_deref() == Some("")
        || !sim.outreach.collections.contains_key(&resource)
    {
        count(&c.rejected);
        return json(StatusCode::NOT_FOUND, NOT_FOUND_404);
    }
    let method = req.method().clone();
    let allowed = method == Method::GET || (method == Method::DELETE && id.is_some());
    if !allowed {
        count(&c.rejected);
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    let base = match &sim.outreach.next_base {
        Some(base) => base.clone(),
        None => {
            let host = req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("http://{host}")
        }
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    let (parts, body) = req.into_parts();
    // Drain any body so the connection stays usable; none is expected.
    if let Err(ReadError::Io) = read_body(body).await {
        return Action::Drop;
    }
    match sim.authorize(bearer(parts.headers.get(hyper::header::AUTHORIZATION))) {
        Auth::Ok => {}
        Auth::Bad => {
            count(&c.unauthorized);
            return error_doc(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "The access token is invalid.",
            );
        }
        Auth::Expired => {
            count(&c.unauthorized);
            return error_doc(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "The access token has expired.",
            );
        }
    }
    if !sim.admit() {
        count(&c.throttled);
        return too_many(sim);
    }
    if let Some(fault) = sim.draw_fault() {
        count(&c.faults);
        return fault_action(fault, method == Method::GET, sim);
    }
    let Some(id_text) = id else {
        return list(sim, &resource, &query, &base);
    };
    let Ok(id) = id_text.parse::<i64>() else {
        count(&c.not_found);
        return not_found(&resource, &id_text);
    };
    if method == Method::GET {
        return match sim.outreach.get(&resource, id) {
            Some(attributes) => {
                count(&c.listed);
                let body = json!({"data": item(&base, &resource, id, attributes)});
                respond(StatusCode::OK, JSON_API, body.to_string())
            }
            None => {
                count(&c.not_found);
                not_found(&resource, &id_text)
            }
        };
    }
    match sim.outreach.delete(&resource, id) {
        Delete::Deleted(deletes) => {
            count(&c.deleted);
            c.max_deletes_per_key.fetch_max(deletes, Relaxed);
            respond(StatusCode::NO_CONTENT, JSON_API, "")
        }
        Delete::NotFound => {
            count(&c.not_found);
            not_found(&resource, &id_text)
        }
        Delete::Undeletable => {
            count(&c.rejected);
            error_doc(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validationError",
                "Validation Error",
                &format!(
                    "{} {id} is in use and cannot be deleted.",
                    type_name(&resource)
                ),
            )
        }
    }
}

fn item(base: &str, resource: &str, id: i64, attributes: Value) -> Value {
    json!({
        "type": type_name(resource),
        "id": id,
        "attributes": attributes,
        "links": {"self": format!("{base}{PREFIX}{resource}/{id}")},
    })
}

fn list(sim: &Sim, resource: &str, query: &str, base: &str) -> Action {
    let c = &sim.counters;
    let mut size = DEFAULT_PAGE;
    let mut after = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "page[size]" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => size = n,
                _ => {
                    count(&c.rejected);
                    return error_doc(
                        StatusCode::BAD_REQUEST,
                        "invalidPageSize",
                        "Invalid Page Size",
                        &format!("page[size] must be between 1 and {MAX_PAGE}."),
                    );
                }
            },
            "page[after]" => match value.parse::<i64>() {
                Ok(n) => after = Some(n),
                Err(_) => {
                    count(&c.rejected);
                    return error_doc(
                        StatusCode::BAD_REQUEST,
                        "invalidCursor",
                        "Invalid Page Cursor",
                        "page[after] is not a valid cursor.",
                    );
                }
            },
            _ => {}
        }
    }
    let (records, more, total) = sim.outreach.page(resource, after, size);
    let first = format!("{base}{PREFIX}{resource}?page%5Bsize%5D={size}");
    let mut links = json!({ "first": first });
    if let (true, Some((last, _))) = (more, records.last()) {
        links["next"] = Value::String(format!("{first}&page%5Bafter%5D={last}"));
    }
    let data: Vec<Value> = records
        .into_iter()
        .map(|(id, attributes)| item(base, resource, id, attributes))
        .collect();
    count(&c.listed);
    let body = json!({"data": data, "links": links, "meta": {"count": total}});
    respond(StatusCode::OK, JSON_API, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_records_are_deterministic_and_named() {
        let a = sample_call_purposes(10);
        assert_eq!(a, sample_call_purposes(10));
        assert_eq!(a[0].0, 1);
        assert_eq!(a[0].1["name"], "Initial Contact");
        assert_eq!(a[8].1["name"], "Initial Contact 2");
    }

    #[test]
    fn pages_skip_deleted_records_and_say_whether_more_remain() {
        let store = Store::new(
            vec![OutreachCollection::new(
                "callPurposes",
                sample_call_purposes(5),
            )],
            None,
        );
        assert!(matches!(
            store.delete("callPurposes", 2),
            Delete::Deleted(1)
        ));
        assert!(matches!(store.delete("callPurposes", 2), Delete::NotFound));
        let ids = |(page, more, total): (Vec<(i64, Value)>, bool, usize)| {
            (
                page.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
                more,
                total,
            )
        };
        assert_eq!(
            ids(store.page("callPurposes", None, 2)),
            (vec![1, 3], true, 4)
        );
        assert_eq!(
            ids(store.page("callPurposes", Some(3), 2)),
            (vec![4, 5], false, 4)
        );
        assert_eq!(
            ids(store.page("callPurposes", Some(5), 2)),
            (vec![], false, 4)
        );
        assert_eq!(type_name("callPurposes"), "callPurpose");
        assert_eq!(type_name("s"), "s");
    }
}

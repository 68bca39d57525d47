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

mod store;

use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::fault::Fault;
use crate::history::{Answer, DeleteRequest};
use crate::profiles::Step;
use crate::reply::{
    Action, METHOD_405, NOT_FOUND_404, ReadError, bearer, count, json, read_body, respond,
    with_retry_after,
};
use crate::state::{Auth, Receipt, Sim};
use crate::timeline::Column;

/// Outreach collections are served below this path, as `https://api.outreach.io/api/v2/`.
pub const PREFIX: &str = "/api/v2/";
/// The collection the Outreach document describes; always served.
pub const DEFAULT_RESOURCE: &str = "callPurposes";
const JSON_API: &str = "application/vnd.api+json";
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

use store::Delete;
pub(crate) use store::Store;
pub use store::{OutreachCollection, read_records, sample_call_purposes};

impl Sim {
    /// Whether the Outreach collection `resource` still holds record `id`.
    pub fn outreach_holds(&self, resource: &str, id: i64) -> bool {
        self.outreach.holds(resource, id)
    }

    /// How many times record `id` of `resource` was answered 204 (0 or 1 normally).
    pub fn outreach_delete_count(&self, resource: &str, id: i64) -> u64 {
        self.outreach.delete_count(resource, id)
    }

    /// Records `resource` still holds.
    pub fn outreach_remaining(&self, resource: &str) -> usize {
        self.outreach.remaining(resource)
    }

    /// Every delete request for record `id` of `resource`, in arrival order, and what it
    /// got (as [`Sim::history`]).
    pub fn outreach_history(&self, resource: &str, id: i64) -> Vec<DeleteRequest> {
        self.outreach.history(resource, id)
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

fn fault_action(fault: Fault, read: bool, sim: &Sim, wait: Duration) -> Action {
    let internal = || {
        error_doc(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internalError",
            "Internal Server Error",
            "Something went wrong.",
        )
    };
    match fault.before_delete() {
        Fault::Http500 => internal(),
        Fault::Code1010 => error_doc(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceUnavailable",
            "Service Unavailable",
            "Please try again later.",
        ),
        Fault::Code429 => too_many(sim, wait),
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
        // before_delete() maps these to the plain kinds above.
        Fault::DropAfterDelete => Action::Drop,
        Fault::SlowAfterDelete => Action::Hang,
        Fault::Http500AfterDelete => internal(),
    }
}

fn too_many(sim: &Sim, wait: Duration) -> Action {
    with_retry_after(
        error_doc(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "You have exceeded your permitted rate limit; please retry again later.",
        ),
        sim.retry_after,
        wait,
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

/// Applies `step` to record `id` and records its answer (see [`Sim::webex_request`]).
fn request(
    sim: &Sim,
    resource: &str,
    id: i64,
    step: Step,
    answers: bool,
) -> (Delete, Option<Receipt>) {
    let now = answers && sim.latency().is_zero();
    let Some((outcome, index)) = sim
        .outreach
        .request(resource, id, step, now, &sim.counters.keys)
    else {
        return (Delete::NotFound, None);
    };
    let receipt = (answers && !now).then(|| Receipt::Outreach {
        resource: resource.to_owned(),
        id,
        index,
    });
    (outcome, receipt)
}

/// Handles a request whose path starts with [`PREFIX`]; a delete's answer comes with where
/// to mark it delivered, if it waits for the configured latency.
pub(crate) async fn handle(sim: &Sim, req: Request<Incoming>) -> (Action, Option<Receipt>) {
    let c = &sim.counters;
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or_default();
    let mut segments = path.split('/');
    let resource = segments.next().unwrap_or_default().to_owned();
    let id = segments.next().map(str::to_owned);
    if segments.next().is_some() || id.as_deref() == Some("") || !sim.outreach.serves(&resource) {
        count(&c.rejected);
        return (json(StatusCode::NOT_FOUND, NOT_FOUND_404), None);
    }
    let method = req.method().clone();
    let allowed = method == Method::GET || (method == Method::DELETE && id.is_some());
    if !allowed {
        count(&c.rejected);
        return (json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405), None);
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
        return (Action::Drop, None);
    }
    let now = sim.now();
    // The arrival log counts every delete; one of a record by id also has a history.
    let logged = method == Method::DELETE;
    let log = |column| {
        if logged {
            sim.log(now, column);
        }
    };
    log(Column::Arrived);
    let deleting = id
        .as_deref()
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|_| method == Method::DELETE);
    let refuse = |answer: Answer, action: Action| match deleting {
        Some(id) => {
            let answers = !matches!(action, Action::Drop | Action::Hang);
            let (_, receipt) = request(sim, &resource, id, Step::Refuse(answer), answers);
            (action, receipt)
        }
        None => (action, None),
    };
    match sim.authorize(bearer(parts.headers.get(hyper::header::AUTHORIZATION))) {
        Auth::Ok => {}
        Auth::Bad => {
            count(&c.unauthorized);
            let doc = error_doc(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "The access token is invalid.",
            );
            return refuse(Answer::Unauthorized, doc);
        }
        Auth::Expired => {
            count(&c.unauthorized);
            let doc = error_doc(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "The access token has expired.",
            );
            return refuse(Answer::Unauthorized, doc);
        }
    }
    if let Err(wait) = sim.admit(now) {
        count(&c.throttled);
        log(Column::Limited);
        return refuse(Answer::Throttled, too_many(sim, wait));
    }
    if let Some(fault) = sim.draw_fault() {
        count(&c.faults);
        let mut wait = Duration::ZERO;
        if fault == Fault::Code429 {
            count(&c.random_throttled);
            log(Column::Random429);
            wait = sim.limiter_wait(now);
        }
        let action = fault_action(fault, method == Method::GET, sim, wait);
        return match deleting.filter(|_| fault.after_delete()) {
            Some(id) => {
                let step = Step::Delete { then: Some(fault) };
                let (outcome, receipt) = request(sim, &resource, id, step, fault.answers());
                if let Delete::Refused { deleted: true } = outcome {
                    count(&c.deleted_then_faulted);
                    log(Column::Deleted);
                }
                (action, receipt)
            }
            None => refuse(Answer::Fault(fault), action),
        };
    }
    let Some(id_text) = id else {
        return (list(sim, &resource, &query, &base), None);
    };
    let Ok(id) = id_text.parse::<i64>() else {
        count(&c.not_found);
        return (not_found(&resource, &id_text), None);
    };
    if method == Method::GET {
        let action = match sim.outreach.get(&resource, id) {
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
        return (action, None);
    }
    let (outcome, receipt) = request(sim, &resource, id, Step::Delete { then: None }, true);
    let action = match outcome {
        Delete::Deleted => {
            count(&c.deleted);
            log(Column::Deleted);
            respond(StatusCode::NO_CONTENT, JSON_API, "")
        }
        Delete::NotFound | Delete::Refused { .. } => {
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
    };
    (action, receipt)
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
    fn record_types_are_singular() {
        assert_eq!(type_name("callPurposes"), "callPurpose");
        assert_eq!(type_name("s"), "s");
    }
}

//! The router, and the Webex delete endpoint: decides what the simulator answers.

use std::borrow::Cow;

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use crate::fault::Fault;
use crate::reply::{
    AUTH_430, Action, BAD_JSON_1001, EXPIRED_498, INTERNAL_500, JSON, METHOD_405, NO_PROFILE_102,
    NOT_FOUND_404, NOT_FOUND_1020, ReadError, bearer, count, fault_action, json, read_body,
    respond, too_many,
};
use crate::state::{Auth, DeleteOutcome, Sim};
use crate::{DELETE_PATH, STATS_PATH, hub, outreach};

/// The fields of a delete request. Unknown fields are ignored; the known ones
/// must be strings (or null).
#[derive(Deserialize)]
struct DeleteBody<'a> {
    #[serde(rename = "profile-name", borrow, default)]
    profile_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(rename = "exparam1", borrow, default)]
    _exparam1: Option<Cow<'a, str>>,
    #[serde(rename = "exparam2", borrow, default)]
    _exparam2: Option<Cow<'a, str>>,
    #[serde(rename = "exparam3", borrow, default)]
    _exparam3: Option<Cow<'a, str>>,
    #[serde(rename = "exparam4", borrow, default)]
    _exparam4: Option<Cow<'a, str>>,
    #[serde(rename = "exparam5", borrow, default)]
    _exparam5: Option<Cow<'a, str>>,
    #[serde(rename = "exparam6", borrow, default)]
    _exparam6: Option<Cow<'a, str>>,
    #[serde(rename = "exparam7", borrow, default)]
    _exparam7: Option<Cow<'a, str>>,
    #[serde(rename = "exparam8", borrow, default)]
    _exparam8: Option<Cow<'a, str>>,
    #[serde(rename = "exparam9", borrow, default)]
    _exparam9: Option<Cow<'a, str>>,
    #[serde(rename = "exparam10", borrow, default)]
    _exparam10: Option<Cow<'a, str>>,
}

/// Parses a delete body; `None` means "Invalid input JSON".
fn parse_body(body: &[u8]) -> Option<DeleteBody<'_>> {
    // Only a JSON object is acceptable (serde would also take an array).
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let parsed: DeleteBody<'_> = serde_json::from_slice(body).ok()?;
    let has_key = parsed.key.as_deref().is_some_and(|k| !k.trim().is_empty());
    has_key.then_some(parsed)
}

/// Handles one request, including the configured latency.
pub(crate) async fn handle(sim: &Sim, req: Request<Incoming>) -> Action {
    let action = decide(sim, req).await;
    if !sim.latency.is_zero() {
        tokio::time::sleep(sim.latency).await;
    }
    action
}

async fn decide(sim: &Sim, req: Request<Incoming>) -> Action {
    let c = &sim.counters;
    let path = req.uri().path();
    if path == STATS_PATH {
        if req.method() != Method::GET {
            return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
        }
        return match serde_json::to_vec(&sim.stats()) {
            Ok(body) => respond(StatusCode::OK, JSON, body),
            Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        };
    }
    count(&c.requests);
    if path.starts_with(outreach::PREFIX) {
        return outreach::handle(sim, req).await;
    }
    if let Some(route) = hub::route(path) {
        return hub::decide(sim, route, req).await;
    }
    if path != DELETE_PATH {
        count(&c.rejected);
        return json(StatusCode::NOT_FOUND, NOT_FOUND_404);
    }
    if req.method() != Method::POST {
        count(&c.rejected);
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    // Read the whole body first so that keep-alive connections stay usable
    // whatever the answer is.
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(body) => Some(body),
        Err(ReadError::TooLarge) => None,
        Err(ReadError::Io) => return Action::Drop,
    };
    if let Some(body) = body.as_deref().filter(|_| sim.records_bodies()) {
        let value = serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        sim.record(value);
    }

    match sim.authorize(bearer(parts.headers.get(AUTHORIZATION))) {
        Auth::Ok => {}
        Auth::Bad => {
            count(&c.unauthorized);
            return json(StatusCode::UNAUTHORIZED, AUTH_430);
        }
        Auth::Expired => {
            count(&c.unauthorized);
            return json(StatusCode::UNAUTHORIZED, EXPIRED_498);
        }
    }
    if !sim.admit() {
        count(&c.throttled);
        return too_many(sim.retry_after);
    }
    let parsed = body.as_deref().and_then(parse_body);
    if let Some(fault) = sim.draw_fault() {
        count(&c.faults);
        if fault == Fault::Code429 {
            count(&c.random_throttled);
        }
        if let (true, Some(parsed)) = (fault.after_delete(), &parsed) {
            let key = parsed.key.as_deref().unwrap_or_default();
            if let DeleteOutcome::Deleted(_) = sim.delete(parsed.profile_name.as_deref(), key) {
                count(&c.deleted_then_faulted);
            }
        }
        return fault_action(fault, sim.retry_after);
    }
    let Some(parsed) = parsed else {
        count(&c.rejected);
        return json(StatusCode::INTERNAL_SERVER_ERROR, BAD_JSON_1001);
    };
    let key = parsed.key.as_deref().unwrap_or_default();
    match sim.delete(parsed.profile_name.as_deref(), key) {
        DeleteOutcome::Deleted(txn) => {
            count(&c.deleted);
            respond(
                StatusCode::OK,
                JSON,
                format!(r#"{{"transaction-id":"sim-{txn}"}}"#),
            )
        }
        DeleteOutcome::NotFound => {
            count(&c.not_found);
            json(StatusCode::OK, NOT_FOUND_1020)
        }
        DeleteOutcome::UnknownProfile => {
            count(&c.rejected);
            json(StatusCode::OK, NO_PROFILE_102)
        }
    }
}

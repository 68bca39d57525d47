//! The router, and the Webex delete endpoint: decides what the simulator answers.

use std::borrow::Cow;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use crate::fault::Fault;
use crate::history::Answer;
use crate::profiles::{Outcome, Step};
use crate::reply::{
    AUTH_430, Action, BAD_JSON_1001, EXPIRED_498, INTERNAL_500, JSON, METHOD_405, NO_PROFILE_102,
    NOT_FOUND_404, NOT_FOUND_1020, ReadError, bearer, count, fault_action, json, read_body,
    respond, too_many,
};
use crate::state::{Auth, Receipt, Sim};
use crate::timeline::Column;
use crate::{DELETE_PATH, STATS_PATH, TIMELINE_PATH, hub, outreach};

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
    let (action, receipt) = decide(sim, req).await;
    let latency = sim.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // Reached only if the client did not go away meanwhile (the future is dropped then).
    if let (Action::Respond(_), Some(receipt)) = (&action, receipt) {
        sim.deliver(receipt);
    }
    action
}

async fn decide(sim: &Sim, req: Request<Incoming>) -> (Action, Option<Receipt>) {
    let c = &sim.counters;
    let path = req.uri().path();
    if path == TIMELINE_PATH {
        if req.method() != Method::GET {
            return (json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405), None);
        }
        let action = match serde_json::to_vec(&sim.timeline()) {
            Ok(body) => respond(StatusCode::OK, JSON, body),
            Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        };
        return (action, None);
    }
    if path == STATS_PATH {
        if req.method() != Method::GET {
            return (json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405), None);
        }
        let action = match serde_json::to_vec(&sim.stats()) {
            Ok(body) => respond(StatusCode::OK, JSON, body),
            Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_500),
        };
        return (action, None);
    }
    count(&c.requests);
    if path.starts_with(outreach::PREFIX) {
        return outreach::handle(sim, req).await;
    }
    if let Some(route) = hub::route(path) {
        return (hub::decide(sim, route, req).await, None);
    }
    if path != DELETE_PATH {
        count(&c.rejected);
        return (json(StatusCode::NOT_FOUND, NOT_FOUND_404), None);
    }
    if req.method() != Method::POST {
        count(&c.rejected);
        return (json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405), None);
    }
    delete(sim, req).await
}

/// `POST /campaignapi/resources/v3/delete`. Every answer to a body naming a key goes into
/// that key's history.
async fn delete(sim: &Sim, req: Request<Incoming>) -> (Action, Option<Receipt>) {
    let c = &sim.counters;
    // Read the whole body first so that keep-alive connections stay usable
    // whatever the answer is.
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(body) => Some(body),
        Err(ReadError::TooLarge) => None,
        Err(ReadError::Io) => return (Action::Drop, None),
    };
    if let Some(body) = body.as_deref().filter(|_| sim.records_bodies()) {
        let value = serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        sim.record(value);
    }
    let now = sim.now();
    sim.log(now, Column::Arrived);
    let parsed = body.as_deref().and_then(parse_body);
    let target = parsed.as_ref().map(|p| {
        let key = p.key.as_deref().unwrap_or_default();
        (p.profile_name.as_deref(), key)
    });
    let refuse = |answer: Answer, action: Action| match target {
        Some((profile, key)) => {
            let answers = !matches!(action, Action::Drop | Action::Hang);
            let (_, receipt) = sim.webex_request(profile, key, Step::Refuse(answer), answers);
            (action, receipt)
        }
        None => (action, None),
    };

    match sim.authorize(bearer(parts.headers.get(AUTHORIZATION))) {
        Auth::Ok => {}
        Auth::Bad => {
            count(&c.unauthorized);
            return refuse(
                Answer::Unauthorized,
                json(StatusCode::UNAUTHORIZED, AUTH_430),
            );
        }
        Auth::Expired => {
            count(&c.unauthorized);
            let action = json(StatusCode::UNAUTHORIZED, EXPIRED_498);
            return refuse(Answer::Unauthorized, action);
        }
    }
    if let Err(wait) = sim.admit(now) {
        count(&c.throttled);
        sim.log(now, Column::Limited);
        return refuse(Answer::Throttled, too_many(sim.retry_after, wait));
    }
    if let Some(fault) = sim.draw_fault() {
        count(&c.faults);
        let mut wait = Duration::ZERO;
        if fault == Fault::Code429 {
            count(&c.random_throttled);
            sim.log(now, Column::Random429);
            wait = sim.limiter_wait(now);
        }
        let action = fault_action(fault, sim.retry_after, wait);
        return match target.filter(|_| fault.after_delete()) {
            Some((profile, key)) => {
                let step = Step::Delete { then: Some(fault) };
                let (outcome, receipt) = sim.webex_request(profile, key, step, fault.answers());
                if let Outcome::Refused { deleted: true } = outcome {
                    count(&c.deleted_then_faulted);
                    sim.log(now, Column::Deleted);
                }
                (action, receipt)
            }
            None => refuse(Answer::Fault(fault), action),
        };
    }
    let Some((profile, key)) = target else {
        count(&c.rejected);
        return (json(StatusCode::INTERNAL_SERVER_ERROR, BAD_JSON_1001), None);
    };
    let (outcome, receipt) = sim.webex_request(profile, key, Step::Delete { then: None }, true);
    let action = match outcome {
        Outcome::Deleted(txn) => {
            count(&c.deleted);
            sim.log(now, Column::Deleted);
            respond(
                StatusCode::OK,
                JSON,
                format!(r#"{{"transaction-id":"sim-{txn}"}}"#),
            )
        }
        Outcome::NotFound | Outcome::Refused { .. } => {
            count(&c.not_found);
            json(StatusCode::OK, NOT_FOUND_1020)
        }
        Outcome::UnknownProfile => {
            count(&c.rejected);
            json(StatusCode::OK, NO_PROFILE_102)
        }
    };
    (action, receipt)
}

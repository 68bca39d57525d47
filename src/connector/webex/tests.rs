use super::*;
use crate::connector::verdicts::{final_, retry, stop};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use std::time::Duration;

fn verdict(status: u16, body: &str, headers: &HeaderMap) -> Verdict {
    classify(&Answer {
        status,
        headers,
        body: body.as_bytes(),
    })
}

#[test]
fn classification_table() {
    let none = HeaderMap::new();
    let case = |status: u16, body: &str, want: VerdictKind| {
        assert_eq!(
            verdict(status, body, &none).kind,
            want,
            "HTTP {status} {body}"
        );
    };
    case(200, r#"{"transaction-id":"t-1"}"#, final_(Outcome::Deleted));
    case(200, r#"{"transaction-id":12345}"#, final_(Outcome::Deleted));
    case(
        200,
        r#"{"code":"1020","description":"Contact profile not found"}"#,
        final_(Outcome::NotFound),
    );
    case(200, r#"{"code":1020}"#, final_(Outcome::NotFound));
    case(200, r#"{"code":" 1020 "}"#, final_(Outcome::NotFound));
    case(
        200,
        r#"{"code":"102","description":"Invalid profile id"}"#,
        final_(Outcome::Rejected),
    );
    case(
        500,
        r#"{"code":1001,"description":"Invalid input JSON"}"#,
        final_(Outcome::Rejected),
    );
    case(200, r#"{"code":"7777"}"#, final_(Outcome::Rejected));
    case(200, r#"{}"#, final_(Outcome::Rejected));
    case(
        400,
        r#"{"code":400,"description":"bad"}"#,
        final_(Outcome::Rejected),
    );
    case(200, r#"{"code":"1010"}"#, retry(false, false));
    case(499, r#"{"code":499}"#, retry(false, true));
    case(500, r#"{"code":500}"#, retry(false, true));
    case(
        500,
        r#"{"code":500,"description":"Internal server error"}"#,
        retry(false, true),
    );
    case(429, r#"{"code":429}"#, retry(true, false));
    case(200, r#"{"code":"429"}"#, retry(true, false));
    case(429, "", retry(true, false));
    case(500, "", retry(false, true));
    case(
        502,
        "<html><body>502 Bad Gateway</body></html>",
        retry(false, true),
    );
    case(503, "Service Unavailable", retry(false, true));
    case(200, "", retry(false, true));
    case(200, r#"{"transaction-id":""#, retry(false, true));
    case(200, "OK", retry(false, true));
    case(401, r#"{"code":430}"#, stop(StopCause::BadToken));
    case(401, r#"{"code":"498"}"#, stop(StopCause::ExpiredToken));
    case(401, "", stop(StopCause::BadToken));
    case(403, "", stop(StopCause::Forbidden));
    case(404, "<html>Not Found</html>", stop(StopCause::WrongUrl));
    case(405, r#"{"code":405}"#, stop(StopCause::WrongUrl));
    case(302, "", stop(StopCause::WrongUrl));
    case(200, r#"{"code":498}"#, stop(StopCause::ExpiredToken));
    // A transaction id beside a failure (status or code) may or may not have deleted.
    case(500, r#"{"transaction-id":"t-1"}"#, retry(false, true));
    case(502, r#"{"transaction-id":"t-1"}"#, retry(false, true));
    case(400, r#"{"transaction-id":"t-1"}"#, retry(false, true));
    case(
        200,
        r#"{"transaction-id":"t-1","code":"500"}"#,
        retry(false, true),
    );
    case(
        200,
        r#"{"transaction-id":"t-1","code":1020}"#,
        retry(false, true),
    );
    case(
        200,
        r#"{"transaction-id":"t-1","code":"102","description":"Invalid profile id"}"#,
        retry(false, true),
    );
    case(429, r#"{"transaction-id":"t-1"}"#, retry(true, true));
    // ... but a success code, or a 2xx other than 200, is no contradiction.
    case(
        200,
        r#"{"transaction-id":"t-1","code":"200"}"#,
        final_(Outcome::Deleted),
    );
    case(201, r#"{"transaction-id":"t-1"}"#, final_(Outcome::Deleted));
    // A stop wins: nothing more is sent, and the key stays pending.
    case(
        401,
        r#"{"transaction-id":"t-1","code":430}"#,
        stop(StopCause::BadToken),
    );
}

#[test]
fn a_contradictory_answer_is_recorded_as_what_it_said() {
    let none = HeaderMap::new();
    let v = verdict(
        200,
        r#"{"transaction-id":"t-9","code":"500","description":"Internal server error"}"#,
        &none,
    );
    assert_eq!(v.transaction_id, None);
    assert_eq!(v.code.as_deref(), Some("500"));
    assert_eq!(
        v.description.as_deref(),
        Some(
            "contradictory answer: transaction-id t-9 with HTTP 200, code 500: Internal server error"
        )
    );
}

#[test]
fn codes_and_ids_are_recorded_as_sent() {
    let none = HeaderMap::new();
    let v = verdict(
        200,
        r#"{"code":102,"description":"Invalid profile id"}"#,
        &none,
    );
    assert_eq!(v.code.as_deref(), Some("102"));
    assert_eq!(v.description.as_deref(), Some("Invalid profile id"));
    let v = verdict(200, r#"{"transaction-id":"abc-9"}"#, &none);
    assert_eq!(v.transaction_id.as_deref(), Some("abc-9"));
}

#[test]
fn retry_after_is_read_on_429() {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("4"));
    let v = verdict(429, "", &headers);
    assert_eq!(
        v.kind,
        VerdictKind::Retry {
            throttled: true,
            ambiguous: false,
            retry_after: Some(Duration::from_secs(4))
        }
    );
}

/// The fast path against a table of expected verdicts, not against the full reading
/// alone (which would compare the function with itself whenever the fast path misses).
#[test]
fn the_plain_deletion_is_read_fast_and_as_the_table_says() {
    let none = HeaderMap::new();
    let deleted = final_(Outcome::Deleted);
    let rejected = final_(Outcome::Rejected);
    let ambiguous = retry(false, true);
    let tid = r#"{"transaction-id":"sim-1"}"#;
    // (status, body, whether the fast path takes it, verdict, transaction id)
    let table: &[(u16, &str, bool, VerdictKind, Option<&str>)] = &[
        (200, tid, true, deleted.clone(), Some("sim-1")),
        (
            200,
            r#"{"transaction-id":"  abc-9 "}"#,
            true,
            deleted.clone(),
            Some("abc-9"),
        ),
        (
            200,
            r#" { "transaction-id" : "\u0061b" } "#,
            true,
            deleted.clone(),
            Some("ab"),
        ),
        // An empty id is no proof of a deletion: a person must look.
        (
            200,
            r#"{"transaction-id":""}"#,
            false,
            rejected.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":"   "}"#,
            false,
            rejected.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":null}"#,
            false,
            rejected.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":7}"#,
            false,
            deleted.clone(),
            Some("7"),
        ),
        // A transaction id beside a failure code says both: retried as ambiguous.
        (
            200,
            r#"{"transaction-id":"x","code":"1020"}"#,
            false,
            ambiguous.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":"x","code":"500"}"#,
            false,
            ambiguous.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":"x","code":200}"#,
            false,
            deleted.clone(),
            Some("x"),
        ),
        // JSON readers keep the last of a repeated name.
        (
            200,
            r#"{"transaction-id":"x","transaction-id":"y"}"#,
            false,
            deleted.clone(),
            Some("y"),
        ),
        (
            200,
            r#"{"code":"1020","description":"Contact profile not found"}"#,
            false,
            final_(Outcome::NotFound),
            None,
        ),
        // Cut off before its end: it may have deleted, it proves nothing.
        (
            200,
            r#"{"transaction-id":"x""#,
            false,
            ambiguous.clone(),
            None,
        ),
        (
            200,
            r#"{"transaction-id":"sim-1"#,
            false,
            ambiguous.clone(),
            None,
        ),
        (200, "", false, ambiguous.clone(), None),
        (201, tid, false, deleted.clone(), Some("sim-1")),
        // A throttled answer, or a failed status, with a transaction id may have deleted.
        (429, tid, false, retry(true, true), None),
        (401, tid, false, stop(StopCause::BadToken), None),
        (500, tid, false, ambiguous.clone(), None),
        (500, "", false, ambiguous.clone(), None),
    ];
    for (status, body, fast, kind, id) in table {
        let answer = Answer {
            status: *status,
            headers: &none,
            body: body.as_bytes(),
        };
        let v = classify(&answer);
        assert_eq!(
            (&v.kind, v.transaction_id.as_deref()),
            (kind, *id),
            "{status} {body}"
        );
        assert_eq!(plain_deletion(&answer).is_some(), *fast, "{status} {body}");
        assert_eq!(
            plain_deletion(&answer).as_deref(),
            if *fast { *id } else { None },
            "{status} {body}"
        );
        // Whichever way it went, the full reading agrees.
        assert_eq!(classify_fully(&answer), v, "{status} {body}");
    }
}

#[test]
fn body_carries_profile_key_and_exparams() -> Result<(), serde_json::Error> {
    let unit = Unit {
        id: 1,
        scope: "customers".into(),
        key: "+447700900123".into(),
        exparams: vec![("exparam1".into(), "REQ-1".into())],
    };
    let v: Value = serde_json::from_slice(&body(&unit))?;
    assert_eq!(
        v,
        serde_json::json!({"profile-name":"customers","key":"+447700900123","exparam1":"REQ-1"})
    );
    let no_profile = Unit {
        scope: String::new(),
        ..unit
    };
    let v: Value = serde_json::from_slice(&body(&no_profile))?;
    assert!(v.get("profile-name").is_none());
    // Values that JSON must escape arrive intact.
    let awkward = Unit {
        scope: "a \"b\" \\ c".into(),
        key: "é\u{1}\n".into(),
        exparams: vec![("exparam2".into(), "<\"x\">\t".into())],
        ..no_profile
    };
    let v: Value = serde_json::from_slice(&body(&awkward))?;
    assert_eq!(
        v,
        serde_json::json!({"profile-name": awkward.scope, "key": awkward.key, "exparam2": "<\"x\">\t"})
    );
    Ok(())
}

//! The read APIs, as their documents describe them:
//!
//! * `POST /campaignapi/resources/v3/oauth/token?grant_type=client_credentials` with
//!   `Authorization: Basic base64(id:secret)` and `isGoldenAuthkey: true` → an access token;
//! * `GET /v1/purposes`, `/v1/purposes/{id}` (API hub);
//! * `GET /v1/target-groups`, `/{id}` (API hub) and
//!   `GET /campaignapi/resources/v3/target-groups`, `/{id}` — the same data;
//! * `GET /campaignapi/resources/v3/transactions?key=..|customer-id=..&count=..&from-date=..
//!   &to-date=..&channel=..&message_preview=true` — the last N transactions, oldest first.
//!
//! Purposes and target groups take the configured token or an issued OAuth token; the
//! transactions API, a base-URL API like delete, takes the configured token only and shares
//! delete's token expiry, rate limit and faults.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json as value};

use crate::fault::Fault;
use crate::reply::{
    AUTH_430, Action, BAD_JSON_1001, EXPIRED_498, JSON, METHOD_405, NOT_FOUND_404, bearer, count,
    fault_action, json, read_body, respond, too_many,
};
use crate::state::{Auth, Sim};

pub const TOKEN_PATH: &str = "/campaignapi/resources/v3/oauth/token";
pub const PURPOSES_PATH: &str = "/v1/purposes";
pub const TARGET_GROUPS_HUB_PATH: &str = "/v1/target-groups";
pub const TARGET_GROUPS_PATH: &str = "/campaignapi/resources/v3/target-groups";
pub const TRANSACTIONS_PATH: &str = "/campaignapi/resources/v3/transactions";

/// The documented maximum of one last-N-transactions call.
const MAX_COUNT: usize = 50;
/// What a call without `count` gets.
const DEFAULT_COUNT: usize = 10;

const MISSING_1002: &str =
    r#"{"code":"1002","description":"Mandatory field missing such as key or customer id."}"#;
const BAD_GRANT_400: &str = r#"{"code":400,"description":"grant_type must be client_credentials"}"#;
const NOT_GOLDEN_400: &str =
    r#"{"code":400,"description":"the isGoldenAuthkey: true header is required"}"#;

/// Which read API a path names.
pub(super) enum Route {
    Token,
    Purposes(Option<String>),
    TargetGroups(Option<String>),
    Transactions,
}

/// `base` → `Some(None)`, `base/{id}` → `Some(Some(id))`, anything else → `None`.
fn item(path: &str, base: &str) -> Option<Option<String>> {
    let rest = path.strip_prefix(base)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Some(None);
    }
    let id = rest.strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then(|| Some(id.to_owned()))
}

pub(super) fn route(path: &str) -> Option<Route> {
    let bare = path.strip_suffix('/').unwrap_or(path);
    if bare == TOKEN_PATH {
        return Some(Route::Token);
    }
    if bare == TRANSACTIONS_PATH {
        return Some(Route::Transactions);
    }
    if let Some(id) = item(path, PURPOSES_PATH) {
        return Some(Route::Purposes(id));
    }
    item(path, TARGET_GROUPS_HUB_PATH)
        .or_else(|| item(path, TARGET_GROUPS_PATH))
        .map(Route::TargetGroups)
}

pub(super) async fn decide(sim: &Sim, route: Route, req: Request<Incoming>) -> Action {
    count(&sim.counters.reads);
    match route {
        Route::Token => token(sim, req).await,
        Route::Purposes(id) => listing(sim, &req, &sim.tenant.purposes, id.as_deref()),
        Route::TargetGroups(id) => listing(sim, &req, &sim.tenant.target_groups, id.as_deref()),
        Route::Transactions => transactions(sim, &req),
    }
}

fn unauthorized(auth: Auth) -> Option<Action> {
    match auth {
        Auth::Ok => None,
        Auth::Bad => Some(json(StatusCode::UNAUTHORIZED, AUTH_430)),
        Auth::Expired => Some(json(StatusCode::UNAUTHORIZED, EXPIRED_498)),
    }
}

fn answer(value: &Value) -> Action {
    match serde_json::to_vec(value) {
        Ok(body) => respond(StatusCode::OK, JSON, body),
        Err(_) => respond(StatusCode::INTERNAL_SERVER_ERROR, JSON, "{}"),
    }
}

async fn token(sim: &Sim, req: Request<Incoming>) -> Action {
    let (parts, body) = req.into_parts();
    // Read the (normally empty) body so the connection stays usable.
    if read_body(body).await.is_err() {
        return Action::Drop;
    }
    if parts.method != Method::POST {
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    let grant = query_pairs(parts.uri.query())
        .into_iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v);
    if grant.as_deref() != Some("client_credentials") {
        return json(StatusCode::BAD_REQUEST, BAD_GRANT_400);
    }
    let golden = parts
        .headers
        .get("isGoldenAuthkey")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !golden {
        return json(StatusCode::BAD_REQUEST, NOT_GOLDEN_400);
    }
    let presented = basic_credentials(parts.headers.get(AUTHORIZATION));
    let accepted = sim.tenant.client.as_ref().is_some_and(|(id, secret)| {
        presented
            .as_ref()
            .is_some_and(|(i, s)| i == id && s == secret)
    });
    if !accepted {
        return json(StatusCode::UNAUTHORIZED, AUTH_430);
    }
    let mut body = value!({
        "access_token": sim.issue_token(),
        "token_type": "Bearer",
    });
    if let Some(secs) = sim.tenant.token_expires_in {
        body["expires_in"] = value!(secs);
    }
    answer(&body)
}

/// The `(id, secret)` of an `Authorization: Basic base64(id:secret)` header (RFC 7617).
///
/// The simulator decodes what the client encoded, rather than encoding the expected value
/// the client's way and comparing: an encoding bug in the client then fails here.
fn basic_credentials(header: Option<&HeaderValue>) -> Option<(String, String)> {
    let value = header?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Standard base64 with padding (RFC 4648 §4), strictly: a length that is not a multiple of
/// four, a character outside the alphabet or misplaced padding is `None`.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.chunks_exact(4);
    let last = quads.len().saturating_sub(1);
    for (i, quad) in quads.enumerate() {
        let padding = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && i != last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - padding] {
            n = (n << 6) | sextet(c)?;
        }
        n <<= 6 * padding as u32;
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..3 - padding]);
    }
    Some(out)
}

fn id_matches(item: &Value, id: &str) -> bool {
    match item.get("id") {
        Some(Value::String(s)) => s == id,
        Some(Value::Number(n)) => n.to_string() == id,
        _ => false,
    }
}

fn listing(sim: &Sim, req: &Request<Incoming>, items: &[Value], id: Option<&str>) -> Action {
    if req.method() != Method::GET {
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    if let Some(refused) =
        unauthorized(sim.authorize_read(bearer(req.headers().get(AUTHORIZATION))))
    {
        return refused;
    }
    match id {
        None => answer(&Value::Array(items.to_vec())),
        Some(id) => match items.iter().find(|item| id_matches(item, id)) {
            Some(item) => answer(item),
            None => json(StatusCode::NOT_FOUND, NOT_FOUND_404),
        },
    }
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The documented channel codes: 0 SMS, 1 MMS, 3 USSD, 6 OBD, 7 EMAIL, 8 APP.
fn channel_code(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "SMS" => "0",
        "MMS" => "1",
        "USSD" => "3",
        "OBD" => "6",
        "EMAIL" => "7",
        "APP" => "8",
        _ => return None,
    })
}

fn valid_date(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format).is_ok()
}

fn text(item: &Value, field: &str) -> String {
    match item.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The query of a last-N-transactions call, checked.
struct TxQuery {
    key: Option<String>,
    customer_id: Option<String>,
    count: usize,
    from: Option<String>,
    to: Option<String>,
    channel: Option<&'static str>,
    preview: bool,
}

/// `Err` carries the answer for a query the API refuses.
fn parse_query(query: Option<&str>) -> Result<TxQuery, &'static str> {
    let mut q = TxQuery {
        key: None,
        customer_id: None,
        count: DEFAULT_COUNT,
        from: None,
        to: None,
        channel: None,
        preview: false,
    };
    for (name, value) in query_pairs(query) {
        let value = value.trim().to_owned();
        match name.as_str() {
            "key" if !value.is_empty() => q.key = Some(value),
            "customer-id" if !value.is_empty() => q.customer_id = Some(value),
            "count" => match value.parse::<usize>() {
                Ok(n) if n > 0 => q.count = n.min(MAX_COUNT),
                _ => return Err(BAD_JSON_1001),
            },
            "from-date" | "to-date" => {
                if !valid_date(&value) {
                    return Err(BAD_JSON_1001);
                }
                if name == "from-date" {
                    q.from = Some(value);
                } else {
                    q.to = Some(value);
                }
            }
            "channel" => q.channel = Some(channel_code(&value).ok_or(BAD_JSON_1001)?),
            "message_preview" => q.preview = value.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    if q.key.is_none() && q.customer_id.is_none() {
        return Err(MISSING_1002);
    }
    Ok(q)
}

impl TxQuery {
    fn matches(&self, item: &Value) -> bool {
        let date = text(item, "deployment-date");
        let day = date.get(..10).unwrap_or(&date);
        self.key.as_ref().is_none_or(|k| text(item, "key") == *k)
            && self
                .customer_id
                .as_ref()
                .is_none_or(|c| text(item, "customer-id") == *c)
            && self.channel.is_none_or(|c| text(item, "channel") == c)
            && self.from.as_deref().is_none_or(|f| day >= f)
            && self.to.as_deref().is_none_or(|t| day <= t)
    }
}

fn transactions(sim: &Sim, req: &Request<Incoming>) -> Action {
    if req.method() != Method::GET {
        return json(StatusCode::METHOD_NOT_ALLOWED, METHOD_405);
    }
    if let Some(refused) = unauthorized(sim.authorize(bearer(req.headers().get(AUTHORIZATION)))) {
        return refused;
    }
    let now = sim.now();
    if let Err(wait) = sim.admit(now) {
        return too_many(sim.retry_after, wait);
    }
    if let Some(fault) = sim.draw_fault() {
        let wait = if fault == Fault::Code429 {
            sim.limiter_wait(now)
        } else {
            Duration::ZERO
        };
        return fault_action(fault, sim.retry_after, wait);
    }
    let query = match parse_query(req.uri().query()) {
        Ok(q) => q,
        Err(BAD_JSON_1001) => return json(StatusCode::INTERNAL_SERVER_ERROR, BAD_JSON_1001),
        Err(refusal) => return json(StatusCode::OK, refusal),
    };
    let mut found: Vec<&Value> = sim
        .tenant
        .transactions
        .iter()
        .filter(|t| query.matches(t))
        .collect();
    // Oldest first, as documented; the last N are the most recent N.
    found.sort_by_key(|t| text(t, "deployment-date"));
    let skip = found.len().saturating_sub(query.count);
    let preview_channels = ["0", "7", "8"];
    let list: Vec<Value> = found[skip..]
        .iter()
        .map(|t| {
            let mut t = (*t).clone();
            let keep = query.preview && preview_channels.contains(&text(&t, "channel").as_str());
            if !keep && let Some(map) = t.as_object_mut() {
                map.remove("msg_preview_url");
            }
            t
        })
        .collect();
    let subject = query.key.as_ref().or(query.customer_id.as_ref());
    if let Some(subject) = subject {
        sim.count_fetch(subject);
    }
    answer(&Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let case = |path: &str, want: &str| {
            let got = match route(path) {
                None => "none".to_owned(),
                Some(Route::Token) => "token".to_owned(),
                Some(Route::Transactions) => "transactions".to_owned(),
                Some(Route::Purposes(id)) => format!("purposes {id:?}"),
                Some(Route::TargetGroups(id)) => format!("target-groups {id:?}"),
            };
            assert_eq!(got, want, "{path}");
        };
        case("/v1/purposes", "purposes None");
        case("/v1/purposes/", "purposes None");
        case("/v1/purposes/582", "purposes Some(\"582\")");
        case("/v1/purposes/582/x", "none");
        case("/v1/purposesx", "none");
        case("/v1/target-groups/7", "target-groups Some(\"7\")");
        case(
            "/campaignapi/resources/v3/target-groups",
            "target-groups None",
        );
        case("/campaignapi/resources/v3/transactions", "transactions");
        case("/campaignapi/resources/v3/oauth/token", "token");
        case("/campaignapi/resources/v3/delete", "none");
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let header =
            |v: &str| basic_credentials(Some(&HeaderValue::from_str(v).expect("a header value")));
        // RFC 7617's example.
        assert_eq!(
            header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Some(("Aladdin".to_owned(), "open sesame".to_owned()))
        );
        assert_eq!(
            header("basic c2ltLWNsaWVudDpzaW0tc2VjcmV0"),
            Some(("sim-client".to_owned(), "sim-secret".to_owned()))
        );
        // RFC 4648's test vectors, through the decoder alone.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode_base64(encoded).as_deref(), Some(plain.as_bytes()));
        }
        for bad in ["Zg", "Zg=a", "Zg==Zm9v", "Z===", "Zm9v!A==", "Zm 9"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
        assert_eq!(header("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), None);
        assert_eq!(header("Basic bm9jb2xvbg=="), None, "no colon");
    }

    #[test]
    fn queries() {
        let ok = |q: &str| parse_query(Some(q)).is_ok();
        let refusal = |q: &str| parse_query(Some(q)).err();
        assert!(ok(
            "key=a&count=50&from-date=2026-01-01&to-date=2026-12-31&channel=sms"
        ));
        assert!(ok("customer-id=C1"));
        assert_eq!(refusal("count=5"), Some(MISSING_1002));
        assert_eq!(refusal("key=&customer-id="), Some(MISSING_1002));
        assert_eq!(refusal("key=a&count=x"), Some(BAD_JSON_1001));
        assert_eq!(refusal("key=a&from-date=2026-13-01"), Some(BAD_JSON_1001));
        assert_eq!(refusal("key=a&channel=FAX"), Some(BAD_JSON_1001));
        assert_eq!(
            parse_query(Some("key=a&count=500")).map(|q| q.count).ok(),
            Some(50)
        );
    }
}

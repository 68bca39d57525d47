//! How long a throttled or failing answer asks the client to wait: `Retry-After` (seconds or
//! an HTTP date), or the rate-limit reset headers some APIs send instead. Wire facts only:
//! what to do with the delay is the engine's business.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};

/// The longest `Retry-After` honoured as given; a longer one is clamped so a confused server
/// cannot park a run for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        // Not in the RFC, but some servers send "1.5"; accepting it costs nothing.
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64()))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Reset values at or above this are Unix times, not delays: no API asks for a 30-year wait.
const EPOCH_SECONDS: u64 = 1_000_000_000;
/// ... and at or above this, Unix times in milliseconds.
const EPOCH_MILLIS: u64 = 1_000_000_000_000;

/// How long a throttled answer asks us to wait: `Retry-After` if present, else a rate-limit
/// reset header (`RateLimit-Reset`, `X-RateLimit-Reset`, `X-Rate-Limit-Reset`, or the
/// `reset=`/`t=` parameter of a combined `RateLimit` header).
pub fn throttle_delay(headers: &HeaderMap) -> Option<Duration> {
    throttle_delay_at(headers, SystemTime::now())
}

pub fn throttle_delay_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(delay) = text(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)) {
        return Some(delay);
    }
    ["ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"]
        .into_iter()
        .find_map(|name| text(name).and_then(|v| parse_reset(v, now)))
        .or_else(|| {
            text("ratelimit")?
                .split([',', ';'])
                .filter_map(|part| part.split_once('='))
                .find(|(k, _)| matches!(k.trim(), "reset" | "t"))
                .and_then(|(_, v)| parse_reset(v.trim(), now))
        })
}

/// A reset header: delta seconds, a Unix time in seconds or milliseconds, or an HTTP-date.
pub fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let Ok(n) = value.parse::<u64>() else {
        return parse_retry_after(value, now);
    };
    let delay = if n >= EPOCH_MILLIS {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(n);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    } else if n >= EPOCH_SECONDS {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(n);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    } else {
        Duration::from_secs(n)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        let case =
            |v: &str, want: Option<Duration>| assert_eq!(parse_retry_after(v, now), want, "{v}");
        case("3", Some(Duration::from_secs(3)));
        case("0", Some(Duration::ZERO));
        case("1.5", Some(Duration::from_millis(1500)));
        case(&date, Some(Duration::from_secs(7)));
        case(
            &httpdate::fmt_http_date(now - Duration::from_secs(60)),
            Some(Duration::ZERO),
        );
        case("99999", Some(MAX_RETRY_AFTER));
        case("soon", None);
        case("-1", None);
    }

    #[test]
    fn throttle_delay_reads_retry_after_then_reset_headers() {
        use http::header::HeaderValue;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let case = |headers: &[(&'static str, &str)], want: Option<Duration>| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(
                    *name,
                    HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
                );
            }
            assert_eq!(throttle_delay_at(&map, now), want, "{headers:?}");
        };
        let secs = |n: u64| Some(Duration::from_secs(n));
        case(&[], None);
        case(&[("retry-after", "3")], secs(3));
        case(
            &[("retry-after", "3"), ("x-ratelimit-reset", "1700000009")],
            secs(3),
        );
        case(
            &[("retry-after", "soon"), ("x-ratelimit-reset", "5")],
            secs(5),
        );
        case(&[("x-ratelimit-reset", "1700000009")], secs(9));
        case(
            &[("x-ratelimit-reset", "1700000009500")],
            Some(Duration::from_millis(9500)),
        );
        case(&[("x-ratelimit-reset", "1699999000")], secs(0));
        case(&[("ratelimit-reset", "7")], secs(7));
        case(&[("x-rate-limit-reset", "2")], secs(2));
        case(&[("ratelimit", "limit=100, remaining=0, reset=4")], secs(4));
        case(&[("ratelimit", "\"default\";r=0;t=6")], secs(6));
        case(
            &[("x-ratelimit-reset", "1.5")],
            Some(Duration::from_millis(1500)),
        );
        case(&[("x-ratelimit-reset", "99999")], Some(MAX_RETRY_AFTER));
        case(&[("x-ratelimit-reset", "later")], None);
        case(&[("x-ratelimit-remaining", "0")], None);
    }
}

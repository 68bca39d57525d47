//! Parsing of `forget sim`'s flag values and the files they name.

use std::path::Path;
use std::time::Duration;

use crate::Fault;
use crate::outreach;

/// `--retry-after`'s value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfterArg {
    /// A fixed delay in seconds.
    Seconds(u64),
    /// The limiter's honest delay at each refusal.
    Auto,
}

pub(super) fn parse_retry_after(s: &str) -> Result<RetryAfterArg, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("auto") {
        return Ok(RetryAfterArg::Auto);
    }
    s.parse()
        .map(RetryAfterArg::Seconds)
        .map_err(|_| format!("{s:?} is neither a number of seconds nor auto"))
}

/// `--rate-schedule`'s value: from each time after the start, the limit is the rate.
#[derive(Clone, Debug, PartialEq)]
pub struct RateSchedule(pub Vec<(Duration, f64)>);

/// `T:N[,T:N...]`: from T seconds after the start, the limit is N; T in increasing order.
pub(super) fn parse_schedule(s: &str) -> Result<RateSchedule, String> {
    let mut schedule: Vec<(Duration, f64)> = Vec::new();
    for entry in s.split(',') {
        let (at, rate) = entry
            .split_once(':')
            .ok_or_else(|| format!("expected T:N, got {entry:?}"))?;
        let at = at
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
            .ok_or_else(|| format!("{at:?} is not a time in seconds"))?;
        let rate = parse_rate(rate)?;
        if schedule.last().is_some_and(|&(before, _)| before >= at) {
            return Err(format!(
                "the times must increase: {} s comes after {} s",
                at.as_secs_f64(),
                schedule.last().map_or(0.0, |(t, _)| t.as_secs_f64())
            ));
        }
        schedule.push((at, rate));
    }
    Ok(RateSchedule(schedule))
}

/// Reads a JSON array from `path`.
pub(super) fn load_array(flag: &str, path: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("{flag} {}: not a JSON array: {e}", path.display()))
}

pub(super) fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    check_rate(rate)
}

pub(super) fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err("the rate must be a positive number".to_owned())
    }
}

pub(super) fn parse_fault(s: &str) -> Result<(Fault, f64), String> {
    let (kind, prob) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=PROB, got {s:?}"))?;
    let fault: Fault = kind.parse()?;
    let prob: f64 = prob
        .trim()
        .parse()
        .map_err(|_| format!("probability {prob:?} is not a number"))?;
    if !(0.0..=1.0).contains(&prob) {
        return Err(format!("probability {prob} is not between 0 and 1"));
    }
    Ok((fault, prob))
}

/// Splits `[RESOURCE=]VALUE`; RESOURCE defaults to callPurposes. A `=` after a path
/// separator belongs to a file name.
pub(super) fn resource_spec(spec: &str) -> (String, &str) {
    match spec.split_once('=') {
        Some((name, value)) if !name.is_empty() && !name.contains(['/', '\\']) => {
            (name.trim().to_owned(), value)
        }
        _ => (outreach::DEFAULT_RESOURCE.to_owned(), spec),
    }
}

/// Parses a `[NAME=]FILE` spec and reads the keys of FILE: one key per line,
/// trimmed; blank lines and lines starting with `#` are skipped. NAME
/// defaults to `customers`.
pub fn load_profiles(spec: &str) -> std::io::Result<(String, Vec<String>)> {
    let (name, file) = match spec.split_once('=') {
        // A '=' inside a path (after a separator) is part of the file name.
        Some((name, file)) if !name.is_empty() && !name.contains(['/', '\\']) => {
            (name.to_owned(), file)
        }
        _ => ("customers".to_owned(), spec),
    };
    let text = std::fs::read_to_string(Path::new(file))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    Ok((name, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        assert_eq!(parse_fault("500=0.05"), Ok((Fault::Http500, 0.05)));
        assert_eq!(parse_fault("drop=1"), Ok((Fault::Drop, 1.0)));
        assert!(parse_fault("drop").is_err());
        assert!(parse_fault("drop=2").is_err());
        assert!(parse_fault("nope=0.1").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("inf").is_err());
    }

    #[test]
    fn schedules() {
        let secs = Duration::from_secs;
        assert_eq!(
            parse_schedule("0:200, 20:100,40.5:200").map(|s| s.0),
            Ok(vec![
                (secs(0), 200.0),
                (secs(20), 100.0),
                (Duration::from_millis(40_500), 200.0)
            ])
        );
        for bad in ["", "10", "10:0", "x:5", "-1:5", "20:100,10:50", "5:1,5:2"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_values() {
        assert_eq!(parse_retry_after("7"), Ok(RetryAfterArg::Seconds(7)));
        assert_eq!(parse_retry_after(" AUTO "), Ok(RetryAfterArg::Auto));
        assert!(parse_retry_after("-1").is_err());
    }
}

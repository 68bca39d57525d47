//! What happened when, counted in bins of time by SQL (`forget status --format html` draws
//! them): requests sent and ended per minute, hour, day or week, and each run's calls and
//! 429s per second or more. Every figure is an aggregate: a ledger of a million attempts is
//! scanned, never held.

use super::Ledger;
use crate::error::Result;

/// Seconds from the Julian day number SQLite's `julianday()` counts to the Unix epoch.
const UNIX_EPOCH_JD: f64 = 2_440_587.5;

/// Bin widths for the requests over time, in seconds: a minute, an hour, a day, a week.
pub const ACTIVITY_WIDTHS: &[i64] = &[60, 3600, 86_400, 7 * 86_400];
/// Bins at most in the requests-over-time chart.
pub const ACTIVITY_BINS: usize = 90;
/// Bin widths for a run's calls, in seconds: from a second to a day.
pub const RUN_WIDTHS: &[i64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400,
];
/// Bins at most in a run's chart.
pub const RUN_BINS: usize = 120;

/// Consecutive bins of equal width: bin `i` covers `[start + i·width, start + (i+1)·width)`
/// seconds since the Unix epoch (UTC). Bins start on a multiple of their width, so an hour
/// starts on the hour and a day at midnight UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bins {
    pub start: i64,
    pub width: i64,
    pub count: usize,
}

impl Bins {
    /// The bins of the narrowest of `widths` that covers `[first, last]` (seconds) in at most
    /// `max` bins; past the widest, whole multiples of it.
    pub fn covering(first: f64, last: f64, widths: &[i64], max: usize) -> Bins {
        let max = max.max(1);
        let last = last.max(first);
        let fit = |width: i64| {
            let from = (first / width as f64).floor() as i64;
            let to = (last / width as f64).floor() as i64;
            Bins {
                start: from * width,
                width,
                count: (to - from + 1).max(1) as usize,
            }
        };
        if let Some(bins) = widths.iter().map(|&w| fit(w)).find(|b| b.count <= max) {
            return bins;
        }
        let widest = widths.last().copied().unwrap_or(86_400).max(1);
        let span = (last - first).max(0.0);
        let times = (span / (widest as f64 * (max as f64 - 1.0).max(1.0))).ceil() as i64;
        fit(widest * times.max(1))
    }

    /// Where bin `i` starts, seconds since the Unix epoch.
    pub fn start_of(&self, i: usize) -> i64 {
        self.start + i as i64 * self.width
    }

    /// SQL for the index of the bin holding the RFC 3339 time `column`, given its width as
    /// `width` and its first bin's number as `first` (both SQL expressions, integers): NULL
    /// for a time SQLite cannot read. Counted in whole milliseconds (SQLite keeps times to
    /// the millisecond; a Julian day in a double is not exact, and 10:00:00 must not fall in
    /// the bin of 09:59).
    fn index_sql(column: &str, width: &str, first: &str) -> String {
        format!("{} / ({width} * 1000) - {first}", millis_sql(column))
    }

    /// Add `n` at bin `index` (as SQL computed it) of `values`: a time rounded outside the
    /// bins counts in the nearest one, so nothing goes uncounted.
    fn add(&self, values: &mut [u64], index: Option<i64>, n: u64) {
        if let Some(i) = index
            && !values.is_empty()
        {
            let i = i.clamp(0, values.len() as i64 - 1) as usize;
            values[i] += n;
        }
    }
}

/// Requests over time: per bin, keys sent for the first time, and keys whose answer ended
/// them (erased, not found) or left them needing attention (rejected, failed), by the time of
/// that answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub bins: Bins,
    pub sent: Vec<u64>,
    pub erased: Vec<u64>,
    pub not_found: Vec<u64>,
    pub attention: Vec<u64>,
}

/// One run's calls over time: per bin, calls made and calls answered 429 (or read as a
/// throttle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCalls {
    pub run_id: i64,
    pub calls: u64,
    pub throttled: u64,
    pub bins: Bins,
    pub per_bin: Vec<u64>,
    pub throttled_per_bin: Vec<u64>,
}

/// SQL for the RFC 3339 time `column` in whole milliseconds since the Unix epoch.
fn millis_sql(column: &str) -> String {
    format!("CAST(round((julianday({column}) - {UNIX_EPOCH_JD}) * 86400000.0) AS INTEGER)")
}

// The first and last times are found by comparing text, as stored (RFC 3339, UTC): cheaper
// than reading every time, and exact but within one second (`…:57Z` sorts after
// `…:57.5Z`), which the bins, a second or wider, absorb.

/// Milliseconds since the Unix epoch, as seconds.
fn seconds(millis: Option<i64>) -> Option<f64> {
    millis.map(|ms| ms as f64 / 1000.0)
}

/// A call the server refused for its rate: a 429, or an answer the connector read as one.
const THROTTLED: &str = "(a.http_status = 429 OR a.verdict = 'throttled')";

/// When a unit's fate was answered: its end, else its last attempt.
const ANSWERED_AT: &str = "coalesce(finished_at, last_attempt_at)";

impl Ledger {
    /// Requests over time (`None`: nothing was ever sent or answered). Two passes over the
    /// units: the first and last time (compared as text, read as times twice), then one
    /// grouping by both bins and the outcome.
    pub fn activity(&self) -> Result<Option<Activity>> {
        let (first, last): (Option<i64>, Option<i64>) = self.conn.query_row(
            &format!(
                "SELECT {}, {} FROM (
                   SELECT min(coalesce(first_attempt_at, {ANSWERED_AT})) AS lo,
                          max(coalesce({ANSWERED_AT}, first_attempt_at)) AS hi
                   FROM units WHERE first_attempt_at IS NOT NULL OR {ANSWERED_AT} IS NOT NULL)",
                millis_sql("lo"),
                millis_sql("hi"),
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (Some(first), Some(last)) = (seconds(first), seconds(last)) else {
            return Ok(None);
        };
        let bins = Bins::covering(first, last, ACTIVITY_WIDTHS, ACTIVITY_BINS);
        let first_bin = bins.start / bins.width;
        let sent_bin = Bins::index_sql("first_attempt_at", "?1", "?2");
        let answer_bin = Bins::index_sql(ANSWERED_AT, "?1", "?2");
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {sent_bin}, {answer_bin}, outcome, count(*) FROM units
             WHERE first_attempt_at IS NOT NULL OR {ANSWERED_AT} IS NOT NULL GROUP BY 1, 2, 3"
        ))?;
        let mut rows = stmt.query(rusqlite::params![bins.width, first_bin])?;
        let zeros = vec![0; bins.count];
        let mut activity = Activity {
            bins,
            sent: zeros.clone(),
            erased: zeros.clone(),
            not_found: zeros.clone(),
            attention: zeros,
        };
        while let Some(row) = rows.next()? {
            let (sent, answered): (Option<i64>, Option<i64>) = (row.get(0)?, row.get(1)?);
            let outcome: String = row.get(2)?;
            let n = row.get::<_, i64>(3)? as u64;
            bins.add(&mut activity.sent, sent, n);
            let series = match outcome.as_str() {
                "pending" => continue,
                "deleted" => &mut activity.erased,
                "not_found" => &mut activity.not_found,
                _ => &mut activity.attention,
            };
            bins.add(series, answered, n);
        }
        Ok(Some(activity))
    }

    /// Each run's calls and 429s over time, in runs' order (runs that made no call are left
    /// out). Two passes over the attempts: each run's first and last call (compared as text,
    /// read as times once), then the bins.
    pub fn run_calls(&self) -> Result<Vec<RunCalls>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT run_id, {}, {}, n, throttled FROM (
               SELECT a.run_id, min(a.at) AS lo, max(a.at) AS hi, count(*) AS n,
                      coalesce(sum({THROTTLED}), 0) AS throttled
               FROM attempts a GROUP BY a.run_id) ORDER BY run_id",
            millis_sql("lo"),
            millis_sql("hi"),
        ))?;
        let mut runs: Vec<RunCalls> = stmt
            .query_map([], |r| {
                let first = seconds(r.get(1)?).unwrap_or(0.0);
                let last = seconds(r.get(2)?).unwrap_or(first);
                let bins = Bins::covering(first, last, RUN_WIDTHS, RUN_BINS);
                Ok(RunCalls {
                    run_id: r.get(0)?,
                    calls: r.get::<_, i64>(3)? as u64,
                    throttled: r.get::<_, i64>(4)? as u64,
                    bins,
                    per_bin: vec![0; bins.count],
                    throttled_per_bin: vec![0; bins.count],
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if runs.is_empty() {
            return Ok(runs);
        }
        // Each run's width and first bin, as a JSON array the query joins on.
        let shapes = serde_json::to_string(
            &runs
                .iter()
                .map(|r| [r.run_id, r.bins.width, r.bins.start / r.bins.width])
                .collect::<Vec<_>>(),
        )
        .map_err(|e| crate::error::Error::internal(format!("run bins: {e}")))?;
        let index = Bins::index_sql("a.at", "s.width", "s.first_bin");
        let mut stmt = self.conn.prepare(&format!(
            "WITH s(run_id, width, first_bin) AS (
               SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))
             SELECT a.run_id, {index}, count(*), coalesce(sum({THROTTLED}), 0)
             FROM attempts a JOIN s ON s.run_id = a.run_id GROUP BY 1, 2"
        ))?;
        let mut rows = stmt.query([shapes])?;
        while let Some(row) = rows.next()? {
            let run_id: i64 = row.get(0)?;
            let index: Option<i64> = row.get(1)?;
            let Some(run) = runs.iter_mut().find(|r| r.run_id == run_id) else {
                continue;
            };
            let bins = run.bins;
            bins.add(&mut run.per_bin, index, row.get::<_, i64>(2)? as u64);
            bins.add(
                &mut run.throttled_per_bin,
                index,
                row.get::<_, i64>(3)? as u64,
            );
        }
        Ok(runs)
    }

    /// Per input file, its request rows by the outcome of the key each asked for
    /// (`Counts::total` the request rows; duplicate and invalid rows are in `FileFact`), in
    /// file order: (file id, path, counts).
    pub fn outcomes_by_file(&self) -> Result<Vec<(i64, String, super::Counts)>> {
        let mut files: Vec<(i64, String, super::Counts)> = self
            .conn
            .prepare("SELECT id, path FROM files ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, super::Counts::default())))?
            .collect::<rusqlite::Result<_>>()?;
        // A request row is kept with its unit (a bulk load) or in `row_records`.
        let mut stmt = self.conn.prepare(
            "SELECT row_file_id, outcome, count(*) FROM units
               WHERE row_file_id IS NOT NULL GROUP BY 1, 2
             UNION ALL
             SELECT r.file_id, u.outcome, count(*) FROM row_records r JOIN units u ON u.id = r.unit_id
               WHERE r.kind = 'request' GROUP BY 1, 2",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let file_id: i64 = row.get(0)?;
            let outcome: String = row.get(1)?;
            let n = row.get::<_, i64>(2)? as u64;
            if let Some((_, _, counts)) = files.iter_mut().find(|f| f.0 == file_id) {
                counts.add_outcome(&outcome, n);
            }
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_the_narrowest_that_fit_and_start_on_their_width() {
        // 90 seconds: per second would be 91 bins ≤ 120.
        let b = Bins::covering(1_000.5, 1_090.2, RUN_WIDTHS, RUN_BINS);
        assert_eq!((b.start, b.width, b.count), (1_000, 1, 91));
        // An hour of calls: 30-second bins (120 of them; 15 s would be 240).
        let b = Bins::covering(3_600.0, 7_199.0, RUN_WIDTHS, RUN_BINS);
        assert_eq!((b.start, b.width, b.count), (3_600, 30, 120));
        // Three days of requests: per hour, from midnight.
        let day = 86_400.0;
        let b = Bins::covering(day + 5.0, 4.0 * day - 1.0, ACTIVITY_WIDTHS, ACTIVITY_BINS);
        assert_eq!((b.start, b.width, b.count), (86_400, 3600, 72));
        // Past the widest width: whole weeks, still within the limit.
        let week = 7.0 * day;
        let b = Bins::covering(0.0, 400.0 * week, ACTIVITY_WIDTHS, ACTIVITY_BINS);
        assert!(
            b.count <= ACTIVITY_BINS && b.width % (7 * 86_400) == 0,
            "{b:?}"
        );
        // One instant: one bin.
        assert_eq!(Bins::covering(5.0, 5.0, RUN_WIDTHS, RUN_BINS).count, 1);
    }

    /// A ledger with one run: `calls` calls a second for 100 seconds from 2026-11-30 10:00:00
    /// UTC, every tenth one answered 429; each key erased by its first call, and one found
    /// rejected a day later.
    fn ledger_with_calls(dir: &std::path::Path, per_second: i64) -> Result<Ledger> {
        let ledger = Ledger::open(&dir.join("l.db"))?;
        let c = &ledger.conn;
        c.execute_batch(
            "INSERT INTO runs (id, started_at, connector, tool_version)
               VALUES (1, '2026-11-30T10:00:00Z', 'webex', 'test');
             INSERT INTO files (id, connector, path, sha256, profile_default, key_column, rows, added_at)
               VALUES (1, 'webex', 'a.csv', 'x', '', 'key', 0, '2026-11-30T09:59:00Z');",
        )?;
        let mut unit = c.prepare(
            "INSERT INTO units (id, connector, scope, key_hash, key_masked, outcome,
                    first_attempt_at, last_attempt_at, finished_at, row_file_id, row_line)
                 VALUES (?1, 'webex', '', randomblob(32), 'k***', ?2, ?3, ?3, ?3, 1, ?1)",
        )?;
        let mut attempt = c.prepare(
            "INSERT INTO attempts (unit_id, run_id, at, http_status, verdict, latency_ms)
                 VALUES (?1, 1, ?2, ?3, ?4, 1)",
        )?;
        let mut id = 0;
        for second in 0..100 {
            for k in 0..per_second {
                id += 1;
                let at = format!(
                    "2026-11-30T10:{:02}:{:02}.{k:03}000000Z",
                    second / 60,
                    second % 60
                );
                let throttled = id % 10 == 0;
                let (status, verdict) = if throttled {
                    (429, "throttled")
                } else {
                    (200, "deleted")
                };
                let outcome = if throttled { "pending" } else { "deleted" };
                unit.execute(rusqlite::params![id, outcome, at])?;
                attempt.execute(rusqlite::params![id, at, status, verdict])?;
                if throttled {
                    c.execute("UPDATE units SET finished_at = NULL WHERE id = ?1", [id])?;
                }
            }
        }
        id += 1;
        unit.execute(rusqlite::params![id, "rejected", "2026-12-01T10:00:00Z"])?;
        drop((unit, attempt));
        Ok(ledger)
    }

    fn tempdir() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| crate::error::Error::io("tempdir", e))
    }

    #[test]
    fn a_runs_calls_and_429s_are_counted_per_bin() -> Result<()> {
        let dir = tempdir()?;
        let ledger = ledger_with_calls(dir.path(), 10)?;
        let runs = ledger.run_calls()?;
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!((run.calls, run.throttled), (1000, 100));
        // 99.9 seconds of calls: one bin a second, from 10:00:00.
        assert_eq!(run.bins.width, 1);
        assert_eq!(run.bins.count, 100);
        assert_eq!(run.bins.start, 1_796_032_800);
        assert!(run.per_bin.iter().all(|&n| n == 10), "{:?}", run.per_bin);
        assert!(run.throttled_per_bin.iter().all(|&n| n == 1));
        Ok(())
    }

    #[test]
    fn requests_over_time_by_when_they_were_sent_and_answered() -> Result<()> {
        let dir = tempdir()?;
        let ledger = ledger_with_calls(dir.path(), 3)?;
        let Some(a) = ledger.activity()? else {
            panic!("no activity");
        };
        // From 10:00 on the 30th to 10:00 on the 1st: per hour.
        assert_eq!(a.bins.width, 3600);
        assert_eq!(a.bins.count, 25);
        assert_eq!(a.sent.iter().sum::<u64>(), 301);
        assert_eq!(
            a.sent[0], 300,
            "the rejected unit's one call is a day later"
        );
        assert_eq!(a.erased[0], 270);
        assert_eq!(a.not_found.iter().sum::<u64>(), 0);
        assert_eq!(a.attention[24], 1, "rejected, by the time of its answer");
        let files = ledger.outcomes_by_file()?;
        assert_eq!(files.len(), 1);
        let c = &files[0].2;
        assert_eq!(
            (c.total, c.deleted, c.pending, c.rejected),
            (301, 270, 30, 1)
        );
        Ok(())
    }

    #[test]
    fn a_ledger_that_never_sent_has_no_timeline() -> Result<()> {
        let dir = tempdir()?;
        let ledger = Ledger::open(&dir.path().join("l.db"))?;
        assert_eq!(ledger.activity()?, None);
        assert!(ledger.run_calls()?.is_empty());
        Ok(())
    }

    #[test]
    fn a_time_outside_the_bins_counts_in_the_nearest() {
        let b = Bins {
            start: 0,
            width: 10,
            count: 3,
        };
        let mut v = vec![0; 3];
        b.add(&mut v, Some(-4), 1);
        b.add(&mut v, Some(1), 2);
        b.add(&mut v, Some(9), 3);
        b.add(&mut v, None, 100);
        assert_eq!(v, [1, 2, 3]);
    }
}

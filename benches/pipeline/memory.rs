//! Recording input and holding memory flat: ingest speed, peak RSS, and resume.

use std::path::Path;

use crate::figures::fmt_int;
use crate::process::{self, Usage};
use crate::runs::Check;
use crate::sim::SimProc;
use crate::{Ctx, R, Verdict, data};

const MIB: f64 = 1024.0;

/// Rows per second of CSV into the ledger (`--dry-run`).
pub fn ingest(cx: &mut Ctx) -> R<()> {
    let n = cx.scaled(1_000_000);
    let load = process::load();
    let (u, _, _) = cx.ingest_rows(n)?;
    let rps = n as f64 / u.wall.as_secs_f64();
    cx.row(
        "ingest",
        "≥ 500,000 rows/s",
        format!(
            "{} rows/s ({} rows in {:.2} s, --dry-run; {:.2} s user + {:.2} s sys)",
            fmt_int(rps),
            fmt_int(n as f64),
            u.wall.as_secs_f64(),
            u.user,
            u.sys
        ),
        Verdict::of(rps >= 500_000.0),
        load,
    );
    Ok(())
}

/// A dry-run ingest of `n` realistic rows (see [`data::realistic_csv`]) into a fresh
/// ledger, checked.
fn ingest_realistic(cx: &Ctx, n: u64) -> R<Usage> {
    let csv = data::realistic_csv(&cx.dir, n)?;
    let db = data::fresh_ledger(&cx.dir, "rows")?;
    let usage = cx.dry_run(&csv, &db, &data::REALISTIC_FLAGS)?;
    let status = cx.status(&db)?;
    if usage.code() != 0 || status.total != n || status.pending != n {
        return Err(format!(
            "dry run of {n} realistic rows: exit {}, {status:?} (see {})",
            usage.code(),
            cx.log.display()
        )
        .into());
    }
    Ok(usage)
}

/// A full run (ingest and send, unthrottled) of `csv`'s `n` keys into a fresh ledger,
/// checked.
fn send_all(cx: &Ctx, csv: &Path, n: u64, db: &str, extra: &[&str]) -> R<(Usage, Check)> {
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &[])?;
    let db = data::fresh_ledger(&cx.dir, db)?;
    let u = cx.send(csv, &sim.url, &db, "unlimited", extra)?;
    let check = Check::of(n, &u, &cx.status(&db)?, &sim.stats()?);
    Ok((u, check))
}

/// The largest of `peaks` over the smallest.
fn flatness(peaks: &[f64]) -> f64 {
    peaks.iter().cloned().fold(f64::MIN, f64::max) / peaks.iter().cloned().fold(f64::MAX, f64::min)
}

const TARGET: &str = "≤ 64 MiB, flat in input size";

/// A row of the table for an ingest's peak RSS.
fn ingest_row(cx: &mut Ctx, what: &str, n: u64, u: &Usage, load: f64) -> f64 {
    let mib = u.peak_rss_kib as f64 / MIB;
    cx.row(
        format!("memory, ingest {} {what}", fmt_int(n as f64)),
        TARGET,
        format!(
            "{mib:.1} MiB peak RSS (--dry-run, {:.1} s, {} rows/s)",
            u.wall.as_secs_f64(),
            fmt_int(n as f64 / u.wall.as_secs_f64())
        ),
        Verdict::of(mib <= 64.0),
        load,
    );
    mib
}

/// A row of the table for a send run's peak RSS, with the ingests' flatness from 1M to 10M.
fn send_row(cx: &mut Ctx, what: &str, n: u64, (u, check): (Usage, Check), flat: f64, load: f64) {
    let mib = u.peak_rss_kib as f64 / MIB;
    cx.row(
        format!("memory, send {} {what}", fmt_int(n as f64)),
        TARGET,
        format!(
            "{mib:.1} MiB peak RSS (ingest + send, {:.1} s, {}); ingest peaks 10M/1M = {flat:.2}",
            u.wall.as_secs_f64(),
            check.summary,
        ),
        Verdict::of(check.ok && mib <= 64.0 && flat <= 1.25),
        load,
    );
}

/// Peak RSS of ingests (`--dry-run`) and of send runs, for files of keys alone (1M and 10M
/// rows; sending 1M) and for realistic rows (200k, 1M and 10M; sending 1M).
pub fn memory(cx: &mut Ctx) -> R<()> {
    let (m1, m10) = (cx.scaled(1_000_000), cx.scaled(10_000_000));
    let mut peaks = Vec::new();
    for n in [m1, m10] {
        let load = process::load();
        let (u, _, _) = cx.ingest_rows(n)?;
        peaks.push(ingest_row(cx, "rows", n, &u, load));
    }
    let csv = data::csv(&cx.dir, m1)?;
    let load = process::load();
    let sent = send_all(cx, &csv, m1, "memory-send", &[])?;
    send_row(cx, "keys", m1, sent, flatness(&peaks), load);

    let mut peaks = Vec::new();
    for n in [cx.scaled(200_000), m1, m10] {
        let load = process::load();
        let u = ingest_realistic(cx, n)?;
        let mib = ingest_row(cx, "realistic rows", n, &u, load);
        if n >= m1 {
            peaks.push(mib);
        }
    }
    let csv = data::realistic_csv(&cx.dir, m1)?;
    let load = process::load();
    let sent = send_all(cx, &csv, m1, "memory-send-rows", &data::REALISTIC_FLAGS)?;
    send_row(cx, "realistic rows", m1, sent, flatness(&peaks), load);
    Ok(())
}

/// A run of 1M keys interrupted half-way by SIGINT (as Ctrl-C), then resumed to its end:
/// the ledger a user has after a real interruption. A re-run over it must send nothing,
/// quickly.
pub fn resume(cx: &mut Ctx) -> R<()> {
    let n = cx.scaled(1_000_000);
    let csv = data::csv(&cx.dir, n)?;
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &[])?;
    let db = data::fresh_ledger(&cx.dir, "resume")?;
    let load = process::load();
    let stopped = cx.send_interrupted(&csv, &sim.url, &db, || {
        sim.stat("deleted").is_ok_and(|d| d >= n / 2)
    })?;
    let at_stop = cx.status(&db)?;
    let sent_before = sim.stat("requests")?;
    let resumed = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
    let sent_resuming = sim.stat("requests")? - sent_before;
    let check = Check::of(n, &resumed, &cx.status(&db)?, &sim.stats()?);
    let stopped_ok = stopped.code() == 130
        && at_stop.total == n
        && at_stop.deleted + at_stop.pending == n
        && at_stop.pending > 0
        && at_stop.failed == 0;
    cx.row(
        "resume after Ctrl-C",
        "the interrupted run exits 130 with every answer recorded; the resumed run sends what was left: every key deleted exactly once",
        format!(
            "SIGINT half-way: exit {} after {:.1} s, the ledger {} deleted and {} pending; resumed: {} requests, {:.1} s; {}",
            stopped.code(),
            stopped.wall.as_secs_f64(),
            fmt_int(at_stop.deleted as f64),
            fmt_int(at_stop.pending as f64),
            fmt_int(sent_resuming as f64),
            resumed.wall.as_secs_f64(),
            check.summary,
        ),
        Verdict::of(stopped_ok && check.ok),
        load,
    );
    if !check.ok {
        return Ok(());
    }
    let before = sim.stat("requests")?;
    let load = process::load();
    let u = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
    let requests = sim.stat("requests")? - before;
    let wall = u.wall.as_secs_f64();
    let status = cx.status(&db)?;
    let finished = status.deleted == n && status.total == n && status.failed == 0;
    cx.row(
        "resume",
        "≤ 2 s to exit 0 having sent nothing",
        format!(
            "{wall:.2} s ({:.2} s CPU), exit {}, {requests} requests sent ({} keys deleted by the two runs above in the ledger)",
            u.cpu(),
            u.code(),
            fmt_int(status.deleted as f64)
        ),
        Verdict::of(wall <= 2.0 && u.code() == 0 && requests == 0 && finished),
        load,
    );
    Ok(())
}

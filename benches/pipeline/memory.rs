//! Recording input and holding memory flat: ingest speed, peak RSS, and resume.

use std::path::Path;

use crate::figures::fmt_int;
use crate::process::{self, Usage};
use crate::runs::Check;
use crate::sim::SimProc;
use crate::{Ctx, Finished, R, Verdict, data};

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
/// checked; with the simulator it ran against (a ledger is bound to its tenant's URL).
fn send_all(cx: &Ctx, csv: &Path, n: u64, db: &str, extra: &[&str]) -> R<(Usage, Check, Finished)> {
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &[])?;
    let db = data::fresh_ledger(&cx.dir, db)?;
    let u = cx.send(csv, &sim.url, &db, "unlimited", extra)?;
    let check = Check::of(n, &u, &cx.status(&db)?, &sim.stats()?);
    Ok((
        u,
        check,
        Finished {
            n,
            db,
            csv: csv.to_owned(),
            sim,
        },
    ))
}

/// Peak RSS for 1M- and 10M-row inputs: ingest (`--dry-run`) and a send run of 1M keys,
/// for files of keys alone and for realistic rows.
pub fn memory(cx: &mut Ctx) -> R<()> {
    let target = "≤ 64 MiB, flat in input size";
    let sizes = [cx.scaled(1_000_000), cx.scaled(10_000_000)];
    let flatness = |peaks: &[f64]| {
        peaks.iter().cloned().fold(f64::MIN, f64::max)
            / peaks.iter().cloned().fold(f64::MAX, f64::min)
    };
    let ratio = format!(
        "ingest peaks {}/{}",
        fmt_int(sizes[1] as f64),
        fmt_int(sizes[0] as f64)
    );

    let mut peaks = Vec::new();
    for n in sizes {
        let load = process::load();
        let (u, _, _) = cx.ingest_rows(n)?;
        let mib = u.peak_rss_kib as f64 / MIB;
        peaks.push(mib);
        cx.row(
            format!("memory, ingest {} rows", fmt_int(n as f64)),
            target,
            format!(
                "{mib:.1} MiB peak RSS (--dry-run, {:.1} s, {} rows/s)",
                u.wall.as_secs_f64(),
                fmt_int(n as f64 / u.wall.as_secs_f64())
            ),
            Verdict::of(mib <= 64.0),
            load,
        );
    }
    let n = sizes[0];
    let csv = data::csv(&cx.dir, n)?;
    let load = process::load();
    let (u, check, finished) = send_all(cx, &csv, n, "memory-send", &[])?;
    let mib = u.peak_rss_kib as f64 / MIB;
    let flat = flatness(&peaks);
    cx.row(
        format!("memory, send {} keys", fmt_int(n as f64)),
        target,
        format!(
            "{mib:.1} MiB peak RSS (ingest + send, {:.1} s, {}); {ratio} = {flat:.2}",
            u.wall.as_secs_f64(),
            check.summary,
        ),
        Verdict::of(check.ok && mib <= 64.0 && flat <= 1.25),
        load,
    );
    if check.ok {
        cx.finished = Some(finished);
    }

    let mut peaks = Vec::new();
    for n in sizes {
        let load = process::load();
        let u = ingest_realistic(cx, n)?;
        let mib = u.peak_rss_kib as f64 / MIB;
        peaks.push(mib);
        cx.row(
            format!("memory, ingest {} realistic rows", fmt_int(n as f64)),
            target,
            format!(
                "{mib:.1} MiB peak RSS (--dry-run, {:.1} s, {} rows/s)",
                u.wall.as_secs_f64(),
                fmt_int(n as f64 / u.wall.as_secs_f64())
            ),
            Verdict::of(mib <= 64.0),
            load,
        );
    }
    let n = sizes[0];
    let csv = data::realistic_csv(&cx.dir, n)?;
    let load = process::load();
    let (u, check, _) = send_all(cx, &csv, n, "memory-send-rows", &data::REALISTIC_FLAGS)?;
    let mib = u.peak_rss_kib as f64 / MIB;
    let flat = flatness(&peaks);
    cx.row(
        format!("memory, send {} realistic rows", fmt_int(n as f64)),
        target,
        format!(
            "{mib:.1} MiB peak RSS (ingest + send, {:.1} s, {}); {ratio} = {flat:.2}",
            u.wall.as_secs_f64(),
            check.summary,
        ),
        Verdict::of(check.ok && mib <= 64.0 && flat <= 1.25),
        load,
    );
    Ok(())
}

/// A re-run over a ledger whose 1M keys a finished run deleted must send nothing, quickly.
pub fn resume(cx: &mut Ctx) -> R<()> {
    let n = cx.scaled(1_000_000);
    let done = match cx.finished.take() {
        Some(done) if done.n == n => done,
        _ => {
            let csv = data::csv(&cx.dir, n)?;
            let (u, check, done) = send_all(cx, &csv, n, "memory-send", &[])?;
            if !check.ok {
                return Err(format!(
                    "the run resume starts from: {} ({:.1} s)",
                    check.summary,
                    u.wall.as_secs_f64()
                )
                .into());
            }
            done
        }
    };
    // The simulator of the finished run: its request count shows anything sent again.
    let before = done.sim.stat("requests")?;
    let load = process::load();
    let u = cx.send(&done.csv, &done.sim.url, &done.db, "unlimited", &[])?;
    let requests = done.sim.stat("requests")? - before;
    let db = done.db;
    let wall = u.wall.as_secs_f64();
    let status = cx.status(&db)?;
    let finished = status.deleted == n && status.total == n && status.failed == 0;
    cx.row(
        "resume",
        "≤ 2 s to exit 0 having sent nothing",
        format!(
            "{wall:.2} s, exit {}, {requests} requests sent ({} keys deleted by a finished run in the ledger)",
            u.code(),
            fmt_int(status.deleted as f64)
        ),
        Verdict::of(wall <= 2.0 && u.code() == 0 && requests == 0 && finished),
        load,
    );
    Ok(())
}

//! One function per figure of the table. Each checks correctness before it reports speed:
//! a fast run that lost or doubled a key is not a result.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::data;
use crate::process::{self, Usage};
use crate::runs::Check;
use crate::sim::{SimProc, TOKEN};
use crate::{Ctx, R, Verdict};

/// The times of a ledger's attempts, in seconds since the first. Used for the unthrottled
/// send phase alone, where nothing holds a call between its time stamp and its sending: the
/// throttled figures read the simulator's arrival log instead (see `arrivals`).
struct Attempts(Vec<f64>);

impl Attempts {
    fn read(db: &Path) -> R<Attempts> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("SELECT at FROM attempts ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for at in rows {
            let at =
                time::OffsetDateTime::parse(&at?, &time::format_description::well_known::Rfc3339)?;
            out.push(at.unix_timestamp_nanos() as f64 / 1e9);
        }
        out.sort_by(f64::total_cmp);
        let t0 = out.first().copied().unwrap_or(0.0);
        Ok(Attempts(out.into_iter().map(|t| t - t0).collect()))
    }

    /// Calls per second between the first and the last (n − 1 intervals).
    fn rate(&self) -> f64 {
        let span = self.0.last().copied().unwrap_or(0.0);
        (self.0.len().saturating_sub(1)) as f64 / span.max(1e-9)
    }
}

pub fn fmt_int(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// One unthrottled run of `n` keys into a fresh ledger, checked against the ledger and the
/// simulator's own counts.
struct Unthrottled {
    usage: Usage,
    n: u64,
    check: Check,
    /// The simulator's CPU seconds during the run.
    sim_cpu: f64,
    /// Calls per second of the send phase alone (from the ledger's attempts).
    send_rate: f64,
}

impl Unthrottled {
    fn run(cx: &Ctx, n: u64) -> R<Unthrottled> {
        let csv = data::csv(&cx.dir, n)?;
        let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &[])?;
        let db = data::fresh_ledger(&cx.dir, "throughput")?;
        let sim_cpu = sim.cpu();
        let usage = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
        let sim_cpu = sim.cpu() - sim_cpu;
        let check = Check::of(n, &usage, &cx.status(&db)?, &sim.stats()?);
        Ok(Unthrottled {
            n,
            check,
            sim_cpu,
            send_rate: Attempts::read(&db)?.rate(),
            usage,
        })
    }

    fn kps(&self) -> f64 {
        self.n as f64 / self.usage.wall.as_secs_f64()
    }
}

/// Unthrottled throughput, end to end (200k keys, `--rate unlimited`, ledger on disk), and the
/// CPU it costs (`overhead`).
pub fn throughput(cx: &mut Ctx) -> R<()> {
    let n = cx.scaled(200_000);
    let load = process::load();
    let u = Unthrottled::run(cx, n)?;
    let kps = u.kps();
    cx.forget_kps = Some(kps);
    cx.row(
        "unthrottled throughput",
        "≥ 25,000 keys/s end to end, every outcome committed",
        format!(
            "{} keys/s end to end ({} keys, ingest + send, {:.2} s; {}); send phase alone {} keys/s",
            fmt_int(kps),
            fmt_int(n as f64),
            u.usage.wall.as_secs_f64(),
            u.check.summary,
            fmt_int(u.send_rate),
        ),
        Verdict::of(u.check.ok && kps >= 25_000.0),
        load,
    );
    let ms = u.usage.cpu() / n as f64 * 1e6;
    cx.row(
        "overhead",
        "≤ 40 ms CPU per 1,000 keys",
        format!(
            "{ms:.1} ms per 1,000 keys ({:.2} s user + {:.2} s sys for {} keys, ingest included); the simulator used {:.2} s; {}",
            u.usage.user,
            u.usage.sys,
            fmt_int(n as f64),
            u.sim_cpu,
            u.check.summary,
        ),
        Verdict::of(u.check.ok && ms <= 40.0),
        load,
    );
    Ok(())
}

/// Pairs of (forget's unthrottled run, the load generator's run) the ceiling is judged on:
/// the two runs of a pair are back to back, so a slow spell of the machine weighs on both.
const CEILING_PAIRS: usize = 3;

/// The most requests/s a plain load generator gets from the same simulator, against
/// forget's unthrottled keys/s measured right before it, pair by pair.
pub fn ceiling(cx: &mut Ctx) -> R<()> {
    let load = process::load();
    let target = "forget's unthrottled keys/s ≥ 0.5 × the ceiling";
    let secs = (10.0 * cx.scale).max(3.0).round() as u64;
    let n = cx.scaled(200_000);
    let mut pairs = Vec::with_capacity(CEILING_PAIRS);
    let mut tool = "";
    let mut errors = String::new();
    for _ in 0..CEILING_PAIRS {
        let forget = Unthrottled::run(cx, n)?;
        let Some((name, rps, errs)) = load_generator(cx, secs)? else {
            cx.row(
                "the ceiling",
                target,
                "skipped: neither wrk nor oha is installed (apt-get install wrk, or cargo install oha)",
                Verdict::Skipped,
                load,
            );
            return Ok(());
        };
        tool = name;
        errors = errs;
        pairs.push((forget, rps));
    }
    let correct = pairs.iter().all(|(f, _)| f.check.ok);
    let mut ratios: Vec<f64> = pairs.iter().map(|(f, rps)| f.kps() / rps).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let each = pairs
        .iter()
        .map(|(f, rps)| {
            format!(
                "{} / {} = {:.2}",
                fmt_int(f.kps()),
                fmt_int(*rps),
                f.kps() / rps
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let ok = match pairs.iter().find(|(f, _)| !f.check.ok) {
        None => String::new(),
        Some((f, _)) => format!("; {}", f.check.summary),
    };
    cx.row(
        "the ceiling",
        target,
        format!(
            "median {median:.2} × over {CEILING_PAIRS} pairs of forget's keys/s ({} keys end to end{ok}) / {tool}'s requests/s (2 threads, {} connections, {secs} s{errors}), run back to back: {each}",
            fmt_int(n as f64),
            cx.concurrency,
        ),
        Verdict::of(correct && median >= 0.5),
        load,
    );
    Ok(())
}

/// `wrk` (or `oha`) POSTing a delete to a simulator holding no keys, for `secs`: the
/// generator's name, its requests/s, and its error line if it printed one. `None` when
/// neither is installed.
fn load_generator(cx: &Ctx, secs: u64) -> R<Option<(&'static str, f64, String)>> {
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, 0)?, &[])?;
    let url = format!("{}/campaignapi/resources/v3/delete", sim.url);
    let body = r#"{"key":"+447799999999"}"#;
    let conns = cx.concurrency.to_string();
    let (tool, out) = if let Some(wrk) = which("wrk") {
        let script = cx.dir.join("delete.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.body = '{body}'\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\n"
            ),
        )?;
        let out = Command::new(wrk)
            .args(["-t2", "-c", &conns, "-d", &format!("{secs}s"), "-s"])
            .arg(&script)
            .arg(&url)
            .output()?;
        ("wrk", out)
    } else if let Some(oha) = which("oha") {
        let out = Command::new(oha)
            .args([
                "--no-tui",
                "-z",
                &format!("{secs}s"),
                "-c",
                &conns,
                "-m",
                "POST",
            ])
            .args(["-T", "application/json", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .args(["-d", body, &url])
            .output()?;
        ("oha", out)
    } else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let rps: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("{tool} printed no Requests/sec: {text}"))?;
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(|l| format!("; {}", l.trim()))
        .unwrap_or_default();
    Ok(Some((tool, rps, errors)))
}

/// The Postman CLI with a CSV data file, against the same simulator.
pub fn peer(cx: &mut Ctx) -> R<()> {
    let load = process::load();
    let target = "forget ≥ 100× newman's keys/s at equal correctness";
    let Some(newman) = which("newman") else {
        cx.row(
            "the peer (newman)",
            target,
            "skipped: newman is not installed (npm i -g newman)",
            Verdict::Skipped,
            load,
        );
        return Ok(());
    };
    let n = cx.scaled(2_000).max(100);
    let csv = data::csv(&cx.dir, n)?;
    let profiles = data::profiles(&cx.dir, n)?;
    let collection = cx.dir.join("delete.postman_collection.json");
    let test = "pm.test('deleted', function () { pm.expect(pm.response.json()).to.have.property('transaction-id'); });";
    let json = serde_json::json!({
        "info": {
            "name": "forget-bench",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
        },
        "item": [{
            "name": "delete",
            "request": {
                "method": "POST",
                "header": [
                    {"key": "Content-Type", "value": "application/json"},
                    {"key": "Authorization", "value": "Bearer {{token}}"}
                ],
                "body": {"mode": "raw", "raw": "{\"key\":\"{{key}}\"}"},
                "url": "{{url}}/campaignapi/resources/v3/delete"
            },
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [test]}}]
        }]
    });
    std::fs::write(&collection, serde_json::to_vec_pretty(&json)?)?;

    let sim = SimProc::start(&cx.bin, &profiles, &[])?;
    let mut cmd = Command::new(newman);
    cmd.arg("run")
        .arg(&collection)
        .arg("-d")
        .arg(data::csv_quoted(&cx.dir, n)?)
        .args(["--env-var", &format!("url={}", sim.url)])
        .args(["--env-var", &format!("token={TOKEN}")])
        .args(["-r", "cli", "--reporter-cli-no-console"]);
    let nm = process::measure(&mut cmd, &cx.log)?;
    let nm_deleted = sim.stat("deleted")?;
    drop(sim);
    let nm_kps = n as f64 / nm.wall.as_secs_f64();

    let sim = SimProc::start(&cx.bin, &profiles, &[])?;
    let db = data::fresh_ledger(&cx.dir, "peer")?;
    let fg = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
    let fg_check = Check::of(n, &fg, &cx.status(&db)?, &sim.stats()?);
    let fg_kps = n as f64 / fg.wall.as_secs_f64();
    let correct = nm.code() == 0 && nm_deleted == n && fg_check.ok;
    let ratio = fg_kps / nm_kps;
    let big = cx
        .forget_kps
        .map(|k| {
            format!(
                "; at 200k keys forget's {} keys/s = {:.0}×",
                fmt_int(k),
                k / nm_kps
            )
        })
        .unwrap_or_default();
    cx.row(
        "the peer (newman)",
        target,
        format!(
            "newman {:.0} keys/s ({} keys in {:.1} s, {nm_deleted} deleted, exit {}); forget {} keys/s on the same keys ({}) = {ratio:.0}×{big}",
            nm_kps,
            fmt_int(n as f64),
            nm.wall.as_secs_f64(),
            nm.code(),
            fmt_int(fg_kps),
            fg_check.summary,
        ),
        Verdict::of(correct && ratio >= 100.0),
        load,
    );
    Ok(())
}

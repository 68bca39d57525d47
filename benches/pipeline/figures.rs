//! One function per figure of the table. Each checks correctness before it reports speed:
//! a fast run that lost or doubled a key is not a result.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::data;
use crate::process::{self, Usage};
use crate::sim::{SimProc, TOKEN};
use crate::{Ctx, R, Verdict};

const MIB: f64 = 1024.0;

/// `forget status --json` of a ledger.
#[derive(Debug, serde::Deserialize)]
struct Status {
    total: u64,
    deleted: u64,
    pending: u64,
    failed: u64,
}

/// Every attempt of a ledger: (seconds since the first, verdict).
struct Attempts(Vec<(f64, String)>);

impl Attempts {
    fn read(db: &Path) -> R<Attempts> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("SELECT at, verdict FROM attempts ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, verdict) = row?;
            let at =
                time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)?;
            out.push((at.unix_timestamp_nanos() as f64 / 1e9, verdict));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        let t0 = out.first().map_or(0.0, |a| a.0);
        for a in &mut out {
            a.0 -= t0;
        }
        Ok(Attempts(out))
    }

    fn span(&self) -> f64 {
        self.0.last().map_or(0.0, |a| a.0)
    }

    fn throttled(&self) -> usize {
        self.0.iter().filter(|a| a.1 == "throttled").count()
    }

    /// Calls per second between the first and the last (n − 1 intervals).
    fn rate(&self) -> f64 {
        (self.0.len().saturating_sub(1)) as f64 / self.span().max(1e-9)
    }
}

impl Ctx {
    /// The binary, without the shell's proxy variables: one would switch forget from its own
    /// pool to reqwest and send through the proxy, and the figures would measure that.
    fn forget(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `forget run` against `url`, measured.
    fn send(&self, csv: &Path, url: &str, db: &Path, rate: &str, extra: &[&str]) -> R<Usage> {
        let mut cmd = self.forget();
        cmd.arg("run")
            .arg(csv)
            .args(["--base-url", url, "--token-file"])
            .arg(&self.token)
            .args(["--rate", rate, "--concurrency"])
            .arg(self.concurrency.to_string())
            .args(["--quiet", "--state"])
            .arg(db)
            .args(extra);
        process::measure(&mut cmd, &self.log)
    }

    /// `forget run --dry-run`: the ingest alone, measured.
    fn dry_run(&self, csv: &Path, db: &Path) -> R<Usage> {
        let mut cmd = self.forget();
        cmd.arg("run")
            .arg(csv)
            .args(["--dry-run", "--quiet", "--state"])
            .arg(db);
        process::measure(&mut cmd, &self.log)
    }

    fn status(&self, db: &Path) -> R<Status> {
        let out = self
            .forget()
            .args(["status", "--json", "--state"])
            .arg(db)
            .output()?;
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// A dry-run ingest of `n` rows into a fresh ledger (memoised: later figures reuse it).
    fn ingest_rows(&mut self, n: u64) -> R<(Usage, PathBuf, PathBuf)> {
        if let Some(done) = self.ingested.get(&n) {
            return Ok(done.clone());
        }
        let csv = data::csv(&self.dir, n)?;
        let db = data::fresh_ledger(&self.dir, &format!("ingest-{n}"))?;
        let usage = self.dry_run(&csv, &db)?;
        let status = self.status(&db)?;
        if usage.code() != 0 || status.total != n || status.pending != n {
            return Err(format!(
                "dry run of {n} rows: exit {}, {status:?} (see {})",
                usage.code(),
                self.log.display()
            )
            .into());
        }
        self.ingested
            .insert(n, (usage.clone(), db.clone(), csv.clone()));
        Ok((usage, db, csv))
    }
}

fn fmt_int(n: f64) -> String {
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

/// Whether the simulator saw no key sent again once it had answered the key's fate (its
/// per-key request histories). A deletion count cannot show that: it never exceeds 1.
fn sent_until_final_only(stats: &serde_json::Value) -> bool {
    stats["resent_after_final"].as_u64() == Some(0)
        && stats["resent_without_cause"].as_u64() == Some(0)
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
    correct: bool,
    deleted: u64,
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
        let status = cx.status(&db)?;
        let stats = sim.stats()?;
        let correct = usage.code() == 0
            && status.deleted == n
            && status.total == n
            && stats["deleted"].as_u64() == Some(n)
            && sent_until_final_only(&stats);
        Ok(Unthrottled {
            n,
            correct,
            deleted: status.deleted,
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
    let ok = if u.correct {
        ""
    } else {
        " — NOT all keys committed, each sent until its answer only"
    };
    cx.row(
        "unthrottled throughput",
        "≥ 25,000 keys/s end to end, every outcome committed",
        format!(
            "{} keys/s end to end ({} keys, ingest + send, {:.2} s; all {} deleted and committed{ok}); send phase alone {} keys/s",
            fmt_int(kps),
            fmt_int(n as f64),
            u.usage.wall.as_secs_f64(),
            fmt_int(u.deleted as f64),
            fmt_int(u.send_rate),
        ),
        Verdict::of(u.correct && kps >= 25_000.0),
        load,
    );
    let ms = u.usage.cpu() / n as f64 * 1e6;
    cx.row(
        "overhead",
        "≤ 40 ms CPU per 1,000 keys",
        format!(
            "{ms:.1} ms per 1,000 keys ({:.2} s user + {:.2} s sys for {} keys, ingest included); the simulator used {:.2} s",
            u.usage.user,
            u.usage.sys,
            fmt_int(n as f64),
            u.sim_cpu
        ),
        Verdict::of(ms <= 40.0),
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
    let correct = pairs.iter().all(|(f, _)| f.correct);
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
    let ok = if correct {
        ""
    } else {
        " — NOT all keys committed, each sent until its answer only"
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
    let fg_stats = sim.stats()?;
    let fg_deleted = fg_stats["deleted"].as_u64().unwrap_or(0);
    let fg_kps = n as f64 / fg.wall.as_secs_f64();
    let correct = nm.code() == 0
        && nm_deleted == n
        && fg.code() == 0
        && fg_deleted == n
        && sent_until_final_only(&fg_stats);
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
            "newman {:.0} keys/s ({} keys in {:.1} s, {nm_deleted} deleted, exit {}); forget {} keys/s on the same keys ({fg_deleted} deleted) = {ratio:.0}×{big}",
            nm_kps,
            fmt_int(n as f64),
            nm.wall.as_secs_f64(),
            nm.code(),
            fmt_int(fg_kps),
        ),
        Verdict::of(correct && ratio >= 100.0),
        load,
    );
    Ok(())
}

/// `--rate R` against a simulator limited to exactly R.
pub fn rate(cx: &mut Ctx) -> R<()> {
    for r in [50u64, 500, 5_000] {
        let secs = (20.0 * cx.scale).max(3.0);
        let n = (r as f64 * secs).ceil() as u64;
        let csv = data::csv(&cx.dir, n)?;
        let sim = SimProc::start(
            &cx.bin,
            &data::profiles(&cx.dir, n)?,
            &["--rate-limit".into(), r.to_string()],
        )?;
        let db = data::fresh_ledger(&cx.dir, &format!("rate-{r}"))?;
        cx.dry_run(&csv, &db)?;
        let load = process::load();
        let u = cx.send(&csv, &sim.url, &db, &r.to_string(), &[])?;
        let stats = sim.stats()?;
        let throttled = stats["throttled"].as_u64().unwrap_or(u64::MAX);
        let deleted = stats["deleted"].as_u64().unwrap_or(0);
        let attempts = Attempts::read(&db)?;
        let achieved = attempts.rate();
        cx.row(
            format!("rate fidelity R = {r}"),
            "≥ 0.98 R achieved, zero 429s",
            format!(
                "{achieved:.1}/s = {:.4} R over {:.1} s; {throttled} × 429; {deleted}/{n} deleted, exit {}",
                achieved / r as f64,
                attempts.span(),
                u.code()
            ),
            Verdict::of(
                achieved >= 0.98 * r as f64
                    && throttled == 0
                    && deleted == n
                    && u.code() == 0
                    && sent_until_final_only(&stats),
            ),
            load,
        );
    }
    Ok(())
}

/// `--rate 5000` against a simulator limited to 500/s, no Retry-After.
pub fn quota(cx: &mut Ctx) -> R<()> {
    let limit = 500.0;
    let warmup = 10.0;
    let window = (30.0 * cx.scale).max(5.0);
    // Enough keys that the run outlasts the window even at the full limit.
    let n = (limit * (warmup + window + 5.0)) as u64;
    let csv = data::csv(&cx.dir, n)?;
    let sim = SimProc::start(
        &cx.bin,
        &data::profiles(&cx.dir, n)?,
        &["--rate-limit".into(), "500".into()],
    )?;
    let db = data::fresh_ledger(&cx.dir, "quota")?;
    cx.dry_run(&csv, &db)?;
    let load = process::load();
    let u = cx.send(&csv, &sim.url, &db, "5000", &["--max-attempts", "100"])?;
    let stats = sim.stats()?;
    let deleted = stats["deleted"].as_u64().unwrap_or(0);
    let attempts = Attempts::read(&db)?;
    let end = (warmup + window).min(attempts.span());
    let good = attempts
        .0
        .iter()
        .filter(|(t, v)| *t >= warmup && *t < end && v != "throttled")
        .count();
    let goodput = good as f64 / (end - warmup).max(1e-9);
    let share = attempts.throttled() as f64 / attempts.0.len().max(1) as f64;
    cx.row(
        "quota discovery",
        "goodput ≥ 450/s after the first 10 s; 429s ≤ 2% of all calls",
        format!(
            "goodput {goodput:.0}/s = {:.3} × 500 over [10 s, {end:.0} s]; 429s {:.2}% ({} of {} calls); {deleted}/{n} deleted in {:.1} s, exit {}",
            goodput / limit,
            share * 100.0,
            attempts.throttled(),
            attempts.0.len(),
            u.wall.as_secs_f64(),
            u.code()
        ),
        Verdict::of(
            goodput >= 0.9 * limit
                && share <= 0.02
                && deleted == n
                && u.code() == 0
                && sent_until_final_only(&stats),
        ),
        load,
    );
    Ok(())
}

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

/// Peak RSS for 1M- and 10M-row inputs: ingest (`--dry-run`), and a send run of 1M keys.
pub fn memory(cx: &mut Ctx) -> R<()> {
    let target = "≤ 64 MiB, flat in input size";
    let mut peaks = Vec::new();
    for rows in [1_000_000u64, 10_000_000] {
        let n = cx.scaled(rows);
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
    let n = cx.scaled(1_000_000);
    let csv = data::csv(&cx.dir, n)?;
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, n)?, &[])?;
    let db = data::fresh_ledger(&cx.dir, "memory-send")?;
    let load = process::load();
    let u = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
    let stats = sim.stats()?;
    let deleted = stats["deleted"].as_u64().unwrap_or(0);
    let mib = u.peak_rss_kib as f64 / MIB;
    let flat = peaks.iter().cloned().fold(f64::MIN, f64::max)
        / peaks.iter().cloned().fold(f64::MAX, f64::min);
    cx.row(
        format!("memory, send {} keys", fmt_int(n as f64)),
        target,
        format!(
            "{mib:.1} MiB peak RSS (ingest + send, {:.1} s, {deleted} deleted, exit {}); ingest peaks 10M/1M = {flat:.2}",
            u.wall.as_secs_f64(),
            u.code()
        ),
        Verdict::of(mib <= 64.0 && deleted == n && flat <= 1.25 && sent_until_final_only(&stats)),
        load,
    );
    Ok(())
}

/// A re-run over a ledger whose 1M keys are all finished must send nothing, quickly.
pub fn resume(cx: &mut Ctx) -> R<()> {
    let n = cx.scaled(1_000_000);
    let (_, ingested, csv) = cx.ingest_rows(n)?;
    // A copy of the ingested ledger with every unit finished, as a completed run leaves it
    // (deleted, plaintext key dropped).
    let db = data::fresh_ledger(&cx.dir, "resume")?;
    for suffix in ["", ".key"] {
        let mut from = ingested.clone().into_os_string();
        from.push(suffix);
        let mut to = db.clone().into_os_string();
        to.push(suffix);
        std::fs::copy(from, to)?;
    }
    {
        let conn = rusqlite::Connection::open(&db)?;
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?;
        conn.execute(
            "UPDATE units SET outcome = 'deleted', key = NULL, attempts = 1,
                 transaction_id = 'bench', first_attempt_at = ?1, last_attempt_at = ?1,
                 finished_at = ?1",
            [&now],
        )?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let sim = SimProc::start(&cx.bin, &data::profiles(&cx.dir, 0)?, &[])?;
    let load = process::load();
    let u = cx.send(&csv, &sim.url, &db, "unlimited", &[])?;
    let wall = u.wall.as_secs_f64();
    let stats = sim.stats()?;
    let requests = stats["requests"].as_u64().unwrap_or(u64::MAX);
    let status = cx.status(&db)?;
    cx.row(
        "resume",
        "≤ 2 s to exit 0 having sent nothing",
        format!(
            "{wall:.2} s, exit {}, {requests} requests sent ({} keys finished in the ledger)",
            u.code(),
            fmt_int(status.deleted as f64)
        ),
        Verdict::of(
            wall <= 2.0
                && u.code() == 0
                && requests == 0
                && status.failed == 0
                && sent_until_final_only(&stats),
        ),
        load,
    );
    Ok(())
}

//! Crash safety: SIGKILL the real `forget run` at random moments (during ingest of a large
//! file, mid-send, mid-commit), several times, against a faulty simulator in another
//! process; then run it to completion and check that nothing was lost, sent twice needlessly,
//! or miscounted.
//!
//! CI runs a quick variant. For a soak: `FORGET_SOAK_KILLS=300 FORGET_SOAK_KEYS=100000
//! cargo test --release --test it crash:: -- --nocapture`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Workdir, text};

const TOKEN: &str = "crash-test-token";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator: the kill schedule is the same on every run of the test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

struct Sim(Child, String);

impl Sim {
    fn start(wd: &Workdir) -> Sim {
        let mut child = wd
            .command()
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--profiles",
                "customers=held.txt",
                "--token",
                TOKEN,
            ])
            .args([
                "--fault",
                "500=0.03",
                "--fault",
                "drop=0.02",
                "--fault",
                "1010=0.02",
            ])
            .args([
                "--fault",
                "499=0.02",
                "--fault",
                "truncated=0.01",
                "--fault",
                "html502=0.01",
            ])
            .args(["--seed", "11"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Sim(child, url)
    }

    async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_sim/stats", self.1))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_command(wd: &Workdir, url: &str) -> Command {
    let mut cmd = wd.command();
    cmd.args([
        "run",
        "requests.csv",
        "--base-url",
        url,
        "--token-file",
        "token",
        "--profile-name",
        "customers",
    ])
    .args(["--rate", "1000", "--concurrency", "16", "--timeout", "2"])
    .args([
        "--retry-base-ms",
        "5",
        "--retry-max",
        "0.05",
        "--max-attempts",
        "1000",
        "--quiet",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_lose_nothing_and_send_nothing_twice() {
    let kills = env_or("FORGET_SOAK_KILLS", 6);
    let distinct = env_or("FORGET_SOAK_KEYS", 3000) as usize;
    let wd = Workdir::new();
    // Every key appears five times, so ingest is long enough to be killed in the middle of.
    let keys: Vec<String> = (0..distinct).map(|i| format!("+4477009{i:07}")).collect();
    let mut csv = String::from("key,exparam1\n");
    for round in 0..5 {
        for k in &keys {
            csv.push_str(&format!("{k},R{round}\n"));
        }
    }
    wd.write("requests.csv", &csv);
    let held: Vec<&String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, k)| k)
        .collect();
    wd.write(
        "held.txt",
        held.iter().map(|k| format!("{k}\n")).collect::<String>(),
    );
    wd.write("token", TOKEN);
    let sim = Sim::start(&wd);

    let mut rng = Lcg(42);
    let mut killed_while_running = 0;
    let started = Instant::now();
    for i in 0..kills {
        let mut child = run_command(&wd, &sim.1).spawn().unwrap();
        // Early kills land in hashing and ingest; later ones mid-send and mid-commit.
        let wait = match i % 3 {
            0 => 5 + rng.next(60),
            1 => 100 + rng.next(500),
            _ => 600 + rng.next(1000),
        };
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let mut last = run_command(&wd, &sim.1);
    last.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = wd.run(&mut last, 0);
    eprintln!(
        "{kills} kills ({killed_while_running} while running) over {distinct} keys, then a full run: {:.1?}\n{}",
        started.elapsed(),
        text(&out.stdout)
    );
    assert!(
        killed_while_running > 0,
        "no kill landed while forget was running"
    );

    // The simulator: every held key gone, and none deleted twice.
    let stats = sim.stats().await;
    assert_eq!(
        stats["deleted"].as_u64(),
        Some(held.len() as u64),
        "{stats}"
    );
    assert_eq!(stats["max_deletes_per_key"].as_u64(), Some(1), "{stats}");

    // The ledger: one final outcome per distinct key, none pending, counts add up.
    let out = wd.run(wd.command().args(["status", "--json"]), 0);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = |f: &str| status[f].as_u64().unwrap();
    assert_eq!(n("total"), distinct as u64, "{status}");
    assert_eq!(n("pending"), 0, "{status}");
    assert_eq!(
        n("deleted") + n("not_found") + n("rejected") + n("failed"),
        n("total"),
        "{status}"
    );
    assert_eq!(n("deleted") + n("not_found"), n("total"), "{status}");
    // A key the simulator deleted whose answer was lost to a kill is found gone on the
    // re-send: it is recorded not_found after an ambiguous attempt, never deleted twice.
    assert!(n("deleted") <= held.len() as u64);

    // Ingest after a kill neither lost rows nor recorded them twice.
    assert_eq!(n("duplicates"), 4 * distinct as u64, "{status}");
    assert_eq!(n("invalid"), 0);
    let ledger = rusqlite::Connection::open(wd.path("forget.db")).unwrap();
    let (rows, lines, files): (i64, i64, i64) = ledger
        .query_row(
            "SELECT count(*), count(DISTINCT line), (SELECT count(*) FROM files) FROM rows",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (rows, lines, files),
        (5 * distinct as i64, 5 * distinct as i64, 1)
    );
    let orphans: i64 = ledger
        .query_row(
            "SELECT count(*) FROM rows WHERE kind != 'invalid' AND unit_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    let check: String = ledger
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

//! Crash safety: SIGKILL the real `forget run` several times — while it records a large file,
//! and mid-send once the simulator has answered a chosen number of its requests — against a
//! faulty simulator, then run it to completion. Checked: every kill landed where it was aimed;
//! nothing was lost or miscounted; each resume sent only keys the ledger had not finished;
//! and a key was sent again after its fate was answered only when a kill caught that answer
//! before the ledger committed it.
//!
//! The simulator runs in the test's process (the binary is a child), so every key's requests
//! can be read. CI runs a quick variant. For a soak: `FORGET_SOAK_KILLS=300
//! FORGET_SOAK_KEYS=100000 cargo test --release --test it crash:: -- --nocapture`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Fixture, TOKEN, UnitRow, forget_in, ledger_units, text};
use forget::sim::{Answer, DeleteRequest, Fault};

/// `--concurrency` of the killed runs: at most this many requests are in flight at a kill.
const CONCURRENCY: u64 = 16;
/// The most records the ledger's writer commits at once (`MAX_BATCH` in
/// `src/ledger/writer.rs`).
const WRITER_BATCH: u64 = 4096;
/// What one kill can lose of the answers the simulator gave: those of the requests in flight
/// (read or not, never handed to the writer), and the records the writer had not committed —
/// the batch it was writing, and what queued meanwhile (answers come at `--rate 1000`, so the
/// queue does not outgrow a batch unless a commit takes seconds). Everything earlier is
/// committed, and a commit survives SIGKILL (WAL). A lost final answer leaves its key
/// pending: the next run sends it again. The bound assumes nothing of how fast the writer
/// runs, so it is loose here (a kill loses 5 to 30; the test prints them): the exact checks
/// are per key (`check_run`, and the end state).
const LOST_PER_KILL: u64 = CONCURRENCY + 2 * WRITER_BATCH;

/// Logged (at debug) when recording the file in bulk begins: a kill then lands mid-ingest.
const INGEST_BEGUN: &str = "journal for the bulk load";

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

fn run_command(dir: &Path, url: &str) -> Command {
    let mut cmd = forget_in(dir);
    cmd.args([
        "run",
        "requests.csv",
        "--base-url",
        url,
        "--token-file",
        "token",
        "--profile-name",
        "customers",
        "--no-preflight",
    ])
    .args(["--rate", "1000", "--concurrency", &CONCURRENCY.to_string()])
    .args(["--timeout", "1"])
    .args([
        "--retry-base-ms",
        "5",
        "--retry-max",
        "0.05",
        "--max-attempts",
        "1000",
        "--quiet",
    ])
    .env("FORGET_LOG", "forget::ledger::bulk=debug")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

/// A running `forget run`, whether it has said that recording in bulk began, and what else
/// it said (errors).
struct Running {
    child: Child,
    ingest_begun: Arc<AtomicBool>,
    said: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(dir: &Path, url: &str) -> Running {
        let mut child = run_command(dir, url).spawn().unwrap();
        let ingest_begun = Arc::new(AtomicBool::new(false));
        let stderr = child.stderr.take().unwrap();
        let said = Arc::new(Mutex::new(Vec::new()));
        let (seen, lines) = (ingest_begun.clone(), said.clone());
        // Drained to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(INGEST_BEGUN) {
                    seen.store(true, Ordering::SeqCst);
                } else {
                    lines.lock().unwrap().push(line);
                }
            }
        });
        Running {
            child,
            ingest_begun,
            said,
        }
    }

    fn said(&self) -> String {
        self.said.lock().unwrap().join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a kill is aimed.
#[derive(Clone, Copy, Debug)]
enum Aim {
    /// Once recording the file has begun.
    Ingest,
    /// Once the simulator has answered this many of the run's requests.
    Send(u64),
}

/// Whether every row of the input file is recorded.
fn ingest_complete(db: &Path) -> bool {
    db.exists()
        && rusqlite::Connection::open(db)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM files WHERE rows IS NOT NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .is_ok_and(|n| n == 1)
}

fn finished(unit: Option<&UnitRow>) -> bool {
    unit.is_some_and(|u| matches!(u.outcome.as_str(), "deleted" | "not_found"))
}

fn final_answer(r: &DeleteRequest) -> bool {
    r.delivered && r.answer.is_final()
}

/// What the simulator and the ledger say at one moment (after a kill, or at the end).
struct Snapshot {
    histories: Vec<Vec<DeleteRequest>>,
    units: HashMap<String, UnitRow>,
}

impl Snapshot {
    fn take(fx: &Fixture, keys: &[String]) -> Snapshot {
        let db = fx.path("forget.db");
        let units = if fx.path("forget.db.key").exists() {
            ledger_units(&db, &fx.path("forget.db.key"), keys)
        } else {
            HashMap::new()
        };
        Snapshot {
            histories: keys
                .iter()
                .map(|k| fx.sim.history("customers", k))
                .collect(),
            units,
        }
    }

    fn finished(&self) -> usize {
        self.units.values().filter(|u| finished(Some(u))).count()
    }
}

/// Checks the run between `before` and `after`, and returns the keys whose final answers it
/// got but did not commit (lost to the kill that ended it).
fn check_run(keys: &[String], before: &Snapshot, after: &Snapshot, run: usize) -> HashSet<String> {
    let mut lost = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let (was, now) = (&before.histories[i], &after.histories[i]);
        let sent = &now[was.len()..];
        if sent.is_empty() {
            continue;
        }
        // A resume sends only what the ledger had not finished.
        assert!(
            !finished(before.units.get(key)),
            "run {run} sent {key} again, finished in the ledger before it: {now:?}"
        );
        if sent.iter().any(final_answer) && !finished(after.units.get(key)) {
            lost.insert(key.clone());
        }
    }
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_lose_nothing_and_send_nothing_twice() {
    let kills = env_or("FORGET_SOAK_KILLS", 6);
    let distinct = env_or("FORGET_SOAK_KEYS", 3000) as usize;
    let keys: Vec<String> = (0..distinct).map(|i| format!("+4477009{i:07}")).collect();
    let held: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, k)| k.clone())
        .collect();
    let fx = Fixture::new(&held, |c| {
        c.faults = [
            ("500", 0.03),
            ("drop", 0.02),
            ("1010", 0.02),
            ("499", 0.02),
            ("truncated", 0.01),
            ("html502", 0.01),
            ("drop-after-delete", 0.02),
            ("500-after-delete", 0.02),
            ("slow-after-delete", 0.005),
        ]
        .into_iter()
        .map(|(f, p)| (f.parse::<Fault>().unwrap(), p))
        .collect();
        c.seed = 11;
        // Requests are in flight when a kill lands.
        c.latency = Duration::from_millis(1);
        c.record_bodies = false;
    })
    .await;
    // Every key appears five times, so ingest is long enough to be killed in the middle of.
    let mut csv = String::from("key,exparam1\n");
    for round in 0..5 {
        for k in &keys {
            csv.push_str(&format!("{k},R{round}\n"));
        }
    }
    fx.write("requests.csv", &csv);
    fx.write("token", TOKEN);
    let db = fx.path("forget.db");
    let url = fx.handle.url();

    let mut rng = Lcg(42);
    let started = Instant::now();
    let mut before = Snapshot::take(&fx, &keys);
    let mut all_lost: HashSet<String> = HashSet::new();
    let mut landed = Vec::new();
    for i in 0..kills as usize {
        let pending = (distinct - before.finished()) as u64;
        let aim = if i == 0 && !ingest_complete(&db) {
            Aim::Ingest
        } else if pending >= 200 {
            // Within the run's work, so the kill lands before it ends.
            Aim::Send((50 + rng.next(350)).min(pending / 2))
        } else {
            eprintln!("{pending} keys left after {i} kills: no more kills");
            break;
        };
        let base = fx.sim.stats().requests;
        let mut run = Running::start(fx.dir.path(), &url);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = run.child.try_wait().unwrap() {
                panic!(
                    "run {i} ended ({status}) before its kill ({aim:?}): {}",
                    run.said()
                );
            }
            let due = match aim {
                Aim::Ingest => run.ingest_begun.load(Ordering::SeqCst),
                Aim::Send(n) => fx.sim.stats().requests - base >= n,
            };
            if due {
                break;
            }
            assert!(Instant::now() < deadline, "run {i}: {aim:?} never came");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        run.child.kill().unwrap(); // SIGKILL
        run.child.wait().unwrap();
        let answered = fx.sim.stats().requests - base;
        let after = Snapshot::take(&fx, &keys);
        match aim {
            Aim::Ingest => {
                assert!(!ingest_complete(&db), "kill {i} came after the ingest");
                assert_eq!(answered, 0, "nothing is sent before the file is recorded");
            }
            Aim::Send(_) => {
                // Mid-send: some answers of this run committed, some keys left to do.
                assert!(
                    after.finished() > before.finished() && after.finished() < distinct,
                    "kill {i} landed outside the send: {} finished before, {} after",
                    before.finished(),
                    after.finished()
                );
            }
        }
        let lost = check_run(&keys, &before, &after, i);
        assert!(
            lost.len() as u64 <= LOST_PER_KILL,
            "kill {i} lost {} final answers",
            lost.len()
        );
        landed.push(format!("{aim:?}: {answered} answered, {} lost", lost.len()));
        all_lost.extend(lost);
        before = after;
    }
    let out = run_command(fx.dir.path(), &url).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    eprintln!(
        "{kills} kills over {distinct} keys, then a full run: {:.1?}\n{}",
        started.elapsed(),
        landed.join("\n")
    );
    let end = Snapshot::take(&fx, &keys);
    let lost = check_run(&keys, &before, &end, kills as usize);
    assert!(lost.is_empty(), "the last run lost answers: {lost:?}");

    // Every held key is gone from the simulator, deleted by one request, and the ledger
    // agrees with what the simulator answered.
    let stats = fx.sim.stats();
    assert_eq!(fx.sim.remaining(), 0, "{stats:?}");
    let held: HashSet<&String> = held.iter().collect();
    for (key, history) in keys.iter().zip(&end.histories) {
        let unit = &end.units[key];
        let deletions = history.iter().filter(|r| r.answer.deleted()).count();
        assert_eq!(
            deletions,
            usize::from(held.contains(key)),
            "{key}: {history:?}"
        );
        match unit.outcome.as_str() {
            "deleted" => assert!(
                history
                    .iter()
                    .any(|r| r.delivered && r.answer == Answer::Deleted),
                "{key}: deleted in the ledger, never answered so: {history:?}"
            ),
            "not_found" => {
                assert!(
                    history
                        .last()
                        .is_some_and(|r| final_answer(r) && r.answer == Answer::NotFound),
                    "{key}: not_found in the ledger: {history:?}"
                );
                // A held key is not_found only if the answer of the request that deleted it
                // was lost: to a fault, to a kill, or never delivered.
                if let Some(deleting) = history.iter().find(|r| r.answer.deleted()) {
                    assert!(
                        matches!(deleting.answer, Answer::FaultAfterDelete(_))
                            || !deleting.delivered
                            || all_lost.contains(key),
                        "{key}: deleted, and its answer was not lost: {history:?}"
                    );
                }
            }
            other => panic!("{key} ended {other}"),
        }
        // Sent again after a final answer only if a kill lost that answer.
        let first_final = history.iter().position(final_answer);
        if first_final.is_some_and(|at| at + 1 < history.len()) {
            assert!(
                all_lost.contains(key),
                "{key} sent again after its answer: {history:?}"
            );
        }
    }
    for (_, key) in fx.sim.keys_resent_without_cause() {
        assert!(all_lost.contains(&key), "{key}");
    }
    assert!(
        stats.resent_after_final <= kills * LOST_PER_KILL,
        "{stats:?}"
    );

    // The ledger: one final outcome per distinct key, none pending, counts add up.
    let out = forget_in(fx.dir.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
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

    // Ingest after a kill neither lost rows nor recorded them twice.
    assert_eq!(n("duplicates"), 4 * distinct as u64, "{status}");
    assert_eq!(n("invalid"), 0);
    let ledger = rusqlite::Connection::open(&db).unwrap();
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

//! A ledger that forgets: no erased key survives anywhere in the ledger's files; purge drops
//! the rest; lookup answers "did you erase me?" from keyed hashes.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{Fixture, Workdir, assert_sent_until_final_only, keys, repo_path, text};
use forget::audit::lookup::{self, Finder, KeySource};
use forget::audit::purge::{PurgeConfig, PurgeResult};
use forget::error::exit;
use forget::keys::KeyHasher;
use forget::ledger::Ledger;
use forget::ledger::purge::PurgeScope;
use forget::secret;
use forget::sim::Fault;

/// The raw bytes of a ledger and its -wal and -shm files (those that exist).
fn ledger_files(db: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            std::fs::read(&p).ok().map(|bytes| (p, bytes))
        })
        .collect()
}

/// Keys (of `keys`) found anywhere in the ledger's files, byte for byte.
fn keys_in_ledger(db: &Path, keys: &[String]) -> Vec<String> {
    // Lossy decoding only replaces invalid sequences; a key's own bytes survive intact, and
    // `str::contains` is a fast substring search.
    let files: Vec<String> = ledger_files(db)
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    keys.iter()
        .filter(|k| files.iter().any(|f| f.contains(k.as_str())))
        .cloned()
        .collect()
}

fn sample_keys() -> Vec<String> {
    let mut reader = csv::Reader::from_path(repo_path("samples/erasure-requests.csv")).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "key")
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[column].trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn the_sample_run_to_the_end_leaves_no_erased_key_in_the_ledger_files() {
    let wd = Workdir::new();
    let sample = repo_path("samples/erasure-requests.csv");
    let run = |file: &Path| {
        wd.run(
            wd.command()
                .arg("run")
                .arg(file)
                .args(["--simulate", "--rate", "unlimited", "--concurrency", "16"])
                .args([
                    "--received-column",
                    "received",
                    "--keep-column",
                    "request-id",
                ]),
            exit::INCOMPLETE, // the sample's one invalid row (a blank key)
        )
    };
    let first = run(&sample);
    // The same requests again in a new file: every row matches an erased key by its hash.
    let mut again = std::fs::read_to_string(&sample).unwrap();
    again.push_str("DSR-2026-99999,new.person@example.com,,DSR-2026-99999,email,2026-11-01\n");
    let second = run(&wd.write("again.csv", again));
    assert!(
        text(&second.stdout).contains("sent 1 keys"),
        "{}",
        text(&second.stdout)
    );

    let keys = sample_keys();
    assert!(keys.len() > 900);
    let db = wd.path("forget-simulate.db");
    assert_eq!(keys_in_ledger(&db, &keys), Vec::<String>::new());
    assert!(keys_in_ledger(&db, &["new.person@example.com".into()]).is_empty());
    // Nor in what the commands print.
    let report = wd.run(
        wd.command()
            .args(["report", "--state", "forget-simulate.db"]),
        0,
    );
    // The sample's blank-key row is still open: exit 4.
    let status = wd.run(
        wd.command()
            .args(["status", "--state", "forget-simulate.db"]),
        4,
    );
    for out in [&first, &second, &report, &status] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let leaked: Vec<&String> = keys.iter().filter(|k| all.contains(k.as_str())).collect();
        assert!(leaked.is_empty(), "{leaked:?}");
    }
}

struct Generated {
    fx: Fixture,
    deleted: Vec<String>,
    not_found: Vec<String>,
    rejected: Vec<String>,
    failed: Vec<String>,
    invalid: Vec<String>,
}

impl Generated {
    fn erased(&self) -> Vec<String> {
        [self.deleted.clone(), self.not_found.clone()].concat()
    }

    fn kept(&self) -> Vec<String> {
        [
            self.rejected.clone(),
            self.failed.clone(),
            self.invalid.clone(),
        ]
        .concat()
    }
}

/// A ledger with every outcome: deleted and not found after retried 500s (so there are
/// several attempt events per key), duplicates, rejected (wrong profile), failed (attempts
/// used up), and invalid rows whose raw key is kept.
async fn generated() -> Generated {
    let deleted = keys("held-", 20);
    let fx = Fixture::new(&deleted, |c| {
        c.faults = vec![(Fault::Http500, 0.3)];
        c.seed = 11;
    })
    .await;
    let not_found = keys("absent-", 10);
    let rejected = keys("wrong-profile-", 3);
    let invalid = vec!["bad-fields-1".to_string(), "bad-exparam-1".to_string()];
    // Audit fields and kept columns that repeat the key must not keep it either.
    let mut csv = String::from("key,profile-name,ticket,received,exparam3\n");
    for (i, k) in deleted.iter().chain(&not_found).enumerate() {
        csv.push_str(&format!("{k},,T-{i},2020-01-31,asked by {k}\n"));
    }
    csv.push_str(&format!(
        "{},,T-dup,2020-01-15,asked by {} again\n",
        deleted[0], deleted[0]
    ));
    for (i, k) in rejected.iter().enumerate() {
        csv.push_str(&format!("{k},nosuchprofile,R-{i} for {k},,asked by {k}\n"));
    }
    csv.push_str("bad-fields-1,,T-x,2020-01-01,,surplus\n");
    // (A received date that cannot be read no longer makes a row invalid: see deadlines.)
    csv.push_str(&format!(
        "bad-exparam-1,,T-y bad-exparam-1,2020-01-31,{}\n",
        "x".repeat(300)
    ));
    let file = fx.write("requests.csv", &csv);
    let mut config = fx.config(vec![file]);
    config.retry.max_attempts = 40;
    config.input.received_column = Some("received".into());
    config.input.keep_columns = vec!["ticket".into()];
    // An idle reader keeps the WAL from being deleted when the run closes the ledger: what
    // is checked below is what the run's own TRUNCATE checkpoint left behind.
    Ledger::open(&config.state).unwrap();
    let pin = fx.ledger();
    pin.query_row("SELECT count(*) FROM units", [], |r| r.get::<_, i64>(0))
        .unwrap();
    let s = fx.run(config).await;
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.rejected),
        (20, 10, 3),
        "{s:?}"
    );
    // A second file whose keys fail every attempt.
    let failed = keys("flaky-", 3);
    fx.sim.set_faults(vec![(Fault::Http500, 1.0)]);
    let mut config = fx.config(vec![fx.csv("later.csv", &failed)]);
    config.retry.max_attempts = 2;
    let s = fx.run(config).await;
    assert_eq!(s.ledger.failed, 3, "{s:?}");
    fx.sim.set_faults(vec![]);
    std::mem::forget(pin); // held open until the test process ends
    Generated {
        fx,
        deleted,
        not_found,
        rejected,
        failed,
        invalid,
    }
}

fn wal_len(db: &Path) -> u64 {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    std::fs::metadata(PathBuf::from(p))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn erased_keys_leave_no_trace_and_purge_drops_the_plaintext_that_is_left() {
    let g = generated().await;
    let db = g.fx.path("ledger.db");
    assert!(
        g.fx.query_i64("SELECT count(*) FROM attempts") > 33,
        "retries are recorded as attempt events"
    );
    assert_eq!(wal_len(&db), 0, "the run truncates the WAL");
    assert_eq!(keys_in_ledger(&db, &g.erased()), Vec::<String>::new());
    // Asked for again, with the key in an audit field: matched by hash, not sent, not kept.
    let again = g.fx.write(
        "again.csv",
        &format!(
            "key,exparam3\n{},again for {}\n",
            g.deleted[1], g.deleted[1]
        ),
    );
    let asked = g.fx.sim.history("customers", &g.deleted[1]);
    g.fx.sim.set_faults(vec![(Fault::Http500, 1.0)]); // the failed keys stay failed
    let mut config = g.fx.config(vec![again]);
    config.retry.max_attempts = 1;
    let s = g.fx.run(config).await;
    assert_eq!((s.sent_units, s.ingested.duplicates), (3, 1), "{s:?}");
    assert_eq!(
        g.fx.sim.history("customers", &g.deleted[1]),
        asked,
        "sent again"
    );
    assert_sent_until_final_only(&g.fx.sim);
    assert_eq!(keys_in_ledger(&db, &g.erased()), Vec::<String>::new());
    // What is still unfinished keeps its plaintext (a re-run needs it); the scan finds it.
    assert_eq!(keys_in_ledger(&db, &g.kept()), g.kept());
    // Only two places hold plaintext: unfinished units and invalid rows.
    assert_eq!(
        g.fx.query_i64("SELECT count(*) FROM units WHERE key IS NOT NULL"),
        6
    );
    assert_eq!(
        g.fx.query_i64("SELECT count(*) FROM rows WHERE raw_key IS NOT NULL"),
        2
    );
    assert_eq!(
        g.fx.query_i64("SELECT count(*) FROM rows WHERE raw_key IS NOT NULL AND kind != 'invalid'"),
        0
    );

    let config = PurgeConfig {
        state: db.clone(),
        scope: PurgeScope::parse("rejected,failed,invalid").unwrap(),
        yes: false,
    };
    let mut asked = None;
    let result = forget::audit::purge::run(&config, |plan| {
        asked = Some(plan.clone());
        Ok(true)
    })
    .unwrap();
    let PurgeResult::Purged(done) = result else {
        panic!("{result:?}")
    };
    assert_eq!(Some(done.clone()), asked);
    assert_eq!(done.total(), 3 + 3 + 2);
    assert_eq!(wal_len(&db), 0, "purge truncates the WAL");
    let every: Vec<String> = [g.erased(), g.kept()].concat();
    assert_eq!(keys_in_ledger(&db, &every), Vec::<String>::new());
    assert_eq!(
        g.fx.query_i64("SELECT count(*) FROM purges WHERE units = 6 AND rows = 2"),
        1
    );
    // Purging again finds nothing.
    assert_eq!(
        forget::audit::purge::run(&config, |_| Ok(true)).unwrap(),
        PurgeResult::Nothing
    );

    // A purged key is not sent by a later run...
    let before = g.fx.sim.stats().requests;
    let s = g.fx.run(g.fx.config(vec![])).await;
    assert_eq!(s.sent_units, 0);
    assert_eq!(g.fx.sim.stats().requests, before);
    // ...until it is asked for again: the ledger recognises it and takes the key back.
    g.fx.sim.set_faults(vec![]);
    let s =
        g.fx.run(g.fx.config(vec![g.fx.csv("asked-again.csv", &g.failed[..1])]))
            .await;
    assert_eq!(s.sent_units, 1, "{s:?}");
    assert_eq!(s.ledger.not_found, 11);
    assert_eq!(
        g.fx.query_i64("SELECT count(*) FROM units WHERE purged_at IS NOT NULL"),
        5
    );
}

fn finder_parts(fx: &Fixture) -> (Ledger, KeyHasher) {
    let ledger = Ledger::open_existing(&fx.path("ledger.db")).unwrap();
    let (key, _) = secret::load_ledger_key(&fx.path("ledger.db.key"), false).unwrap();
    (ledger, KeyHasher::new(&key))
}

#[tokio::test]
async fn lookup_answers_whether_when_how_and_from_which_rows() {
    let g = generated().await;
    let (ledger, hasher) = finder_parts(&g.fx);
    let finder = Finder::new(&ledger, &hasher).unwrap();

    // A deleted key asked for twice (a duplicate row), after retried 500s.
    let l = finder.find(&g.deleted[0], None).unwrap();
    assert_eq!(l.verdict, "erased");
    assert!(l.erased());
    assert_eq!(l.key_masked, forget::keys::mask(&g.deleted[0]));
    assert_eq!(l.key_hash, hex::encode(hasher.hash(&g.deleted[0])));
    let [u] = l.units.as_slice() else {
        panic!("{l:?}")
    };
    assert_eq!(
        (u.outcome.as_str(), u.profile_name.as_str()),
        ("deleted", "customers")
    );
    assert!(u.transaction_id.is_some() && u.finished_at.is_some());
    assert_eq!(u.attempts as usize, u.history.len());
    assert_eq!(u.history.last().unwrap().verdict, "deleted");
    assert!(u.history.iter().all(|a| a.run_id == 1));
    // Jan 15 → Feb 15 is earlier than Jan 31 → Feb 29 (2020 is a leap year).
    assert_eq!(u.due_on.as_deref(), Some("2020-02-15"));
    let rows: Vec<(u64, &str, Option<&str>, Option<&str>)> = u
        .requests
        .iter()
        .map(|r| {
            (
                r.line,
                r.kind.as_str(),
                r.due_on.as_deref(),
                r.extra.get("ticket"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (2, "request", Some("2020-02-29"), Some("T-0")),
            (32, "duplicate", Some("2020-02-15"), Some("T-dup")),
        ]
    );
    let file_sha = &u.requests[0].file_sha256;
    assert_eq!(file_sha.len(), 64);
    assert!(u.requests[0].file.ends_with("requests.csv"));

    let case = |key: &str, verdict: &str| {
        assert_eq!(finder.find(key, None).unwrap().verdict, verdict, "{key}")
    };
    case(&g.not_found[0], "erased");
    case(&format!("  {}  ", g.not_found[0]), "erased");
    case(&g.rejected[0], "not erased");
    case(&g.failed[0], "not erased");
    case("never-asked@example.com", "not in the ledger");
    case("bad-exparam-1", "request row invalid, never sent");
    let invalid = finder.find("bad-exparam-1", None).unwrap();
    assert!(
        invalid.invalid_rows[0].reason.contains("longer than 256"),
        "{invalid:?}"
    );

    // Many keys at once, from a CSV, in order, with its lines.
    let file = g.fx.write(
        "ask.csv",
        &format!("key\n{}\nnobody\n \n{}\n", g.deleted[1], g.rejected[1]),
    );
    let mut seen = Vec::new();
    lookup::for_each(
        &finder,
        &KeySource::File {
            path: file,
            input: forget::input::InputOptions::default(),
        },
        |l| {
            seen.push((l.line, l.verdict));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        seen,
        [
            (Some(2), "erased"),
            (Some(3), "not in the ledger"),
            (Some(4), "invalid input"),
            (Some(5), "not erased"),
        ]
    );
}

#[tokio::test]
async fn lookup_on_the_command_line() {
    let g = generated().await;
    let wd = Workdir::new();
    let state = g.fx.path("ledger.db");
    let lookup = |args: &[&str], stdin: &str, code: i32| {
        let mut cmd = wd.command();
        cmd.arg("lookup").args(args).arg("--state").arg(&state);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        out
    };

    // Keys on stdin: no warning; every key erased → exit 0.
    let out = lookup(
        &["-"],
        &format!("{}\n\n{}\n", g.deleted[2], g.not_found[2]),
        0,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ERASED"), "{stdout}");
    assert!(stdout.contains("transaction id"), "{stdout}");
    assert!(stdout.contains("requested in"), "{stdout}");
    assert!(stdout.contains("audit fields"), "{stdout}");
    assert!(stdout.contains("2 keys looked up: 2 erased"), "{stdout}");
    assert!(
        !stdout.contains(&g.deleted[2]),
        "the key itself is never printed"
    );
    assert!(!text(&out.stderr).contains("warning"));

    // A key on the command line works, with a warning about `ps`; not erased → exit 4.
    let out = lookup(&[g.rejected[0].as_str()], "", exit::INCOMPLETE);
    assert!(text(&out.stderr).contains("visible to other users"));
    assert!(text(&out.stdout).contains("NOT ERASED"));

    // JSON: an array with the full record.
    let out = lookup(&["-", "--json"], &format!("{}\nnobody\n", g.deleted[0]), 4);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["verdict"], "erased");
    assert_eq!(v[0]["units"][0]["requests"][1]["extra"]["ticket"], "T-dup");
    assert!(!v[0]["units"][0]["history"].as_array().unwrap().is_empty());
    assert_eq!(v[1]["verdict"], "not in the ledger");

    // With another ledger key every answer would be "not in the ledger": refused.
    wd.write("other.key", "0123456789abcdef0123456789abcdef\n");
    let out = lookup(
        &[
            "-",
            "--ledger-key-file",
            wd.path("other.key").to_str().unwrap(),
        ],
        "x\n",
        exit::USAGE,
    );
    assert!(text(&out.stderr).contains("different ledger key"));
    // No key file at all: refused, nothing created.
    let out = lookup(
        &[
            "-",
            "--ledger-key-file",
            wd.path("none.key").to_str().unwrap(),
        ],
        "x\n",
        exit::USAGE,
    );
    assert!(
        text(&out.stderr).contains("none.key"),
        "{}",
        text(&out.stderr)
    );
    assert!(!wd.path("none.key").exists());
    wd.run(
        wd.command().arg("lookup").arg("--state").arg(&state),
        exit::USAGE,
    );
}

#[tokio::test]
async fn purge_asks_first_and_refuses_without_a_terminal() {
    let g = generated().await;
    let wd = Workdir::new();
    let state = g.fx.path("ledger.db");
    let purge = |args: &[&str], code: i32| {
        wd.run(
            wd.command()
                .arg("purge")
                .args(args)
                .arg("--state")
                .arg(&state)
                .stdin(Stdio::null()),
            code,
        )
    };
    let out = purge(&["--outcome", "rejected,invalid"], exit::USAGE);
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(
        keys_in_ledger(&state, &g.kept()),
        g.kept(),
        "nothing purged"
    );
    let out = purge(&["--outcome", "deleted"], exit::USAGE);
    assert!(text(&out.stderr).contains("hold no plaintext"));
    purge(&["--outcome", "bogus", "--yes"], exit::USAGE);
    purge(&["--yes"], exit::USAGE);

    let out = purge(&["--outcome", "rejected,invalid", "--yes"], exit::OK);
    assert!(
        text(&out.stdout).contains("3 rejected keys, 2 invalid rows"),
        "{}",
        text(&out.stdout)
    );
    let left: Vec<String> = keys_in_ledger(&state, &g.kept());
    assert_eq!(left, g.failed, "only the failed keys were not purged");
    let out = purge(&["--outcome", "rejected", "--yes"], exit::OK);
    assert!(text(&out.stdout).contains("nothing to purge"));
}

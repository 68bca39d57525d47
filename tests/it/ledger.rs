//! The ledger cannot be made to say something false: one writer at a time whatever name the
//! file goes by, final outcomes kept, a damaged ledger refused, no key made for a ledger that
//! has one, read-only copies audited without a write, and erased keys leaving the files
//! while a run goes on (not only when it ends).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forget::error::exit;
use forget::sim::Fault;

use crate::common::{Fixture, TOKEN, Workdir, forget_in, keys, repo_path, run_bin, text};

const LEDGER_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Wait (asynchronously: the simulator shares the runtime) until `ready`, failing after a
/// minute.
async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `forget run in.csv` against the fixture's simulator, the ledger key in the environment.
fn run_against(fx: &Fixture, state: &str, rate: &str) -> Command {
    let mut cmd = forget_in(fx.dir.path());
    cmd.arg("run")
        .arg(fx.path("in.csv"))
        .args(["--base-url", &fx.handle.url(), "--token-file"])
        .arg(fx.path("token"))
        .args(["--profile-name", "customers"])
        .args([
            "--no-preflight",
            "--quiet",
            "--rate",
            rate,
            "--timeout",
            "600",
        ])
        .args(["--state", state])
        .env("FORGET_LEDGER_KEY", LEDGER_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_file_by_another_name_is_refused() {
    let held = keys("+4477009", 400);
    let fx = Fixture::new(&held, |_| {}).await;
    fx.csv("in.csv", &held);
    fx.write("token", TOKEN);
    let mut first = run_against(&fx, "forget.db", "20");
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let first = first.spawn().unwrap();
    // Sending has begun (400 keys at 20/s: it goes on for 20 s), so the first run holds
    // the ledger.
    wait_until("the first run sends", || fx.sim.stats().requests > 0).await;
    std::os::unix::fs::symlink("forget.db", fx.path("link.db")).unwrap();
    std::fs::hard_link(fx.path("forget.db"), fx.path("hard.db")).unwrap();
    std::fs::create_dir(fx.path("elsewhere")).unwrap();
    for (dir, state) in [
        (".", "link.db"),
        (".", "hard.db"),
        (".", "forget.db"),
        ("elsewhere", "../forget.db"),
    ] {
        let mut second = run_against(&fx, state, "unlimited");
        second.current_dir(fx.path(dir));
        let out = run_bin(second, exit::USAGE).await;
        let err = text(&out.stderr);
        assert!(
            err.contains("another forget run is using this ledger") && err.contains("lock"),
            "{state}: {err}"
        );
    }
    kill(first);
    assert_eq!(fx.sim.stats().max_deletes_per_key, 1);
}

#[test]
fn a_missing_ledger_key_is_refused_and_none_is_made() {
    let wd = Workdir::new();
    wd.write("in.csv", "key\na@example.com\n");
    wd.run(wd.command().args(["run", "in.csv", "--dry-run"]), exit::OK);
    std::fs::remove_file(wd.path("forget.db.key")).unwrap();
    for extra in [&[][..], &["--ledger-key-file", "elsewhere.key"][..]] {
        let out = wd.run(
            wd.command()
                .args(["run", "in.csv", "--dry-run"])
                .args(extra),
            exit::USAGE,
        );
        let err = text(&out.stderr);
        for needle in ["FORGET_LEDGER_KEY", "--ledger-key-file", "forget.db.key"] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
    assert!(!wd.path("forget.db.key").exists());
    assert!(!wd.path("elsewhere.key").exists());

    // `forget access` too, which needs the key before its run starts.
    let sample = repo_path("samples/access-requests.csv");
    let access = || {
        let mut cmd = wd.command();
        cmd.arg("access").arg(&sample).args([
            "--out-dir",
            "exports",
            "--simulate",
            "--rate",
            "unlimited",
        ]);
        cmd
    };
    wd.run(&mut access(), exit::INCOMPLETE);
    let key = wd.path("forget-access-simulate.db.key");
    std::fs::remove_file(&key).unwrap();
    let out = wd.run(&mut access(), exit::USAGE);
    assert!(text(&out.stderr).contains("FORGET_LEDGER_KEY"));
    assert!(!key.exists());
}

/// A finished run's ledger (`ledger.db`, its key `ledger.db.key`): 20 keys deleted, 5 not
/// found, one invalid row.
async fn finished_ledger(fx: &Fixture) {
    let held = keys("+4477009", 20);
    let mut csv = String::from("key\n");
    for k in held.iter().chain(&keys("+4477001", 5)) {
        csv.push_str(&format!("{k}\n"));
    }
    csv.push_str("\"\"\n");
    let config = fx.config(vec![fx.write("in.csv", &csv)]);
    let s = fx.run(config).await;
    assert_eq!(
        (s.ledger.deleted, s.ledger.not_found, s.ledger.invalid),
        (20, 5, 1)
    );
}

/// Byte offsets of page `n` (1-based) of a SQLite file with `page_size`.
fn page(n: u64, page_size: u64) -> std::ops::Range<usize> {
    ((n - 1) * page_size) as usize..(n * page_size) as usize
}

/// The page size and the root page of each table and index, read before any flip.
fn layout(path: &Path) -> (u64, Vec<(String, u64)>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0 ORDER BY name")
        .unwrap();
    let roots = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (size as u64, roots)
}

/// Run `args` on `state` in `dir`, expecting `code`; its stdout and stderr.
fn forget(dir: &Path, args: &[&str], state: &Path, code: i32) -> (String, String) {
    let mut cmd = forget_in(dir);
    cmd.args(args).arg("--state").arg(state);
    cmd.stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    (stdout, stderr)
}

/// The reading commands, each with its arguments.
const READERS: [&[&str]; 5] = [
    &["status"],
    &["status", "--json"],
    &["report"],
    &["invalid"],
    &["lookup", "-"],
];

/// Every command that writes the ledger refuses it, naming `forget verify`, and sends
/// nothing.
fn writers_refuse(fx: &Fixture, state: &Path) {
    let dir = fx.dir.path();
    for args in [
        &["run", "--dry-run"][..],
        &["purge", "--outcome", "failed", "--yes"],
    ] {
        let (_, err) = forget(dir, args, state, exit::LEDGER_CHECK);
        assert!(err.contains("forget verify"), "{args:?}: {err}");
    }
    let requests = fx.sim.stats().requests;
    let (_, err) = forget(
        dir,
        &[
            "run",
            "--base-url",
            &fx.handle.url(),
            "--token-file",
            "token",
            "--no-preflight",
        ],
        state,
        exit::LEDGER_CHECK,
    );
    assert!(err.contains("forget verify"), "{err}");
    assert_eq!(fx.sim.stats().requests, requests, "nothing was sent");
}

/// What each reading command prints on a sound ledger (`lookup` of no key: exit 4).
fn answers(dir: &Path, state: &Path) -> Vec<String> {
    READERS
        .iter()
        .map(|args| {
            // The ledger's blank-key row is an open request: status exits 4 too.
            let code =
                if args[0] == "lookup" || args == &["status"] || args == &["status", "--json"] {
                    exit::INCOMPLETE
                } else {
                    exit::OK
                };
            forget(dir, args, state, code).0
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ledger_fails_verify_and_nothing_reads_it_as_truth() {
    let fx = Fixture::new(&keys("+4477009", 20), |_| {}).await;
    fx.write("token", TOKEN);
    finished_ledger(&fx).await;
    let state = fx.path("ledger.db");
    let (_, err) = forget(fx.dir.path(), &["verify"], &state, exit::OK);
    assert!(err.is_empty(), "{err}");
    let (page_size, roots) = layout(&state);
    let sound = std::fs::read(&state).unwrap();
    let sound_answers = answers(fx.dir.path(), &state);

    // One unit's outcome, `deleted` in its row of the table, becomes `daleted`; the index
    // still says `deleted`.
    let units = roots.iter().find(|(name, _)| name == "units").unwrap().1;
    let mut flipped = sound.clone();
    let at = page(units, page_size);
    let found = flipped[at.clone()]
        .windows(7)
        .position(|w| w == b"deleted")
        .expect("a deleted unit in the units table's page");
    flipped[at.start + found + 1] = b'a';
    std::fs::write(&state, &flipped).unwrap();
    let (out, err) = forget(fx.dir.path(), &["verify"], &state, exit::LEDGER_CHECK);
    assert!(
        out.contains("unit_states: FAILED: 1 unit has an outcome that is not a known state"),
        "{out}"
    );
    assert!(out.contains("outcome_counts: FAILED"), "{out}");
    assert!(out.contains("references: ok"), "{out}");
    assert!(err.contains("FAILED"), "{err}");
    let (json, _) = forget(
        fx.dir.path(),
        &["verify", "--format", "json"],
        &state,
        exit::LEDGER_CHECK,
    );
    let verdicts: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&verdicts["schema_version"], &verdicts["ok"]),
        (&serde_json::json!(1), &serde_json::json!(false))
    );
    let unit_states = verdicts["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["check"] == "unit_states")
        .unwrap();
    assert_eq!(
        (
            unit_states["ok"].as_bool(),
            unit_states["problems"].as_u64()
        ),
        (Some(false), Some(1))
    );
    writers_refuse(&fx, &state);
    for args in READERS {
        let (_, err) = forget(fx.dir.path(), args, &state, exit::LEDGER_CHECK);
        assert!(err.contains("forget verify"), "{args:?}: {err}");
    }

    // A page picked at random (seeded) among the tables and indexes gets a broken header.
    let mut seed = 0x5eed_u64;
    for _ in 0..3 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (name, root) = &roots[(seed >> 33) as usize % roots.len()];
        let mut flipped = sound.clone();
        // The b-tree page type byte (page 1 has the file header first).
        let header = page(*root, page_size).start + if *root == 1 { 100 } else { 0 };
        flipped[header] = 0x7f;
        std::fs::write(&state, &flipped).unwrap();
        let (out, _) = forget(fx.dir.path(), &["verify"], &state, exit::LEDGER_CHECK);
        assert!(out.contains(": FAILED"), "{name}: {out}");
        writers_refuse(&fx, &state);
        // A reading command refuses when what it reads is damaged; what it answers from
        // pages that are not is what it answered before.
        for (args, sound) in READERS.iter().zip(&sound_answers) {
            let out = forget_in(fx.dir.path())
                .args(*args)
                .arg("--state")
                .arg(&state)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            match out.status.code() {
                Some(exit::LEDGER_CHECK) => {
                    assert!(
                        text(&out.stderr).contains("forget verify"),
                        "{name} {args:?}"
                    )
                }
                Some(exit::OK | exit::INCOMPLETE) => {
                    assert_eq!(&text(&out.stdout), sound, "{name} {args:?}")
                }
                code => panic!("{name} {args:?}: exit {code:?}: {}", text(&out.stderr)),
            }
        }
    }

    // Restored, it is the ledger it was.
    std::fs::write(&state, &sound).unwrap();
    forget(fx.dir.path(), &["verify"], &state, exit::OK);
    forget(fx.dir.path(), &["status"], &state, exit::INCOMPLETE);
    // The schema itself refuses a value no forget writes.
    let conn = rusqlite::Connection::open(&state).unwrap();
    let err = conn
        .execute("UPDATE units SET outcome = 'daleted' WHERE id = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
}

/// Modification time, size and content of a file, if it exists.
fn snapshot(path: &Path) -> Option<(i64, i64, u64, Vec<u8>)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.mtime(),
        meta.mtime_nsec(),
        meta.len(),
        std::fs::read(path).unwrap(),
    ))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    forget::ledger::sidecar(path, suffix)
}

/// The reading commands, each expected to succeed on `state`.
fn read_everything(dir: &Path, state: &Path, key_file: &Path) -> Vec<String> {
    let key = key_file.to_str().unwrap();
    let mut stderr = Vec::new();
    for (args, code) in [
        (&["status"][..], exit::INCOMPLETE),
        (&["status", "--json"], exit::INCOMPLETE),
        (&["status", "--deadlines"], exit::OK),
        (
            &[
                "report",
                "--manifest",
                "manifest.json",
                "--output",
                "report.csv",
            ],
            exit::OK,
        ),
        (&["invalid"], exit::OK),
        (&["verify"], exit::OK),
        (
            &["lookup", "+447700900001", "--ledger-key-file", key],
            exit::OK,
        ),
    ] {
        stderr.push(forget(dir, args, state, code).1);
    }
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_write_nothing_and_migrate_nothing() {
    let fx = Fixture::new(&keys("+4477009", 20), |_| {}).await;
    finished_ledger(&fx).await;
    let state = fx.path("ledger.db");
    // A commit only the write-ahead log holds, as a killed run leaves it: a connection that
    // never checkpoints records a run, and the files are copied while it is open.
    let pin = rusqlite::Connection::open(&state).unwrap();
    pin.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    pin.execute(
        "INSERT INTO runs (started_at, connector, tool_version, operator, result)
         VALUES ('2026-01-01T00:00:00Z', 'webex', '0.0.0', 'only-in-the-log', 'killed')",
        [],
    )
    .unwrap();
    std::fs::create_dir(fx.path("copy")).unwrap();
    let copy = fx.path("copy/ledger.db");
    for suffix in ["", "-wal"] {
        std::fs::copy(sidecar(&state, suffix), sidecar(&copy, suffix)).unwrap();
    }
    drop(pin);
    let (main, wal) = (snapshot(&copy), snapshot(&sidecar(&copy, "-wal")));
    assert!(wal.as_ref().is_some_and(|w| w.2 > 0));
    read_everything(fx.dir.path(), &copy, &fx.path("ledger.db.key"));
    assert!(snapshot(&copy) == main, "the ledger file was written");
    assert!(
        snapshot(&sidecar(&copy, "-wal")) == wal,
        "its write-ahead log was written"
    );
    // What was read includes the log's commit.
    let manifest = std::fs::read_to_string(fx.path("manifest.json")).unwrap();
    assert!(manifest.contains("only-in-the-log"), "{manifest}");

    // A ledger of an older schema is read as it is, not upgraded.
    let old = fx.path("old.db");
    let conn = rusqlite::Connection::open(&old).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in &forget::ledger::schema::MIGRATIONS[..4] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 4).unwrap();
    drop(conn);
    let before = snapshot(&old);
    let (out, err) = forget(fx.dir.path(), &["status"], &old, exit::OK);
    assert!(out.contains("total keys"), "{out}");
    assert!(err.contains("schema 4"), "{err}");
    forget(fx.dir.path(), &["verify"], &old, exit::OK);
    // Tables later migrations add (access exports' files) are read as absent.
    forget(fx.dir.path(), &["status", "--json"], &old, exit::OK);
    forget(fx.dir.path(), &["status", "--deadlines"], &old, exit::OK);
    forget(fx.dir.path(), &["report"], &old, exit::OK);
    assert!(snapshot(&old) == before, "the older ledger was changed");
    let version: i64 = rusqlite::Connection::open(&old)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
}

/// Whether this process runs as root, where permission bits do not stop a write.
fn running_as_root(dir: &Path) -> bool {
    let probe = dir.join("whoami");
    std::fs::write(&probe, "").unwrap();
    let root = std::fs::metadata(&probe).unwrap().uid() == 0;
    std::fs::remove_file(&probe).unwrap();
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_on_read_only_storage_can_be_audited() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(&keys("+4477009", 20), |_| {}).await;
    if running_as_root(fx.dir.path()) {
        eprintln!(
            "skipped: running as root, where chmod does not make a file or folder read-only; \
             reading_commands_write_nothing_and_migrate_nothing shows the reading commands \
             open the ledger read-only"
        );
        return;
    }
    let mut config = fx.config(vec![fx.csv("in.csv", &keys("+4477009", 20))]);
    std::fs::create_dir(fx.path("archive")).unwrap();
    config.state = fx.path("archive/ledger.db");
    config.ledger_key_file = fx.path("ledger.db.key");
    fx.run(config.clone()).await;
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // The file read-only in a folder that is not: SQLite may keep its -shm beside it.
    mode(&config.state, 0o400);
    read_everything(fx.dir.path(), &config.state, &config.ledger_key_file);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sidecar(&config.state, suffix));
    }
    // The folder read-only too (an archive, an auditor's share): read as immutable.
    mode(&fx.path("archive"), 0o500);
    let notes = read_everything(fx.dir.path(), &config.state, &config.ledger_key_file);
    mode(&fx.path("archive"), 0o700);
    for note in notes {
        assert!(note.contains("read-only storage"), "{note}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_no_erased_key_in_the_ledger_files() {
    let held = keys("+4477009", 300);
    let fx = Fixture::new(&held, |_| {}).await;
    fx.csv("in.csv", &held);
    fx.write("token", TOKEN);
    let state = fx.path("forget.db");
    let files = [
        state.clone(),
        sidecar(&state, "-wal"),
        sidecar(&state, "-shm"),
        sidecar(&state, "-journal"),
    ];
    let contents = || -> Vec<u8> {
        files
            .iter()
            .flat_map(|f| std::fs::read(f).unwrap_or_default())
            .collect()
    };
    let holds = |bytes: &[u8], key: &str| bytes.windows(key.len()).any(|w| w == key.as_bytes());
    let erased = || -> Vec<&String> {
        held.iter()
            .filter(|k| !fx.sim.holds("customers", k))
            .collect()
    };
    let run = run_against(&fx, "forget.db", "50").spawn().unwrap();
    // After some answers, the simulator answers nothing more: the run sends on, its
    // requests hang, and nothing else is recorded.
    wait_until("the simulator answers 20 requests", || {
        fx.sim.stats().requests >= 20
    })
    .await;
    fx.sim.set_faults(vec![(Fault::Slow, 1.0)]);
    // Every key the simulator erased leaves the ledger's files while the run goes on:
    // the writer truncates its log within a second of its last commit.
    wait_until("no erased key is left in the ledger's files", || {
        let bytes = contents();
        erased().iter().all(|k| !holds(&bytes, k))
    })
    .await;
    kill(run);
    let bytes = contents();
    let erased = erased();
    assert!(erased.len() >= 20, "{}", erased.len());
    for key in &erased {
        assert!(!holds(&bytes, key), "{key} is still in the ledger's files");
    }
    // The search finds keys: those still to send are there.
    assert!(held.iter().any(|k| holds(&bytes, k)));
    // And the ledger records every erased key deleted.
    let conn = rusqlite::Connection::open(&state).unwrap();
    let deleted: i64 = conn
        .query_row(
            "SELECT count(*) FROM units WHERE outcome = 'deleted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deleted as usize, erased.len());
}

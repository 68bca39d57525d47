//! Shared test helpers: a simulator on 127.0.0.1:0, temporary work directories, CSV files,
//! fast run configurations, and a `Workdir` that runs the real binary from a cleared
//! environment.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use forget::engine::Rate;
use forget::engine::retry::RetryPolicy;
use forget::input::InputOptions;
use forget::job::RunConfig;
use forget::job::{self, RunSummary};
use forget::secret::Token;
use forget::sim::{self, Sim, SimConfig, SimHandle};
use forget::target::Target;
use forget::tenant::hub::{self, Credentials, Reader};

pub const TOKEN: &str = "test-token-123";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub sim: Arc<Sim>,
    pub handle: SimHandle,
}

impl Fixture {
    /// A simulator holding `held` in profile "customers".
    pub async fn new(held: &[String], tweak: impl FnOnce(&mut SimConfig)) -> Fixture {
        let mut config = SimConfig {
            token: TOKEN.into(),
            profiles: vec![("customers".into(), held.to_vec())],
            record_bodies: true,
            ..SimConfig::default()
        };
        tweak(&mut config);
        let sim = Sim::new(config);
        let handle = sim::spawn(sim.clone()).await.unwrap();
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            sim,
            handle,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A CSV with a `key` column holding `keys`.
    pub fn csv(&self, name: &str, keys: &[String]) -> PathBuf {
        let mut s = String::from("key\n");
        for k in keys {
            s.push_str(k);
            s.push('\n');
        }
        self.write(name, &s)
    }

    pub fn config(&self, files: Vec<PathBuf>) -> RunConfig {
        RunConfig {
            connector: "webex",
            files,
            input: InputOptions {
                profile_default: "customers".into(),
                ..InputOptions::default()
            },
            rate: Rate(None),
            concurrency: 4,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 6,
                base: Duration::from_millis(5),
                cap: Duration::from_millis(50),
            },
            state: self.path("ledger.db"),
            ledger_key_file: self.path("ledger.db.key"),
            retry_rejected: false,
            dry_run: false,
            // Tests count the simulator's requests exactly; the preflight's canary has its
            // own tests (tests/preflight.rs).
            preflight: false,
            quiet: true,
            progress_every: Duration::from_secs(60),
        }
    }

    pub fn url(&self) -> reqwest::Url {
        reqwest::Url::parse(&self.handle.url()).unwrap()
    }

    /// A reader of the simulator's GET endpoints (hub or base form) with `credentials`.
    pub fn reader(&self, flag: &'static str, credentials: Credentials) -> Reader {
        Reader::new(
            flag,
            self.url(),
            credentials,
            reqwest::Client::new(),
            Duration::from_secs(5),
        )
    }

    pub fn bearer(token: &str) -> Credentials {
        Credentials::Bearer {
            token: Token::new(token),
            source: "the test token",
        }
    }

    /// The OAuth client credentials the simulator accepts by default.
    pub fn client_credentials(&self, secret: &str) -> Credentials {
        Credentials::Client {
            id: "sim-client".into(),
            secret: Token::new(secret),
            token_url: hub::default_token_url(&self.url()).unwrap(),
        }
    }

    pub fn target(&self) -> Target {
        self.target_with(TOKEN)
    }

    pub fn target_with(&self, token: &str) -> Target {
        Target::connect(
            forget::connector::Kind::Webex,
            reqwest::Url::parse(&self.handle.url()).unwrap(),
            Token::new(token),
        )
        .unwrap()
    }

    pub async fn run(&self, config: RunConfig) -> RunSummary {
        job::run(config, Some(self.target())).await.unwrap()
    }

    pub fn ledger(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("ledger.db")).unwrap()
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        self.ledger().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

pub fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

/// Runs the real `forget` binary in a temporary directory; prints its output on failure.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// The binary in this directory, from a cleared environment (see `forget_in`).
    pub fn command(&self) -> Command {
        forget_in(self.dir.path())
    }

    /// Run and return the output, asserting the exit code (printing everything if it differs).
    pub fn run(&self, cmd: &mut Command, want_code: i32) -> Output {
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        if code != want_code {
            panic!(
                "{cmd:?}: exit {code}, wanted {want_code}\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out
    }
}

/// The `forget` binary run in `dir` with `base_env(dir)` and nothing else: the environment is
/// cleared, so nothing of the shell the tests run in reaches it. A token, a base URL,
/// `FORGET_STATE`, `FORGET_LOG` or a proxy variable there would change where it sends, with
/// what, and what it prints. A test that wants a variable sets it on the command.
pub fn forget_in(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forget"));
    cmd.current_dir(dir).env_clear().envs(base_env(dir));
    cmd
}

/// The whole environment `forget_in` gives the binary. It is started by its full path and
/// starts no program itself, so it needs no `PATH`; what is set keeps it inside `dir`:
/// - `HOME`: nothing of the user's home can be read or written;
/// - `TMPDIR`: `forget list` without `--out` spools there, removed with the directory;
/// - `LANG=C`: whatever the C library words, it words in one language.
pub fn base_env(dir: &Path) -> [(&'static str, &OsStr); 3] {
    [
        ("HOME", dir.as_os_str()),
        ("TMPDIR", dir.as_os_str()),
        ("LANG", OsStr::new("C")),
    ]
}

/// Run the binary without blocking the runtime (an in-process simulator keeps answering).
pub async fn run_bin(mut cmd: Command, want_code: i32) -> Output {
    let out = tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        (format!("{cmd:?}"), out)
    })
    .await
    .unwrap();
    let (shown, out) = out;
    let code = out.status.code().unwrap_or(-1);
    if code != want_code {
        panic!(
            "{shown}: exit {code}, wanted {want_code}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the simulator saw of keys sent again after their fate was answered: `None` when no
/// key was, else the counts and keys, for a failure message.
///
/// "Exactly once" is about requests, not deletions: the simulator never puts a key back, so
/// a deletion count cannot exceed 1 whatever the client does. A correct client sends a key
/// again only after an answer that left its fate open (a retryable or ambiguous one, or none).
pub fn resent(sim: &Sim) -> Option<String> {
    let stats = sim.stats();
    let keys = sim.keys_resent_without_cause();
    (stats.resent_after_final > 0 || stats.resent_without_cause > 0 || !keys.is_empty()).then(
        || {
            format!(
                "{} requests after a final answer, {} without cause, keys {keys:?}",
                stats.resent_after_final, stats.resent_without_cause
            )
        },
    )
}

/// Asserts that no key was sent again once the simulator had answered its fate (for runs that
/// no kill interrupts: see `crash.rs` for what a kill may lose).
#[track_caller]
pub fn assert_sent_until_final_only(sim: &Sim) {
    if let Some(found) = resent(sim) {
        panic!("a key was sent again after its final answer: {found}");
    }
}

/// Asserts that `key` of profile "customers" got exactly one request, which deleted it.
#[track_caller]
pub fn assert_deleted_by_one_request(sim: &Sim, key: &str) {
    let history = sim.history("customers", key);
    assert_eq!(
        history,
        [sim::DeleteRequest {
            answer: sim::Answer::Deleted,
            delivered: true
        }],
        "{key}"
    );
}

/// A key's unit in the ledger, found by its keyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRow {
    pub outcome: String,
    pub after_ambiguous: bool,
    /// Attempt rows recorded for it, over every run.
    pub attempts: i64,
}

/// The units of `keys` in the ledger `db` (whose ledger key is in `key_file`), by key; keys
/// the ledger has not recorded are left out. Finished keys keep no plaintext, so they are
/// found by keyed hash, as `forget lookup` finds them.
pub fn ledger_units(
    db: &Path,
    key_file: &Path,
    keys: &[String],
) -> std::collections::HashMap<String, UnitRow> {
    let (secret, _) = forget::secret::load_ledger_key(key_file, false).unwrap();
    let hasher = forget::keys::KeyHasher::new(&secret);
    let by_hash: std::collections::HashMap<Vec<u8>, &String> =
        keys.iter().map(|k| (hasher.hash(k).to_vec(), k)).collect();
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT key_hash, outcome, after_ambiguous,
                    (SELECT count(*) FROM attempts a WHERE a.unit_id = u.id)
             FROM units u",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                UnitRow {
                    outcome: r.get(1)?,
                    after_ambiguous: r.get(2)?,
                    attempts: r.get(3)?,
                },
            ))
        })
        .unwrap();
    let mut units = std::collections::HashMap::new();
    for row in rows {
        let (hash, unit) = row.unwrap();
        if let Some(key) = by_hash.get(&hash) {
            units.insert((*key).clone(), unit);
        }
    }
    units
}

/// Polls `condition` every millisecond until it holds; panics after `within` (generous: this
/// waits on progress, it does not time anything).
pub async fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

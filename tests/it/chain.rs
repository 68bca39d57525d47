//! The ledger's hash chain, through the binary: a finished run verifies; one attempt, one
//! outcome or one event edited in the ledger afterwards is caught by `forget verify`, and a
//! ledger of an older forget begins its chain when upgraded, and says so.

use std::path::Path;

use crate::common::{Workdir, text};
use forget::error::exit;

fn sample_run(wd: &Workdir) {
    let mut csv = String::from("key,exparam1\n");
    for i in 0..40 {
        csv.push_str(&format!("+4477009{i:05},DSR-{i}\n"));
    }
    let input = wd.write("in.csv", csv);
    wd.run(
        wd.command().arg("run").arg(&input).args([
            "--simulate",
            "--rate",
            "unlimited",
            "--state",
            "ledger.db",
        ]),
        exit::OK,
    );
}

fn verify(wd: &Workdir, state: &Path, want: i32) -> String {
    let out = wd.run(wd.command().arg("verify").arg("--state").arg(state), want);
    text(&out.stdout)
}

/// A copy of the ledger with `sql` applied (triggers and checks that would refuse it dropped
/// first, as someone editing the file by hand would).
fn tampered(wd: &Workdir, name: &str, sql: &str) -> std::path::PathBuf {
    let copy = wd.path(name);
    std::fs::copy(wd.path("ledger.db"), &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         DROP TRIGGER events_append_only_u; DROP TRIGGER events_append_only_d;",
    )
    .unwrap();
    assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
    drop(conn);
    copy
}

#[test]
fn an_edited_attempt_outcome_or_event_is_caught_by_verify() {
    let wd = Workdir::new();
    sample_run(&wd);
    let sound = verify(&wd, &wd.path("ledger.db"), exit::OK);
    for check in ["chain: ok", "chain_coverage: ok", "chain_outcomes: ok"] {
        assert!(sound.contains(check), "{sound}");
    }

    let cases = [
        (
            "attempt.db",
            "UPDATE attempts SET http_status = 500 WHERE id = 7",
            "chain: FAILED: attempt",
        ),
        (
            // An erasure credited to a transaction the API never answered with.
            "outcome.db",
            "UPDATE units SET transaction_id = 'made-up'
             WHERE id = (SELECT min(id) FROM units WHERE outcome = 'deleted')",
            "'s transaction id is not the one its answer gave",
        ),
        (
            "flipped.db",
            "UPDATE units SET outcome = 'failed', key = '+447700900003'
             WHERE id = (SELECT min(id) FROM units WHERE outcome = 'deleted')",
            "says failed, its last chained answer set deleted",
        ),
        (
            "event.db",
            "UPDATE events SET operator = 'someone else' WHERE id = 1",
            "chain: FAILED: event 1 (to sequence 2) no longer hash",
        ),
        (
            "removed.db",
            "DELETE FROM events WHERE id = 1",
            "chain: FAILED: 1 record(s) before",
        ),
    ];
    for (name, sql, want) in cases {
        let copy = tampered(&wd, name, sql);
        let out = verify(&wd, &copy, exit::LEDGER_CHECK);
        assert!(out.contains(want), "{sql}\n{out}");
    }
}

#[test]
fn a_read_only_copy_verifies_and_an_upgraded_ledger_says_where_its_chain_began() {
    let wd = Workdir::new();
    sample_run(&wd);
    // Read-only storage: the folder and the file.
    let archive = wd.path("archive");
    std::fs::create_dir(&archive).unwrap();
    let copy = archive.join("ledger.db");
    std::fs::copy(wd.path("ledger.db"), &copy).unwrap();
    let read_only = |p: &Path, mode| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    read_only(&copy, 0o400);
    read_only(&archive, 0o500);
    let out = verify(&wd, &copy, exit::OK);
    read_only(&archive, 0o700);
    assert!(out.contains("chain: ok"), "{out}");

    // A ledger as an older forget left it (schema 8: no chain columns, no genesis) is
    // upgraded by the next run, and its chain begins there.
    let old = wd.path("old.db");
    std::fs::copy(wd.path("ledger.db"), &old).unwrap();
    std::fs::copy(wd.path("ledger.db.key"), wd.path("old.db.key")).unwrap();
    let conn = rusqlite::Connection::open(&old).unwrap();
    conn.execute_batch(
        "DELETE FROM meta WHERE name IN ('chain_head', 'chain_genesis');
         DROP TABLE chain_marks;
         ALTER TABLE files DROP COLUMN seq;
         ALTER TABLE attempts DROP COLUMN outcome;
         ALTER TABLE attempts DROP COLUMN transaction_id;
         ALTER TABLE attempts DROP COLUMN seq;
         DROP TRIGGER events_append_only_u; DROP TRIGGER events_append_only_d;
         ALTER TABLE events DROP COLUMN seq;
         ALTER TABLE purges DROP COLUMN seq;
         PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(conn);
    let before = wd.run(
        wd.command().arg("verify").arg("--state").arg(&old),
        exit::OK,
    );
    assert!(
        !text(&before.stdout).contains("chain"),
        "{}",
        text(&before.stdout)
    );
    assert!(
        text(&before.stderr).contains("note: this ledger has no hash chain"),
        "{}",
        text(&before.stderr)
    );
    // A run with no files resumes it: the upgrade begins the chain.
    wd.run(
        wd.command()
            .arg("run")
            .args(["--simulate", "--rate", "unlimited", "--state"])
            .arg(&old),
        exit::OK,
    );
    let after = verify(&wd, &old, exit::OK);
    assert!(after.contains("chain: ok"), "{after}");
    let conn = rusqlite::Connection::open(&old).unwrap();
    let genesis: String = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'chain_genesis'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(genesis.contains("upgraded from schema 8"), "{genesis}");
}

//! Limits on what is sent and kept: audit fields, profile names and kept columns with
//! control characters or over 256 characters are refused at intake — a row becomes invalid
//! naming the field, a flag is a usage error naming the flag — and never sent.

use crate::common::{Fixture, TOKEN, forget_in, keys, run_bin, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_or_control_character_fields_are_refused_at_intake() {
    let held = keys("+4477005", 8);
    let fx = Fixture::new(&held, |_| {}).await;
    let long = |n: usize| "x".repeat(n);
    let rows = [
        // (key, profile-name, exparam1, exparam2, ticket)
        (&held[0], "", long(200 * 1024), "", ""),
        (&held[1], "", "ok".into(), "a\u{1}b", ""),
        (&held[2], "", "\"two\nlines\"".into(), "", ""),
        (&held[3], "", "ok".into(), "", &*long(300)),
        (&held[4], &*long(257), "ok".into(), "", ""),
        (&held[5], "", "ok".into(), "", "T-\u{1b}[31m"),
        (&held[6], "", long(256), "", &*long(256)),
        (&held[7], "customers", "GDPR-1".into(), "", "T-7"),
    ];
    let mut csv = String::from("key,profile-name,exparam1,exparam2,ticket\n");
    for (key, profile, e1, e2, ticket) in &rows {
        csv.push_str(&format!("{key},{profile},{e1},{e2},{ticket}\n"));
    }
    let file = fx.write("requests.csv", &csv);
    let run = |extra: &[&str]| {
        let mut cmd = forget_in(fx.dir.path());
        cmd.arg("run")
            .arg(&file)
            .args(["--base-url", &fx.handle.url()])
            .args(["--keep-column", "ticket", "--state", "ledger.db", "--quiet"])
            .args(["--no-preflight"])
            .args(extra)
            .env("WEBEX_CAMPAIGN_TOKEN", TOKEN);
        cmd
    };

    // Flags: exit 2, naming the flag (not the value), nothing sent, nothing recorded.
    for (flag, value, reason) in [
        (
            "--exparam",
            format!("exparam1={}", long(300)),
            "--exparam exparam1 is longer than 256 characters",
        ),
        (
            "--exparam",
            "exparam2=a\u{1b}b".to_owned(),
            "--exparam exparam2 contains control characters",
        ),
        (
            "--profile-name",
            long(257),
            "--profile-name is longer than 256 characters",
        ),
        (
            "--profile-name",
            "cust\nomers".to_owned(),
            "--profile-name contains control characters",
        ),
    ] {
        let profile = match flag {
            "--profile-name" => vec![],
            _ => vec!["--profile-name", "customers"],
        };
        let out = run_bin(run(&[&profile[..], &[flag, &value]].concat()), 2).await;
        let stderr = text(&out.stderr);
        assert!(stderr.contains(reason), "{flag}: {stderr}");
        assert!(!stderr.contains(&long(257)), "{flag}: the value is quoted");
    }
    assert_eq!(fx.sim.stats().requests, 0);
    assert!(!fx.path("ledger.db").exists());

    // Rows: invalid, with a reason naming the field; the good rows are sent.
    run_bin(run(&["--profile-name", "customers"]), 4).await;
    let mut invalid = forget_in(fx.dir.path());
    invalid.args(["invalid", "--state", "ledger.db"]);
    let listed = text(&run_bin(invalid, 0).await.stdout);
    for (line, reason) in [
        (2, "exparam1 is longer than 256 characters"),
        (3, "exparam2 contains control characters"),
        (4, "exparam1 contains control characters"),
        (6, "column ticket is longer than 256 characters"),
        (7, "profile-name is longer than 256 characters"),
        (8, "column ticket contains control characters"),
    ] {
        assert!(
            listed.contains(&format!("requests.csv:{line}: {reason}")),
            "line {line}: {listed}"
        );
    }
    let sent = fx.sim.received();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for body in &sent {
        for value in body.as_object().unwrap().values() {
            let value = value.as_str().unwrap();
            assert!(value.chars().count() <= 256 && !value.chars().any(char::is_control));
        }
    }
    // Nothing over the limit, nor the escape sequence, was kept.
    let ledger = std::fs::read(fx.path("ledger.db")).unwrap();
    assert!(!String::from_utf8_lossy(&ledger).contains(&long(257)));
    assert_eq!(
        fx.query_i64(
            "SELECT count(*) FROM row_records WHERE instr(extra, char(27)) OR instr(exparams, char(27))"
        ),
        0
    );
}

use super::*;
use crate::ledger::chain::Head;
use crate::ledger::timeline::Bins;

const HOSTILE: &str = "<img src=x onerror=alert(1)>&\"'\u{202e}\n";

fn late(id: &str) -> LateRequest {
    LateRequest {
        file: HOSTILE.into(),
        line: 7,
        request_id: Some(id.into()),
        id_column: Some("ticket".into()),
        key_masked: "+44*******001".into(),
        connector: Some("webex".into()),
        profile_name: Some(HOSTILE.into()),
        outcome: "rejected".into(),
        received_on: Some("2026-10-01".into()),
        due_on: "2026-11-01".into(),
        finished_at: None,
        days_overdue: 29,
    }
}

/// A summary whose every string from a ledger or input is hostile.
fn hostile_summary(chain: Option<Head>) -> Summary {
    let requests = RequestCounts {
        people: 3,
        requests: 4,
        units: 3,
        open: 2,
        needs_attention: 1,
        ended: 2,
        pending: 1,
        rejected: 1,
        erased: 2,
        ..RequestCounts::default()
    };
    let counts = Counts {
        total: 3,
        deleted: 2,
        rejected: 1,
        ..Counts::default()
    };
    let bins = Bins {
        start: 1_796_032_800,
        width: 1,
        count: 3,
    };
    let ledger = Path::new("it's <mine>.db");
    Summary {
        ledger: ledger.display().to_string(),
        state_flag: requests::state_flag(ledger),
        generated_at: "2026-11-30T12:00:00.123Z".into(),
        hints: requests::open_hints(&requests, ledger, RUN_AGAIN),
        requests,
        counts: counts.clone(),
        by_scope: vec![ScopeCounts {
            connector: "webex".into(),
            scope: HOSTILE.into(),
            counts: counts.clone(),
        }],
        files: vec![(
            FileFact {
                path: HOSTILE.into(),
                sha256: "ab".into(),
                rows: Some(4),
                requests: 3,
                duplicates: 0,
                invalid: 1,
                added_at: "2026-11-30T10:00:00Z".into(),
                profile_default: String::new(),
                key_column: "key".into(),
                received_column: Some("received".into()),
                kept_columns: vec!["ticket".into()],
            },
            counts,
        )],
        runs: vec![RunFact {
            id: 1,
            started_at: "2026-11-30T10:00:00Z".into(),
            ended_at: None,
            connector: "webex".into(),
            api_host: Some(HOSTILE.into()),
            rate: Some(HOSTILE.into()),
            operator: Some(HOSTILE.into()),
            host: Some(HOSTILE.into()),
            tool_version: "0.1.0".into(),
            result: Some(HOSTILE.into()),
        }],
        run_calls: vec![RunCalls {
            run_id: 1,
            calls: 6,
            throttled: 1,
            bins,
            per_bin: vec![3, 0, 3],
            throttled_per_bin: vec![1, 0, 0],
        }],
        activity: Some(Activity {
            bins: Bins { width: 60, ..bins },
            sent: vec![2, 0, 1],
            erased: vec![1, 0, 1],
            not_found: vec![0, 0, 0],
            attention: vec![0, 1, 0],
        }),
        deadlines: Deadlines {
            summary: DeadlineSummary {
                today: "2026-11-30".into(),
                dated: 3,
                overdue: 1,
                ..DeadlineSummary::default()
            },
            overdue: Listed {
                shown: vec![late(HOSTILE)],
                total: 51,
            },
            due_soon: Listed {
                shown: vec![],
                total: 0,
            },
            late: Listed {
                shown: vec![late("T-2")],
                total: 1,
            },
        },
        chain,
        unfinished: (1, false),
    }
}

#[test]
fn every_value_from_the_ledger_is_escaped() {
    let page = render(&hostile_summary(None));
    assert!(!page.contains("<img"), "a raw tag from the ledger");
    assert!(!page.contains('\u{202e}'), "a raw bidi override");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;\\u{202e}\\n"));
    // The ledger's name in a hint's command: shell-quoted, then escaped.
    assert!(
        page.contains("<code>forget resolve --state &#39;it&#39;\\&#39;&#39;s &lt;mine&gt;.db&#39; --outcome rejected"),
        "{page}"
    );
    // No line of the page but those the page itself breaks: a value's newline is shown.
    assert!(!page.contains(">\n<img"));
}

#[test]
fn a_page_is_self_contained_and_says_where_it_comes_from() {
    let page = render(&hostile_summary(None));
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.contains("<title>Erasure requests: some need attention — forget summary</title>"));
    for refused in [
        "<script", "http://", "https://", "src=\"", "url(", "@import", "<link",
    ] {
        assert!(!page.contains(refused), "{refused}");
    }
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("not chained"), "no chain head yet");
    assert!(page.contains("2026-11-30 12:00:00 UTC"));
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
    let chained = render(&hostile_summary(Some(Head {
        seq: 1234,
        hash: "9f".repeat(32),
    })));
    assert!(chained.contains(&format!(
        "<code>{}</code> after 1,234 chained records",
        "9f".repeat(32)
    )));
}

#[test]
fn long_lists_say_how_many_more_and_where_to_see_them() {
    let page = render(&hostile_summary(None));
    assert!(
        page.contains("Overdue: still open after their due date (51; the first 1 shown)"),
        "{page}"
    );
    assert!(page.contains("<code>forget status --deadlines --state "));
    // One row of 429s: its share, and the run's chart.
    assert!(page.contains("6 calls, 1 answered 429 (16.7%)"), "{page}");
    assert!(page.contains("aria-labelledby=\"run-1-t run-1-d\""));
}

#[test]
fn times_are_shown_for_people() {
    assert_eq!(
        shown_time("2026-11-30T03:59:14.163788997Z"),
        "2026-11-30 03:59:14 UTC"
    );
    assert_eq!(
        shown_time("2026-11-30T03:59:14Z"),
        "2026-11-30 03:59:14 UTC"
    );
    assert_eq!(shown_time("yesterday"), "yesterday");
}

use super::*;
use std::path::Path;

use crate::actor::Actor;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;

fn request(line: u64, key: &str) -> ParsedRow {
    ParsedRow::Request {
        line,
        key: key.into(),
        scope: "customers".into(),
        exparams: vec![],
        row_exparams: vec![],
        received: None,
        date_unreadable: None,
        extra: vec![],
    }
}

fn event(ledger: &Ledger, kind: &str, line: Option<u64>, unit: Option<i64>) {
    events::record(
        ledger.conn(),
        &Actor::default(),
        &events::Event {
            kind,
            file_id: line.map(|_| 1),
            line,
            unit_id: unit,
            reason: Some("why"),
            detail: None,
        },
    )
    .expect("test setup");
}

/// The events of other parts of the life of a request (an unreadable date, a unit set
/// aside by the preflight) and the operator's resolution all count where they should.
#[test]
fn each_state_is_derived_from_rows_units_and_events() -> crate::Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let hasher = KeyHasher::new(b"test secret 1234");
    let file = ledger.begin_file("in.csv", "aaa", "webex", "customers", "key")?;
    let rows = [
        request(2, "+447700900001"),
        request(3, "+447700900002"),
        request(4, "+447700900003"),
        request(5, "+447700900004"),
        request(6, "+447700900001"),
        ParsedRow::Invalid {
            line: 7,
            reason: "blank key".into(),
            raw_key: None,
            extra: vec![],
        },
    ];
    ledger.record_rows(file.id, "webex", &hasher, &rows)?;
    ledger.conn().execute_batch(
        "UPDATE units SET outcome = 'deleted', key = NULL, transaction_id = 't' WHERE id = 1;
         UPDATE units SET outcome = 'rejected' WHERE id = 2;",
    )?;
    event(&ledger, events::DATE_UNREADABLE, Some(2), Some(1));
    event(&ledger, events::SET_ASIDE, None, Some(3));
    event(&ledger, events::RESOLVED, Some(7), None);
    let c = ledger.request_counts(None)?;
    let states = [
        (State::DateUnreadable, 1), // line 2: erased, but its date needs attention
        (State::Rejected, 1),       // line 3
        (State::SetAside, 1),       // line 4: pending, set aside
        (State::Pending, 1),        // line 5
        (State::Erased, 1),         // line 6: a duplicate of line 2's unit
        (State::Resolved, 1),       // line 7: invalid, resolved
    ];
    for (state, n) in states {
        assert_eq!(c.get(state), n, "{state:?}: {c:?}");
    }
    assert_eq!((c.requests, c.people, c.units), (6, 4, 4));
    // The counts (read by unit, then moved by events) agree with the state of each row.
    let mut each = RequestCounts::default();
    for r in ledger.requests_where("1", [])? {
        *each.slot(r.state) += 1;
    }
    for s in State::ALL {
        assert_eq!(each.get(s), c.get(s), "{s:?}");
    }
    assert_eq!(ledger.request_state(1, 2)?, Some(State::DateUnreadable));
    assert_eq!(ledger.request_state(1, 7)?, Some(State::Resolved));
    assert_eq!(ledger.request_state(1, 8)?, None);
    assert_eq!((c.open, c.needs_attention, c.ended), (4, 3, 2));
    Ok(())
}

#[test]
fn state_flags_name_only_a_ledger_that_is_not_the_default() {
    assert_eq!(state_flag(Path::new("forget.db")), "");
    assert_eq!(
        state_flag(Path::new("forget-simulate.db")),
        " --state forget-simulate.db"
    );
    assert_eq!(
        state_flag(Path::new("my ledger.db")),
        " --state 'my ledger.db'"
    );
    assert_eq!(shell_word("it's"), r"'it'\''s'");
}

#[test]
fn states_round_trip_and_split_into_open_and_ended() {
    for s in State::ALL {
        assert_eq!(State::parse(s.as_str()), Some(s));
    }
    let ended: Vec<_> = State::ALL.into_iter().filter(|s| s.is_ended()).collect();
    assert_eq!(ended.len(), 4);
    assert!(!State::Pending.needs_attention());
    assert!(State::ATTENTION.iter().all(|s| s.needs_attention()));
}

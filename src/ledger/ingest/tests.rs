use super::*;

fn request(line: u64, key: &str) -> ParsedRow {
    ParsedRow::Request {
        line,
        key: key.into(),
        scope: "customers".into(),
        exparams: vec![("exparam1".into(), "ticket-1".into())],
        row_exparams: vec![],
        received: None,
        date_unreadable: None,
        extra: vec![],
    }
}

#[test]
fn duplicates_link_to_one_unit_across_files() -> Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let hasher = KeyHasher::new(b"test secret 1234");
    let a = ledger.begin_file("a.csv", "aaa", "webex", "customers", "key")?;
    let counts = ledger.record_rows(
        a.id,
        "webex",
        &hasher,
        &[
            request(2, "+447700900001"),
            request(3, "+447700900001"),
            ParsedRow::Invalid {
                line: 4,
                reason: "blank key".into(),
                raw_key: None,
                extra: vec![],
            },
        ],
    )?;
    assert_eq!(
        counts,
        IngestCounts {
            rows: 3,
            new_units: 1,
            duplicates: 1,
            invalid: 1,
            ..IngestCounts::default()
        }
    );
    ledger.finish_file(a.id)?;
    let b = ledger.begin_file("b.csv", "bbb", "webex", "customers", "key")?;
    let counts = ledger.record_rows(b.id, "webex", &hasher, &[request(2, "+447700900001")])?;
    assert_eq!(counts.duplicates, 1);
    let c = ledger.counts()?;
    assert_eq!((c.total, c.pending, c.duplicates, c.invalid), (1, 1, 2, 1));
    Ok(())
}

#[test]
fn units_inserted_in_hash_order_still_match_their_rows() -> Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let hasher = KeyHasher::new(b"test secret 1234");
    let f = ledger.begin_file("a.csv", "aaa", "webex", "customers", "key")?;
    // Lines 2..=51 hold keys k0..k49, then line 52 repeats k7.
    let mut rows: Vec<ParsedRow> = (0..50).map(|i| request(i + 2, &format!("k{i}"))).collect();
    rows.push(request(52, "k7"));
    ledger.record_rows(f.id, "webex", &hasher, &rows)?;
    let mut stmt = ledger.conn().prepare(
        "SELECT rows.line, rows.kind, units.key FROM rows JOIN units ON units.id = rows.unit_id
         ORDER BY rows.line",
    )?;
    let got: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut want: Vec<(i64, String, String)> = (0..50)
        .map(|i| (i + 2, "request".to_owned(), format!("k{i}")))
        .collect();
    want.push((52, "duplicate".into(), "k7".into()));
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn a_file_is_known_by_content_and_resumes_after_its_last_line() -> Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let hasher = KeyHasher::new(b"test secret 1234");
    let f = ledger.begin_file("a.csv", "aaa", "webex", "customers", "key")?;
    ledger.record_rows(
        f.id,
        "webex",
        &hasher,
        &[request(2, "x1"), request(3, "x2")],
    )?;
    let again = ledger.begin_file("renamed.csv", "aaa", "webex", "customers", "key")?;
    assert_eq!(
        again,
        FileEntry {
            id: f.id,
            recorded_through: 3,
            complete: false
        }
    );
    ledger.finish_file(f.id)?;
    assert!(
        ledger
            .begin_file("a.csv", "aaa", "webex", "customers", "key")?
            .complete
    );
    // The same content for another profile is new work.
    assert_ne!(
        ledger
            .begin_file("a.csv", "aaa", "webex", "other", "key")?
            .id,
        f.id
    );
    // ... and so is the same content read for another connector.
    assert_ne!(
        ledger
            .begin_file("a.csv", "aaa", "outreach", "customers", "id")?
            .id,
        f.id
    );
    Ok(())
}

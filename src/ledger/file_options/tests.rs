use super::*;
use crate::input::ParsedRow;
use crate::keys::KeyHasher;
use crate::ledger::verify::Depth;

fn options(profile: &str) -> FileOptions {
    FileOptions {
        connector: "webex".into(),
        key_column: "key".into(),
        profile_default: profile.into(),
        exparams: vec![],
        received_column: None,
        date_format: None,
        keep_columns: vec![],
        delimiter: ",".into(),
        legacy: false,
    }
}

fn request(line: u64, key: &str, scope: &str) -> ParsedRow {
    ParsedRow::Request {
        line,
        key: key.into(),
        scope: scope.into(),
        exparams: vec![],
        row_exparams: vec![],
        received: None,
        date_unreadable: None,
        extra: vec![],
    }
}

#[test]
fn differences_name_each_flag_and_ignore_how_a_column_is_spelled() {
    let old = options("customers");
    let mut new = old.clone();
    new.key_column = " KEY ".into();
    new.keep_columns = vec![];
    assert!(old.same_as(&new), "{:?}", old.differences(&new));
    new.received_column = Some("received".into());
    new.date_format = Some("dd/MM/yyyy".into());
    new.keep_columns = vec!["ticket".into()];
    new.exparams = vec![("exparam1".into(), "T".into())];
    new.delimiter = ";".into();
    new.profile_default = String::new();
    assert_eq!(
        old.differences(&new),
        [
            "--profile-name: \"customers\" → (the tenant's default)",
            "--received-column: (none) → \"received\"",
            "--keep-column: (none) → ticket",
            "--exparam: (none) → exparam1=T",
            "--delimiter: ',' → ';'",
        ]
    );
    // The date layout matters only where both read a date column.
    let mut dated = new.clone();
    dated.date_format = Some("yyyy-MM-dd".into());
    assert_eq!(
        dated.differences(&new),
        ["--date-format: \"yyyy-MM-dd\" → \"dd/MM/yyyy\""]
    );
    // A file recorded before options were: only what was recorded then is compared.
    let legacy = FileOptions {
        legacy: true,
        ..options("customers")
    };
    let mut now = options("customers");
    now.exparams = vec![("exparam1".into(), "T".into())];
    now.delimiter = ";".into();
    assert!(legacy.same_as(&now));
    now.profile_default = "vip".into();
    assert!(!legacy.same_as(&now));
}

#[test]
fn a_file_is_planned_by_content_and_options() -> Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let actor = Actor::default();
    assert_eq!(ledger.file_plan("aaa", &options("a"))?, FilePlan::New);
    let id = ledger.record_new_file("a.csv", "aaa", &options("a"), true, &actor)?;
    assert_eq!(
        ledger.file_plan("aaa", &options("a"))?,
        FilePlan::Recorded { id, dry_run: true }
    );
    assert_eq!(
        ledger.file_plan("aaa", &options("b"))?,
        FilePlan::ReplaceDry {
            id,
            old: options("a")
        }
    );
    ledger.adopt_dry_file(id, &options("a"), &actor)?;
    assert_eq!(
        ledger.file_plan("aaa", &options("b"))?,
        FilePlan::Refuse { old: options("a") }
    );
    // Another connector's reading of the same content is its own recording.
    let mut outreach = options("callPurposes");
    outreach.connector = "outreach".into();
    assert_eq!(ledger.file_plan("aaa", &outreach)?, FilePlan::New);
    let events: i64 = ledger.conn().query_row(
        "SELECT count(*) FROM events WHERE kind = 'options_recorded' AND file_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    assert_eq!(events, 2);
    Ok(())
}

/// A dry run's file replaced while a real file repeats one of its keys: the real row
/// becomes that unit's request, the dry run's own units go, and the ledger passes its checks.
#[test]
fn replacing_a_dry_run_keeps_what_real_files_share_with_it() -> Result<()> {
    let mut ledger = Ledger::open_in_memory()?;
    let hasher = KeyHasher::new(b"test secret 1234");
    let actor = Actor::default();
    let dry = ledger.record_new_file("a.csv", "aaa", &options("custmers"), true, &actor)?;
    ledger.record_rows(
        dry,
        "webex",
        &hasher,
        &[request(2, "k1", "custmers"), request(3, "k2", "custmers")],
    )?;
    ledger.finish_file(dry)?;
    let real = ledger.record_new_file("b.csv", "bbb", &options("custmers"), false, &actor)?;
    ledger.record_rows(real, "webex", &hasher, &[request(2, "k2", "custmers")])?;
    ledger.finish_file(real)?;
    let dry_units = |l: &Ledger| -> Result<i64> {
        Ok(l.conn()
            .query_row("SELECT count(*) FROM units WHERE dry_run = 1", [], |r| {
                r.get(0)
            })?)
    };
    // k2 is asked for by a real file: it is no longer the dry run's alone.
    assert_eq!(dry_units(&ledger)?, 1);
    assert_eq!(
        ledger.count_units("webex", &[crate::outcome::Outcome::Pending], false)?,
        1
    );

    ledger.replace_dry_file(
        dry,
        &options("custmers"),
        &options("customers"),
        false,
        &actor,
    )?;
    let kinds: Vec<(i64, i64, String)> = ledger
        .conn()
        .prepare("SELECT file_id, line, kind FROM rows ORDER BY file_id, line")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    assert_eq!(kinds, [(real, 2, "request".to_owned())]);
    assert_eq!(dry_units(&ledger)?, 0);
    let units: i64 = ledger
        .conn()
        .query_row("SELECT count(*) FROM units", [], |r| r.get(0))?;
    assert_eq!(units, 1);
    let (recorded_through, rows): (i64, Option<i64>) = ledger.conn().query_row(
        "SELECT recorded_through, rows FROM files WHERE id = ?1",
        [dry],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!((recorded_through, rows), (0, None));
    // Recorded again with the new options, the file is whole and the ledger sound.
    let entry = ledger.begin_file("a.csv", "aaa", "webex", "customers", "key")?;
    assert_eq!(entry.id, dry);
    ledger.record_rows(
        dry,
        "webex",
        &hasher,
        &[request(2, "k1", "customers"), request(3, "k2", "customers")],
    )?;
    ledger.finish_file(dry)?;
    let failed: Vec<String> = ledger
        .verify(Depth::All)?
        .iter()
        .filter(|v| !v.ok)
        .map(|v| v.line())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let replaced: String = ledger.conn().query_row(
        "SELECT detail FROM events WHERE kind = 'dry_run_replaced'",
        [],
        |r| r.get(0),
    )?;
    let replaced: serde_json::Value = serde_json::from_str(&replaced).unwrap_or_default();
    assert_eq!(
        (
            replaced["rows_dropped"].as_i64(),
            replaced["units_dropped"].as_i64()
        ),
        (Some(2), Some(1))
    );
    Ok(())
}

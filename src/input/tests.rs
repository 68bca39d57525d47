use super::*;

fn rows_of(content: &[u8], opts: &InputOptions) -> Result<Vec<ParsedRow>> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let path = dir.path().join("in.csv");
    std::fs::write(&path, content).map_err(|e| Error::io("write", e))?;
    let file = inspect(&path, opts)?;
    let mut reader = file.rows(opts)?;
    let mut out = Vec::new();
    while let Some(row) = reader.next_row()? {
        out.push(row);
    }
    Ok(out)
}

fn keys(rows: &[ParsedRow]) -> Vec<String> {
    rows.iter()
        .map(|r| match r {
            ParsedRow::Request { key, .. } => key.clone(),
            ParsedRow::Invalid { reason, .. } => format!("invalid: {reason}"),
        })
        .collect()
}

fn file_error(content: &[u8]) -> String {
    match rows_of(content, &InputOptions::default()) {
        Err(e) => e.to_string(),
        Ok(rows) => panic!("expected a file error, got {rows:?}"),
    }
}

#[test]
fn rows_and_their_problems() -> Result<()> {
    let opts = InputOptions::default();
    let case = |content: &str, want: &[&str]| -> Result<()> {
        assert_eq!(
            keys(&rows_of(content.as_bytes(), &opts)?),
            want,
            "{content:?}"
        );
        Ok(())
    };
    case("key\na@b.com\n", &["a@b.com"])?;
    case("\u{feff}key\r\na@b.com\r\n+4477\r\n", &["a@b.com", "+4477"])?;
    case(
        "id,key\n1,\"x,y\"\n2,\"multi\nline\"\n",
        &["x,y", "invalid: key contains control characters"],
    )?;
    case(
        "key,b\n  \n k \n",
        &[
            "invalid: has 1 fields, the header has 2",
            "invalid: has 1 fields, the header has 2",
        ],
    )?;
    case("key,b\n,1\n k ,2\n", &["invalid: blank key", "k"])?;
    case(
        "key,b\nx,1,2\n",
        &["invalid: has 3 fields, the header has 2"],
    )?;
    case(
        "key\na\u{0}b\n",
        &["invalid: key contains control characters"],
    )?;
    case(
        &format!("key\n{}\n", "x".repeat(300)),
        &["invalid: key is longer than 256 characters"],
    )?;
    case("Key\nA\n", &["A"])?;
    Ok(())
}

#[test]
fn invalid_utf8_in_one_row_spares_the_others() -> Result<()> {
    let rows = rows_of(b"key\nok1\n\xff\xfe\nok2\n", &InputOptions::default())?;
    assert_eq!(
        keys(&rows),
        ["ok1", "invalid: field 1 is not valid UTF-8", "ok2"]
    );
    assert!(matches!(rows[1], ParsedRow::Invalid { line: 3, .. }));
    Ok(())
}

#[test]
fn line_numbers_are_physical_with_lf_and_crlf() -> Result<()> {
    for content in [
        &b"k,key\n1,a\n2,b\nX,  \n"[..],
        b"k,key\r\n1,a\r\n2,b\r\nX,  \r\n",
    ] {
        let rows = rows_of(content, &InputOptions::default())?;
        assert!(
            matches!(rows[2], ParsedRow::Invalid { line: 4, .. }),
            "{rows:?}"
        );
    }
    Ok(())
}

#[test]
fn line_numbers_count_physical_lines() -> Result<()> {
    let rows = rows_of(
        b"key,note\na,\"two\nlines\"\nb,x\n",
        &InputOptions::default(),
    )?;
    let lines: Vec<u64> = rows
        .iter()
        .map(|r| match r {
            ParsedRow::Request { line, .. } | ParsedRow::Invalid { line, .. } => *line,
        })
        .collect();
    assert_eq!(lines, [2, 4]);
    Ok(())
}

#[test]
fn profile_and_exparams_with_defaults() -> Result<()> {
    let opts = InputOptions {
        profile_default: "customers".into(),
        exparam_defaults: vec![
            ("exparam1".into(), "run".into()),
            ("exparam2".into(), "gdpr".into()),
        ],
        ..InputOptions::default()
    };
    let rows = rows_of(b"key,profile-name,exparam1\na,,row\nb,vip,\n", &opts)?;
    let want = |key: &str, scope: &str, exparams: &[(&str, &str)], own: &[(&str, &str)]| {
        ParsedRow::Request {
            line: 0,
            key: key.into(),
            scope: scope.into(),
            exparams: exparams
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            row_exparams: own
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            received: None,
            date_unreadable: None,
            extra: vec![],
        }
    };
    let strip = |r: &ParsedRow| match r.clone() {
        ParsedRow::Request {
            key,
            scope,
            exparams,
            row_exparams,
            ..
        } => ParsedRow::Request {
            line: 0,
            key,
            scope,
            exparams,
            row_exparams,
            received: None,
            date_unreadable: None,
            extra: vec![],
        },
        other => other,
    };
    assert_eq!(
        strip(&rows[0]),
        want(
            "a",
            "customers",
            &[("exparam1", "row"), ("exparam2", "gdpr")],
            &[("exparam1", "row")]
        )
    );
    assert_eq!(
        strip(&rows[1]),
        want(
            "b",
            "vip",
            &[("exparam1", "run"), ("exparam2", "gdpr")],
            &[]
        )
    );
    Ok(())
}

#[test]
fn received_dates_and_kept_columns() -> Result<()> {
    let opts = InputOptions {
        received_column: Some("Received".into()),
        keep_columns: vec!["ticket".into()],
        today: deadline::parse_date("2026-11-20").map_err(Error::usage)?,
        ..InputOptions::default()
    };
    let rows = rows_of(
        b"key,received,ticket,name\n\
          a@x.io,2026-01-31,T-1,Ann\n\
          b@x.io,,,Bob\n\
          c@x.io,2026-02-30,T-3,Cy\n\
          d@x.io,2026-11-22,T-4,Di\n\
          e@x.io,2026-11-21,about e@x.io,Ed\n\
          ,2026-01-01,T-6,\n",
        &opts,
    )?;
    let got: Vec<String> = rows
        .iter()
        .map(|r| match r {
            ParsedRow::Request {
                received,
                date_unreadable,
                extra,
                ..
            } => match date_unreadable {
                Some(reason) => format!("undated: {reason} {extra:?}"),
                None => format!("{:?} {extra:?}", received.map(deadline::format_date)),
            },
            ParsedRow::Invalid { reason, extra, .. } => format!("invalid: {reason} {extra:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"Some("2026-01-31") [("ticket", "T-1")]"#,
            "None []",
            // A date that cannot be read leaves the request undated, flagged, and sent.
            r#"undated: received date `2026-02-30` is not a date as yyyy-MM-dd (e.g. 2026-11-02; --date-format names the layout) [("ticket", "T-3")]"#,
            r#"undated: received date 2026-11-22 is in the future [("ticket", "T-4")]"#,
            // A kept column never keeps the key itself.
            r#"Some("2026-11-21") [("ticket", "about e***@x***.io")]"#,
            r#"invalid: blank key [("ticket", "T-6")]"#,
        ]
    );
    Ok(())
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    let case = |content: &[u8], want: &str| {
        let message = file_error(content);
        assert!(
            message.contains(want),
            "{message:?} should contain {want:?}"
        );
    };
    case(b"", "is empty");
    case(b"key\n", "no requests");
    case(
        b"email,name\na,b\n",
        "no `key` column; the columns found are: `email`, `name`. Pass --key-column",
    );
    case(b"key,Key\na,b\n", "appears twice");
    case(b"key,exparam11\na,b\n", "exparam1 to exparam10");
    case(b"key,exparam0\na,b\n", "exparam1 to exparam10");
    case(b"\x1f\x8b\x08\x00rest", "gzip");
}

#[test]
fn without_profile_and_exparam_columns_every_row_takes_the_default_scope() -> Result<()> {
    let opts = InputOptions {
        key_column: "id".into(),
        profile_default: "callPurposes".into(),
        validate_key: |k| k.parse::<u64>().map(|_| ()).map_err(|_| "not an id".into()),
        profile_and_exparam_columns: false,
        ..InputOptions::default()
    };
    let rows = rows_of(
        b"id,profile-name,exparam11,name\n7,vip,x,Intro\nseven,,,\n",
        &opts,
    )?;
    assert_eq!(keys(&rows), ["7", "invalid: not an id"]);
    assert!(
        matches!(&rows[0], ParsedRow::Request { scope, exparams, .. }
            if scope == "callPurposes" && exparams.is_empty()),
        "{rows:?}"
    );
    Ok(())
}

#[test]
fn semicolon_and_tab_files_are_detected() -> Result<()> {
    assert_eq!(
        keys(&rows_of(b"key;note\na;1\n", &InputOptions::default())?),
        ["a"]
    );
    assert_eq!(
        keys(&rows_of(b"note\tkey\n1\tb\n", &InputOptions::default())?),
        ["b"]
    );
    let forced = InputOptions {
        delimiter: Some(b','),
        ..InputOptions::default()
    };
    let message = match rows_of(b"email;note\na;1\n", &forced) {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    assert!(message.contains("--delimiter"), "{message}");
    Ok(())
}

#[test]
fn missing_file_and_directory() {
    let opts = InputOptions::default();
    let missing = inspect(Path::new("/nonexistent/forget.csv"), &opts)
        .map(|_| ())
        .err()
        .map(|e| e.to_string());
    assert!(missing.is_some_and(|m| m.contains("no such file")));
    let dir = std::env::temp_dir();
    let message = inspect(&dir, &opts)
        .map(|_| ())
        .err()
        .map(|e| e.to_string());
    assert!(message.is_some_and(|m| m.contains("is a directory")));
}

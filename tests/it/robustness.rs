//! No panic on any bytes: property tests of CSV ingest and of the answer classifier, and a
//! replay of the regression corpus in `tests/corpus/` (add a file there for every input that
//! ever broke something).

use std::path::Path;

use forget::connector::Answer;
use forget::connector::webex::classify;
use forget::input::ParsedRow;
use forget::input::{InputOptions, inspect};
use forget::keys::KeyHasher;
use proptest::prelude::*;

/// Inspect and read a whole file; an `Err` is a refused file, which is fine; a panic is not.
fn ingest_bytes(bytes: &[u8]) -> Result<Vec<ParsedRow>, forget::Error> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, bytes).unwrap();
    let opts = InputOptions::default();
    let file = inspect(&path, &opts)?;
    let mut reader = file.rows(&opts)?;
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row()? {
        rows.push(row);
    }
    Ok(rows)
}

fn check_rows(rows: &[ParsedRow]) {
    let mut last = 0;
    for row in rows {
        let line = match row {
            ParsedRow::Request { line, key, .. } => {
                assert!(!key.is_empty() && key.len() <= 4 * forget::input::MAX_KEY_LEN);
                assert!(!key.chars().any(char::is_control));
                *line
            }
            ParsedRow::Invalid { line, reason, .. } => {
                assert!(!reason.is_empty());
                *line
            }
        };
        assert!(
            line >= last,
            "line numbers go backwards: {line} after {last}"
        );
        last = line;
    }
}

fn classify_bytes(status: u16, body: &[u8]) {
    let headers = reqwest::header::HeaderMap::new();
    let v = classify(&Answer {
        status,
        headers: &headers,
        body,
    });
    let _ = v.label();
}

/// CSV-ish bytes: mostly the characters that matter to a CSV parser.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(b','),
        Just(b'"'),
        Just(b'\n'),
        Just(b'\r'),
        Just(b';'),
        Just(b'\t'),
        Just(b' '),
        Just(0u8),
        Just(0xffu8),
        Just(0xefu8),
        b'a'..=b'z',
        any::<u8>()
    ];
    (prop::collection::vec(byte, 0..400)).prop_map(|body| {
        let mut v = b"key,exparam1,profile-name\n".to_vec();
        v.extend(body);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ingest_never_panics_on_csvish_input(bytes in csvish()) {
        if let Ok(rows) = ingest_bytes(&bytes) {
            check_rows(&rows);
        }
    }

    #[test]
    fn ingest_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(rows) = ingest_bytes(&bytes) {
            check_rows(&rows);
        }
    }

    #[test]
    fn classify_never_panics_on_any_body(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..200)) {
        classify_bytes(status, &body);
    }

    #[test]
    fn classify_never_panics_on_json_like_bodies(
        status in prop_oneof![Just(200u16), Just(401), Just(429), Just(500), 100u16..600],
        code in prop_oneof![Just("1020".to_string()), Just("102".to_string()), "[0-9]{0,6}", ".*"],
        numeric in any::<bool>(),
        tid in proptest::option::of(".{0,20}"),
    ) {
        let code = if numeric { code.clone() } else { format!("{code:?}") };
        let mut body = format!("{{\"code\":{code}");
        if let Some(t) = tid {
            body.push_str(&format!(",\"transaction-id\":{t:?}"));
        }
        body.push('}');
        classify_bytes(status, body.as_bytes());
    }

    #[test]
    fn keyed_hashes_never_collide_for_distinct_keys(a in ".{1,40}", b in ".{1,40}") {
        let h = KeyHasher::new(b"property test key");
        prop_assert_eq!(a == b, h.hash(&a) == h.hash(&b));
    }
}

fn corpus(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn the_csv_corpus_ingests_without_panic() {
    for (name, bytes) in corpus("csv") {
        match ingest_bytes(&bytes) {
            Ok(rows) => check_rows(&rows),
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
}

#[test]
fn the_answer_corpus_classifies_without_panic() {
    for (_, bytes) in corpus("answers") {
        for status in [200, 401, 404, 429, 499, 500, 502] {
            classify_bytes(status, &bytes);
        }
    }
}

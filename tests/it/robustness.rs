//! No panic on any bytes: property tests of CSV ingest and of the answer classifier; and the
//! regression corpus in `tests/corpus/`, each file read or classified as its expectation
//! says (`answers.expected`, `csv.expected`). Add a file there, with its expected reading,
//! for every input that ever broke something.

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
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// The lines of `tests/corpus/{name}.expected` that are not comments, by their first field
/// (a file of the corpus). Every file of the corpus must have one, and only those.
fn expectations(name: &str, sep: &str) -> Vec<(String, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(format!("{name}.expected"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut fields = l.split(sep).map(|f| f.trim().to_owned());
            (fields.next().unwrap(), fields.collect())
        })
        .collect()
}

/// Each file of `corpus` paired with its expectation; panics on a file without one, or an
/// expectation without its file.
fn expected_for(
    corpus: Vec<(String, Vec<u8>)>,
    expected: Vec<(String, Vec<String>)>,
) -> Vec<(String, Vec<u8>, Vec<String>)> {
    let names: Vec<&String> = corpus.iter().map(|(n, _)| n).collect();
    let stale: Vec<&String> = expected
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !names.contains(n))
        .collect();
    assert!(stale.is_empty(), "expectations for no file: {stale:?}");
    corpus
        .into_iter()
        .map(|(name, bytes)| {
            let want = expected
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, w)| w.clone())
                .unwrap_or_else(|| panic!("{name} has no expectation: add one"));
            (name, bytes, want)
        })
        .collect()
}

/// A verdict in the words of `answers.expected`.
fn verdict_name(v: &forget::outcome::Verdict) -> String {
    use forget::outcome::{StopCause, VerdictKind};
    match &v.kind {
        VerdictKind::Stop(cause) => format!(
            "stop:{}",
            match cause {
                StopCause::BadToken => "bad-token",
                StopCause::ExpiredToken => "expired-token",
                StopCause::Forbidden => "forbidden",
                StopCause::WrongUrl => "wrong-url",
                StopCause::Unreachable => "unreachable",
            }
        ),
        _ => v.label().to_owned(),
    }
}

#[test]
fn the_csv_corpus_reads_as_expected() {
    let expected = expectations("csv", " | ");
    for (name, bytes, want) in expected_for(corpus("csv"), expected) {
        match ingest_bytes(&bytes) {
            Ok(rows) => {
                check_rows(&rows);
                assert_eq!(rows.len(), want.len(), "{name}: {want:?}");
                for (row, want) in rows.iter().zip(&want) {
                    let (line, what) = want.split_once(' ').unwrap();
                    let line: u64 = line.parse().unwrap();
                    match (row, what.split_once('=').unwrap()) {
                        (ParsedRow::Request { line: l, key, .. }, ("request", k)) => {
                            assert_eq!((*l, key.as_str()), (line, k), "{name}");
                        }
                        (
                            ParsedRow::Invalid {
                                line: l, reason, ..
                            },
                            ("invalid", words),
                        ) => {
                            assert_eq!(*l, line, "{name}");
                            assert!(reason.contains(words), "{name}: {reason}");
                        }
                        _ => panic!("{name}: read {row:?}, expected {want}"),
                    }
                }
            }
            Err(e) => {
                let words = want
                    .first()
                    .and_then(|w| w.strip_prefix("refused="))
                    .unwrap_or_else(|| panic!("{name} refused: {e}"));
                assert!(e.to_string().contains(words), "{name}: {e}");
            }
        }
    }
}

#[test]
fn the_answer_corpus_classifies_as_expected() {
    let mut expected = expectations("answers", " ");
    // The header row names the statuses.
    let (_, statuses) = expected.remove(0);
    let statuses: Vec<u16> = statuses
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let headers = reqwest::header::HeaderMap::new();
    for (name, bytes, want) in expected_for(corpus("answers"), expected) {
        let want: Vec<&String> = want.iter().filter(|w| !w.is_empty()).collect();
        assert_eq!(want.len(), statuses.len(), "{name}");
        for (status, want) in statuses.iter().zip(want) {
            let v = classify(&Answer {
                status: *status,
                headers: &headers,
                body: &bytes,
            });
            assert_eq!(&verdict_name(&v), want, "{name} under HTTP {status}");
            // A deletion always carries its proof.
            if v.label() == "deleted" {
                assert!(v.transaction_id.is_some(), "{name}");
            }
        }
    }
}

//! Recording a run's input in the ledger before anything is sent: every file checked first,
//! then each read on a second thread (parsed, hashed and masked) while this one records the
//! previous chunk, in bulk into a fresh ledger (see [`crate::ledger::bulk`]).

use crate::actor::Actor;
use crate::engine::Stop;
use crate::error::{Error, Result};
use crate::input::{self, InputFile, InputOptions};
use crate::keys::KeyHasher;
use crate::ledger::Ledger;
use crate::ledger::bulk::{ChunkPlan, RepeatSample};
use crate::ledger::file_options::{FileOptions, FilePlan, refusal};
use crate::ledger::ingest::{FileEntry, IngestCounts, PreparedRow, Preparer};

/// Rows recorded per transaction, at most. Larger chunks visit each page of the key-hash
/// index fewer times; two chunks are held in memory at once.
const INGEST_CHUNK: usize = 32 * 1024;
/// Bytes of prepared rows per chunk, at most ([`PreparedRow::size`]): what bounds memory
/// when rows carry more than a key (profile names, audit fields, kept columns). A chunk of
/// 32k bare keys takes about 4 MiB, so this only shortens the chunks of wider rows.
const INGEST_CHUNK_BYTES: usize = 6 << 20;

/// Check every input file before recording anything.
pub fn inspect_all(files: &[std::path::PathBuf], opts: &InputOptions) -> Result<Vec<InputFile>> {
    files.iter().map(|f| input::inspect(f, opts)).collect()
}

/// Record every row of `files` (resuming a file whose ingest was interrupted), each with the
/// options it is read with (see [`plan_files`]); `dry_run` marks what is recorded as a dry
/// run's.
pub fn ingest(
    ledger: &mut Ledger,
    files: &[InputFile],
    opts: &InputOptions,
    connector: &str,
    hasher: &KeyHasher,
    stop: &Stop,
    dry_run: bool,
) -> Result<IngestCounts> {
    ledger.bulk_load(true)?;
    let result = ingest_files(ledger, files, opts, connector, hasher, stop, dry_run);
    // Also after a bulk load stopped half-way: its journal settings are for it alone.
    let restored = ledger
        .bulk_load(false)
        .and_then(|()| ledger.bulk_journal(false));
    result.and_then(|total| restored.map(|()| total))
}

/// What this run does with each file, checked before anything is recorded or sent: a file
/// the ledger recorded (for real) with other options refuses the whole run, naming each
/// difference and the ways forward.
pub fn plan_files(
    ledger: &Ledger,
    files: &[InputFile],
    opts: &InputOptions,
    connector: &str,
) -> Result<Vec<(FileOptions, FilePlan)>> {
    let mut plans = Vec::with_capacity(files.len());
    for file in files {
        let options = FileOptions::of(connector, file, opts);
        let plan = ledger.file_plan(&file.sha256, &options)?;
        if let FilePlan::Refuse { old } = &plan {
            return Err(Error::usage(refusal(
                &file.path.to_string_lossy(),
                old,
                &options,
            )));
        }
        plans.push((options, plan));
    }
    Ok(plans)
}

/// Find or start the recording of `file` as planned.
fn begin(
    ledger: &mut Ledger,
    file: &InputFile,
    options: &FileOptions,
    plan: &FilePlan,
    dry_run: bool,
) -> Result<FileEntry> {
    let path = file.path.to_string_lossy();
    let actor = Actor::here();
    match plan {
        FilePlan::New => {
            ledger.record_new_file(&path, &file.sha256, options, dry_run, &actor)?;
        }
        FilePlan::Recorded { id, dry_run: true } if !dry_run => {
            ledger.adopt_dry_file(*id, options, &actor)?;
        }
        FilePlan::Recorded { .. } => {}
        FilePlan::ReplaceDry { id, old } => {
            tracing::info!(file = %path, "recorded by a dry run with other options: replacing it");
            // A bulk load the dry run left unfinished: its indexes first, which the
            // replacement's lookups need.
            if ledger.bulk_file()?.is_some() {
                ledger.finish_bulk(i64::MAX)?;
            }
            ledger.replace_dry_file(*id, old, options, dry_run, &actor)?;
        }
        FilePlan::Refuse { old } => return Err(Error::usage(refusal(&path, old, options))),
    }
    ledger.begin_file(
        &path,
        &file.sha256,
        &options.connector,
        &options.profile_default,
        &options.key_column,
    )
}

fn ingest_files(
    ledger: &mut Ledger,
    files: &[InputFile],
    opts: &InputOptions,
    connector: &str,
    hasher: &KeyHasher,
    stop: &Stop,
    dry_run: bool,
) -> Result<IngestCounts> {
    let mut total = IngestCounts::default();
    // Every file is checked before any is recorded; each is planned again just before it
    // is, as the files before it (the same one given twice) may have recorded it.
    plan_files(ledger, files, opts, connector)?;
    for file in files {
        let path = file.path.to_string_lossy();
        let options = FileOptions::of(connector, file, opts);
        let plan = ledger.file_plan(&file.sha256, &options)?;
        let entry = begin(ledger, file, &options, &plan, dry_run)?;
        if entry.complete {
            tracing::info!(file = %path, "already recorded: skipping ingest");
            continue;
        }
        if entry.recorded_through > 0 {
            tracing::info!(file = %path, after_line = entry.recorded_through, "resuming an interrupted ingest");
        }
        // Into a ledger with no units yet, record in bulk (see `ledger::bulk`).
        let mut bulk = match ledger.bulk_file()? {
            Some(id) if id == entry.id => true,
            Some(_) => {
                // Another file's, interrupted and not given again: settle it first.
                ledger.finish_bulk(i64::MAX)?;
                false
            }
            None if ledger.can_bulk_load()? => {
                ledger.begin_bulk(entry.id)?;
                true
            }
            None => false,
        };
        ledger.bulk_journal(bulk)?;
        let counted_from = ledger.next_unit_id()?;
        let after = entry.recorded_through;
        let stopped = std::thread::scope(|scope| -> Result<bool> {
            // Rendezvous: one chunk is prepared while the previous one is written, never more
            // (memory stays flat in the file's size).
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<PreparedChunk>>(0);
            std::thread::Builder::new()
                .name("forget-prepare".into())
                .spawn_scoped(scope, move || {
                    prepare_chunks(file, opts, hasher, after, bulk, tx)
                })
                .map_err(|e| Error::internal(format!("cannot start the ingest thread: {e}")))?;
            for chunk in rx {
                let (rows, mut plan) = chunk?;
                if bulk && plan.as_ref().is_some_and(ChunkPlan::mostly_repeats) {
                    // A file that repeats its keys a lot: from here on, row by row.
                    tracing::debug!(
                        line = rows.first().map(|r| r.line()),
                        "bulk load ends early"
                    );
                    end_bulk(ledger, counted_from, &mut total)?;
                    bulk = false;
                }
                if !bulk {
                    plan = None;
                }
                total.add(match &plan {
                    Some(plan) => ledger.record_bulk(entry.id, connector, &rows, plan)?,
                    None => ledger.record_prepared(entry.id, connector, &rows)?,
                });
                if stop.is_stopped() {
                    return Ok(true); // dropping `rx` ends the preparing thread
                }
            }
            Ok(false)
        })?;
        if stopped {
            return Ok(total);
        }
        if bulk {
            end_bulk(ledger, counted_from, &mut total)?;
        }
        // Before the file is marked complete: a run stopped in between settles them again.
        let settled = ledger.settle_corrections(entry.id, &file.references()?, &Actor::here())?;
        total.corrected += settled.corrected;
        total.unmatched_refs += settled.unmatched_refs;
        let rows = ledger.finish_file(entry.id)?;
        tracing::info!(file = %path, rows, sha256 = %file.sha256, "recorded");
    }
    // A bulk load of a file this run was not given (or had already recorded): nothing is
    // sent before its indexes exist.
    if ledger.bulk_file()?.is_some() {
        ledger.finish_bulk(i64::MAX)?;
    }
    Ok(total)
}

/// Finish a bulk load: keys this run counted as new but recorded in an earlier chunk too
/// become duplicates.
fn end_bulk(ledger: &mut Ledger, counted_from: i64, total: &mut IngestCounts) -> Result<()> {
    let merged = ledger.finish_bulk(counted_from)?;
    total.new_units = total.new_units.saturating_sub(merged);
    total.duplicates += merged;
    ledger.bulk_journal(false)
}

/// A chunk of rows ready for the ledger, with its plan when it is recorded in bulk.
type PreparedChunk = (Vec<PreparedRow>, Option<ChunkPlan>);

/// Read, check, hash and mask the rows of `file` after line `after`, in chunks for
/// [`Ledger::record_prepared`] (or, planned, for [`Ledger::record_bulk`]). Runs beside the
/// ledger writer; stops when it hangs up.
fn prepare_chunks(
    file: &InputFile,
    opts: &InputOptions,
    hasher: &KeyHasher,
    after: u64,
    bulk: bool,
    tx: std::sync::mpsc::SyncSender<Result<PreparedChunk>>,
) {
    let mut sample = bulk.then(RepeatSample::default);
    let mut ready = |rows: Vec<PreparedRow>| -> PreparedChunk {
        let plan = sample.as_mut().map(|sample| ChunkPlan::of(&rows, sample));
        (rows, plan)
    };
    let mut rows = match file.rows(opts) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    let mut preparer = Preparer::new(hasher);
    let mut chunk = Vec::new();
    let mut bytes = 0;
    loop {
        match rows.next_row() {
            Ok(Some(row)) => {
                let row = preparer.prepare(row);
                if row.line() > after {
                    bytes += row.size();
                    chunk.push(row);
                }
                if chunk.len() >= INGEST_CHUNK || bytes >= INGEST_CHUNK_BYTES {
                    // The next chunk is likely as long as this one.
                    let next = Vec::with_capacity(chunk.len());
                    if tx
                        .send(Ok(ready(std::mem::replace(&mut chunk, next))))
                        .is_err()
                    {
                        return;
                    }
                    bytes = 0;
                }
            }
            Ok(None) => {
                if !chunk.is_empty() {
                    let _ = tx.send(Ok(ready(chunk)));
                }
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Rows far wider than a key (four audit fields near their 256-character cap) come in
    /// chunks bounded by bytes, not only by rows: 32k of them would hold ~40 MiB.
    #[test]
    fn wide_rows_come_in_chunks_bounded_by_bytes()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wide.csv");
        let rows = 12_000u64;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "key,exparam1,exparam2,exparam3,exparam4")?;
        for i in 0..rows {
            let field = |n: u64| format!("{i:08}-{n}-{}", "x".repeat(240));
            writeln!(
                out,
                "+4477{i:08},{},{},{},{}",
                field(1),
                field(2),
                field(3),
                field(4)
            )?;
        }
        out.flush()?;
        drop(out);
        let opts = InputOptions::default();
        let file = input::inspect(&path, &opts)?;
        let hasher = KeyHasher::new(b"test secret 1234");
        let (tx, rx) = std::sync::mpsc::sync_channel(0);
        let chunks: Vec<PreparedChunk> = std::thread::scope(|scope| {
            scope.spawn(|| prepare_chunks(&file, &opts, &hasher, 0, true, tx));
            rx.into_iter().collect::<Result<_>>()
        })?;
        let widest = chunks
            .iter()
            .flat_map(|(rows, _)| rows.iter().map(PreparedRow::size))
            .max()
            .unwrap_or(0);
        assert!(widest > 1000, "a row of four wide fields is {widest} bytes");
        assert!(chunks.len() >= 2, "{} chunk(s)", chunks.len());
        for (rows, plan) in &chunks {
            let bytes: usize = rows.iter().map(PreparedRow::size).sum();
            assert!(
                bytes < INGEST_CHUNK_BYTES + widest,
                "a chunk of {bytes} bytes"
            );
            assert!(plan.is_some());
        }
        let lines: Vec<u64> = chunks
            .iter()
            .flat_map(|(rows, _)| rows.iter().map(PreparedRow::line))
            .collect();
        assert_eq!(lines, (2..rows + 2).collect::<Vec<_>>());
        Ok(())
    }
}

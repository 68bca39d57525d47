//! Where report rows go: an [`Output`] (a file written whole under the output rule, or
//! stdout), hashed on the way out for the manifest, encoded as CSV, JSON or JSONL.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::columns::{Columns, JsonRow, NUMBERS};
use super::{Format, WrittenFile};
use crate::csvfile;
use crate::error::Result;
use crate::ledger::report::ReportRow;
use crate::output::{OutName, Output};

/// Counts bytes and hashes them on their way out.
pub(super) struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Which columns a sink writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// The evidence: masked key and hash, outcome, times, audit fields.
    Report,
    /// `forget run`'s input shape first (plaintext key), then why it needs attention.
    Attention,
}

pub(super) enum Encoder {
    Csv(Box<csvfile::Writer<Hashing<Output>>>),
    Json { w: Hashing<Output>, first: bool },
    Jsonl(Hashing<Output>),
}

pub(super) struct Sink {
    role: &'static str,
    shape: Shape,
    format: Format,
    name: OutName,
    /// Where the file goes, resolved (`None`: standard output).
    place: Option<PathBuf>,
    encoder: Encoder,
    rows: u64,
}

impl Sink {
    pub(super) fn open(
        role: &'static str,
        shape: Shape,
        format: Format,
        out: Output,
        columns: &Columns,
    ) -> Result<Sink> {
        let name = out.name().clone();
        let place = out.place().map(Path::to_path_buf);
        let w = Hashing {
            inner: out,
            sha: Sha256::new(),
            bytes: 0,
        };
        let encoder = match format {
            Format::Csv => {
                let mut csv = csvfile::Writer::for_people(w, &NUMBERS);
                csv.write_record(columns.header(shape))
                    .map_err(|e| name.csv_error(e))?;
                Encoder::Csv(Box::new(csv))
            }
            Format::Json => {
                let mut w = w;
                w.write_all(b"[").map_err(|e| name.error(e))?;
                Encoder::Json { w, first: true }
            }
            Format::Jsonl => Encoder::Jsonl(w),
        };
        Ok(Sink {
            role,
            shape,
            format,
            name,
            place,
            encoder,
            rows: 0,
        })
    }

    pub(super) fn write(&mut self, columns: &Columns, row: &ReportRow) -> Result<()> {
        let name = &self.name;
        match &mut self.encoder {
            Encoder::Csv(csv) => csv
                .write_record(columns.record(self.shape, row))
                .map_err(|e| name.csv_error(e))?,
            Encoder::Json { w, first } => {
                let sep: &[u8] = if *first { b"\n" } else { b",\n" };
                *first = false;
                w.write_all(sep).map_err(|e| name.error(e))?;
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| name.json_error(e))?;
            }
            Encoder::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| name.json_error(e))?;
                w.write_all(b"\n").map_err(|e| name.error(e))?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Flush, finish the output (for a file: sync and rename into place) and describe what
    /// was written.
    pub(super) fn finish(self) -> Result<WrittenFile> {
        let name = self.name;
        let mut w = match self.encoder {
            Encoder::Csv(csv) => csv.into_inner().map_err(|e| name.error(e))?,
            Encoder::Json { mut w, .. } => {
                w.write_all(b"\n]\n").map_err(|e| name.error(e))?;
                w
            }
            Encoder::Jsonl(w) => w,
        };
        w.flush().map_err(|e| name.error(e))?;
        let Hashing { inner, sha, bytes } = w;
        inner.finish()?;
        Ok(WrittenFile {
            path: name.shown().to_owned(),
            role: self.role,
            format: match self.format {
                Format::Csv => "csv",
                Format::Json => "json",
                Format::Jsonl => "jsonl",
            },
            rows: self.rows,
            bytes,
            sha256: hex::encode(sha.finalize()),
            relative_path: None,
            place: self.place,
        })
    }
}

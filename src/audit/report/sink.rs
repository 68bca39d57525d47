//! Where report rows go: a private file written whole (or stdout), hashed on the way out for
//! the manifest, encoded as CSV, JSON or JSONL.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::columns::{Columns, JsonRow};
use super::{Format, WrittenFile};
use crate::csvfile;
use crate::error::{Error, Result};
use crate::ledger::report::ReportRow;

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

pub(super) enum Dest {
    Stdout(std::io::Stdout),
    /// Written to `tmp`, renamed to `path` once complete: a report file is never half-written.
    File {
        file: BufWriter<File>,
        path: PathBuf,
        tmp: PathBuf,
    },
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Dest::Stdout(s) => s.write(buf),
            Dest::File { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Dest::Stdout(s) => s.flush(),
            Dest::File { file, .. } => file.flush(),
        }
    }
}

/// Create `path` for writing, private to its owner: reports hold masked keys, hashes and
/// audit fields, and `needs-attention.csv` plaintext keys.
pub(super) fn create_private(path: &Path) -> Result<Dest> {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    let tmp = PathBuf::from(name);
    let _ = std::fs::remove_file(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    Ok(Dest::File {
        file: BufWriter::with_capacity(1 << 16, file),
        path: path.to_owned(),
        tmp,
    })
}

/// Make a finished file durable and move it into place.
pub(super) fn seal(dest: Dest, display: &str) -> Result<()> {
    if let Dest::File { file, path, tmp } = dest {
        let file = file
            .into_inner()
            .map_err(|e| Error::io(format!("writing {display}"), e.into_error()))?;
        file.sync_all().map_err(io_err(display))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| Error::io(format!("cannot move {} into place", tmp.display()), e))?;
    }
    Ok(())
}

pub(super) fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("writing {what}"), e)
}

pub(super) fn csv_err(what: &str) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::csv(format!("writing {what}"), e)
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
    Csv(Box<csv::Writer<Hashing<Dest>>>),
    Json { w: Hashing<Dest>, first: bool },
    Jsonl(Hashing<Dest>),
}

pub(super) struct Sink {
    role: &'static str,
    shape: Shape,
    format: Format,
    display: String,
    encoder: Encoder,
    rows: u64,
}

impl Sink {
    pub(super) fn open(
        role: &'static str,
        shape: Shape,
        format: Format,
        path: Option<&Path>,
        columns: &Columns,
    ) -> Result<Sink> {
        let dest = match path {
            Some(p) => create_private(p)?,
            None => Dest::Stdout(std::io::stdout()),
        };
        let display = path.map_or("-".to_owned(), |p| p.display().to_string());
        let w = Hashing {
            inner: dest,
            sha: Sha256::new(),
            bytes: 0,
        };
        let encoder = match format {
            Format::Csv => {
                let mut csv = csvfile::writer_builder().from_writer(w);
                csv.write_record(columns.header(shape))
                    .map_err(csv_err(&display))?;
                Encoder::Csv(Box::new(csv))
            }
            Format::Json => {
                let mut w = w;
                w.write_all(b"[").map_err(io_err(&display))?;
                Encoder::Json { w, first: true }
            }
            Format::Jsonl => Encoder::Jsonl(w),
        };
        Ok(Sink {
            role,
            shape,
            format,
            display,
            encoder,
            rows: 0,
        })
    }

    pub(super) fn write(&mut self, columns: &Columns, row: &ReportRow) -> Result<()> {
        let display = &self.display;
        match &mut self.encoder {
            Encoder::Csv(csv) => csv
                .write_record(columns.record(self.shape, row))
                .map_err(csv_err(display))?,
            Encoder::Json { w, first } => {
                let sep: &[u8] = if *first { b"\n" } else { b",\n" };
                *first = false;
                w.write_all(sep).map_err(io_err(display))?;
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| Error::json(format!("writing {display}"), e))?;
            }
            Encoder::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &JsonRow::from(row))
                    .map_err(|e| Error::json(format!("writing {display}"), e))?;
                w.write_all(b"\n").map_err(io_err(display))?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Flush, seal (fsync and rename into place) and describe what was written.
    pub(super) fn finish(self) -> Result<WrittenFile> {
        let display = self.display;
        let mut w = match self.encoder {
            Encoder::Csv(csv) => csv.into_inner().map_err(|e| {
                Error::io(
                    format!("writing {display}"),
                    std::io::Error::other(e.to_string()),
                )
            })?,
            Encoder::Json { mut w, .. } => {
                w.write_all(b"\n]\n").map_err(io_err(&display))?;
                w
            }
            Encoder::Jsonl(w) => w,
        };
        w.flush().map_err(io_err(&display))?;
        let Hashing { inner, sha, bytes } = w;
        seal(inner, &display)?;
        Ok(WrittenFile {
            path: display,
            role: self.role,
            format: match self.format {
                Format::Csv => "csv",
                Format::Json => "json",
                Format::Jsonl => "jsonl",
            },
            rows: self.rows,
            bytes,
            sha256: hex::encode(sha.finalize()),
        })
    }
}

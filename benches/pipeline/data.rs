//! Input files: fictional UK mobile numbers, `+4477` and eight digits, one per key index.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::R;
use crate::sim::TOKEN;

/// Write `header` (if any) and keys `0..n`, one per line, in double quotes if `quoted`.
fn write_keys(path: &Path, header: Option<&str>, n: u64, quoted: bool) -> R<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    if let Some(h) = header {
        writeln!(out, "{h}")?;
    }
    for i in 0..n {
        if quoted {
            writeln!(out, "\"+4477{i:08}\"")?;
        } else {
            writeln!(out, "+4477{i:08}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `dir/keys-N.csv`: a `key` column with keys `0..n` (reused if already there).
pub fn csv(dir: &Path, n: u64) -> R<PathBuf> {
    let path = dir.join(format!("keys-{n}.csv"));
    if !path.exists() {
        write_keys(&path, Some("key"), n, false)?;
    }
    Ok(path)
}

/// The header of [`realistic_csv`] files, and the flags that record them as meant.
pub const REALISTIC_HEADER: &str = "key,profile-name,exparam1,exparam2,exparam3,ticket";
pub const REALISTIC_FLAGS: [&str; 2] = ["--keep-column", "ticket"];

/// `dir/rows-N.csv`: rows as a compliance team exports them, keys `0..n` each with a
/// profile name, three audit fields (a request reference of its own, a channel shared by
/// all, one of 40 agents) and a ticket id kept for the report (reused if already there).
pub fn realistic_csv(dir: &Path, n: u64) -> R<PathBuf> {
    let path = dir.join(format!("rows3-{n}.csv"));
    if !path.exists() {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        writeln!(out, "{REALISTIC_HEADER}")?;
        for i in 0..n {
            writeln!(
                out,
                "+4477{i:08},customers,DSR-2025-{i:08},erasure request (web form),agent-{:02},TCK-{:08}",
                i * 13 % 40,
                i * 7 % 100_000_000
            )?;
        }
        out.flush()?;
    }
    Ok(path)
}

/// `dir/keys-N-quoted.csv`: as [`csv`], every key in double quotes. newman needs them: it
/// reads an unquoted `+447700000001` as the number 447700000001, dropping the `+`.
pub fn csv_quoted(dir: &Path, n: u64) -> R<PathBuf> {
    let path = dir.join(format!("keys-{n}-quoted.csv"));
    if !path.exists() {
        write_keys(&path, Some("key"), n, true)?;
    }
    Ok(path)
}

/// `dir/profiles-N.txt`: keys `0..n`, for the simulator to hold (reused if already there).
pub fn profiles(dir: &Path, n: u64) -> R<PathBuf> {
    let path = dir.join(format!("profiles-{n}.txt"));
    if !path.exists() {
        write_keys(&path, None, n, false)?;
    }
    Ok(path)
}

/// The simulator's token in a 0600 file, for `--token-file`.
pub fn token_file(dir: &Path) -> R<PathBuf> {
    let path = dir.join("token");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(TOKEN.as_bytes())?;
    Ok(path)
}

/// A fresh ledger path in `dir` (any earlier ledger of that name, its key and WAL removed).
pub fn fresh_ledger(dir: &Path, name: &str) -> R<PathBuf> {
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm", ".key", ".lock"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(path)
}

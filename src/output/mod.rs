//! Everything forget writes — files and standard output — goes through here, so one rule
//! holds for every command (docs/safety.md, "Files forget writes and what it prints"):
//!
//! - **A file** ([`Output::create`]) is checked by [`rule::check`] (never the ledger or its
//!   companions, a link, a device, a pipe; its folder must exist; an existing regular file
//!   only when the command's [`Overwrite`] allows), written to a temporary file (0600) in the
//!   same folder, and renamed into place by [`Output::finish`] once complete and synced: a
//!   file is whole or absent, never half-written. The path is checked again just before the
//!   rename.
//! - **Standard output** (`-`) is written through a handle, never `println!`: a reader that
//!   went away (a closed pipe, `forget report | head -1`) is [`Error::ReaderGone`], which
//!   ends the command quietly; any other failure (a full disk) names "standard output".
//! - **Text for people** ([`print`], [`eprint`]) has its control characters escaped
//!   ([`crate::text`]); data ([`print_data`]: JSON, CSV) is written as it is.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub mod rule;

pub use rule::{Checked, Overwrite, Protected};

use crate::error::{Error, Result};
use crate::text::printable_lines;

/// Where a command's output goes: standard output (`-`, or no path given) or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// A path argument: `-` means standard output; `None`, standard output as well.
    pub fn from_arg(path: Option<&Path>) -> Destination {
        match path {
            Some(p) if p.as_os_str() != "-" => Destination::File(p.to_owned()),
            _ => Destination::Stdout,
        }
    }
}

/// The name of an output in messages and the manifest (`-` for standard output), and how
/// its write errors read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutName {
    shown: String,
    stdout: bool,
}

impl OutName {
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn is_stdout(&self) -> bool {
        self.stdout
    }

    /// A write failure: the reader went away (standard output only), or a failure naming
    /// the file or "standard output" (exit 1).
    pub fn error(&self, e: std::io::Error) -> Error {
        if self.stdout {
            stdout_error(e)
        } else {
            Error::output(&self.shown, e)
        }
    }

    pub fn csv_error(&self, e: csv::Error) -> Error {
        match e.into_kind() {
            csv::ErrorKind::Io(e) => self.error(e),
            other => Error::internal(format!("writing {}: {other:?}", self.shown)),
        }
    }

    pub fn json_error(&self, e: serde_json::Error) -> Error {
        if e.io_error_kind().is_some() {
            self.error(std::io::Error::from(e))
        } else {
            Error::internal(format!("writing {}: {e}", self.shown))
        }
    }
}

/// A failure writing standard output: [`Error::ReaderGone`] for a closed pipe, else an
/// output error naming "standard output".
pub fn stdout_error(e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::BrokenPipe {
        Error::ReaderGone
    } else {
        Error::output("standard output", e)
    }
}

/// An output being written: standard output, or a file that appears only when finished.
pub struct Output {
    name: OutName,
    sink: Sink,
}

enum Sink {
    Stdout(std::io::Stdout),
    File {
        w: BufWriter<tempfile::NamedTempFile>,
        checked: Checked,
        protected: Protected,
        overwrite: Overwrite,
    },
}

impl Output {
    pub fn stdout() -> Output {
        Output {
            name: OutName {
                shown: "-".into(),
                stdout: true,
            },
            sink: Sink::Stdout(std::io::stdout()),
        }
    }

    /// Check `path` against the rule and start writing it (to a temporary file beside it).
    pub fn create(path: &Path, protected: &Protected, overwrite: Overwrite) -> Result<Output> {
        let checked = rule::check(path, protected, overwrite)?;
        let tmp = tempfile::Builder::new()
            .prefix(".forget-")
            .suffix(".partial")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(&checked.dir)
            .map_err(|e| Error::output(path, e))?;
        Ok(Output {
            name: OutName {
                shown: path.display().to_string(),
                stdout: false,
            },
            sink: Sink::File {
                w: BufWriter::with_capacity(1 << 16, tmp),
                checked,
                protected: protected.clone(),
                overwrite,
            },
        })
    }

    /// [`Output::create`] for a file, [`Output::stdout`] for `-`.
    pub fn open(dest: &Destination, protected: &Protected, overwrite: Overwrite) -> Result<Output> {
        match dest {
            Destination::Stdout => Ok(Output::stdout()),
            Destination::File(path) => Output::create(path, protected, overwrite),
        }
    }

    pub fn name(&self) -> &OutName {
        &self.name
    }

    /// Where a file will be, resolved (`None` for standard output): other outputs of the
    /// same command are kept from naming it too.
    pub fn place(&self) -> Option<&Path> {
        match &self.sink {
            Sink::Stdout(_) => None,
            Sink::File { checked, .. } => Some(&checked.place),
        }
    }

    /// Flush; for a file, sync it, check its path again, and rename it into place.
    pub fn finish(self) -> Result<()> {
        let name = self.name;
        match self.sink {
            Sink::Stdout(mut s) => s.flush().map_err(stdout_error),
            Sink::File {
                w,
                checked,
                protected,
                overwrite,
            } => {
                let tmp = w.into_inner().map_err(|e| name.error(e.into_error()))?;
                tmp.as_file().sync_all().map_err(|e| name.error(e))?;
                // The folder may have changed while the file was written.
                let again = rule::check(&checked.shown, &protected, overwrite)?;
                if again.place != checked.place {
                    return Err(Error::usage(format!(
                        "{}: its folder moved while it was written; nothing was written",
                        checked.shown.display()
                    )));
                }
                match overwrite {
                    Overwrite::Replace => tmp.persist(&checked.place).map(drop),
                    Overwrite::Never => tmp.persist_noclobber(&checked.place).map(drop),
                }
                .map_err(|e| name.error(e.error))?;
                // Make the rename itself durable; a filesystem that cannot sync a folder
                // still has the whole file under its name.
                let _ = File::open(&checked.dir).and_then(|d| d.sync_all());
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(s) => s.write(buf),
            Sink::File { w, .. } => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(s) => s.flush(),
            Sink::File { w, .. } => w.flush(),
        }
    }
}

/// Write `bytes` to a file under the rule, whole: for small documents written at once.
pub fn write_file(
    path: &Path,
    bytes: &[u8],
    protected: &Protected,
    overwrite: Overwrite,
) -> Result<()> {
    let mut out = Output::create(path, protected, overwrite)?;
    out.write_all(bytes).map_err(|e| out.name().error(e))?;
    out.finish()
}

/// Text for people on standard output, written as it comes (a long listing is never held
/// whole), control characters escaped.
pub struct TextOut {
    w: BufWriter<std::io::StdoutLock<'static>>,
}

impl TextOut {
    pub fn stdout() -> TextOut {
        TextOut {
            w: BufWriter::new(std::io::stdout().lock()),
        }
    }

    pub fn write(&mut self, text: &str) -> Result<()> {
        self.w
            .write_all(printable_lines(text).as_bytes())
            .map_err(stdout_error)
    }

    pub fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(stdout_error)
    }
}

/// Print text for people on standard output, control characters escaped.
pub fn print(text: &str) -> Result<()> {
    print_data(printable_lines(text).as_bytes())
}

/// Print data (JSON, CSV) on standard output as it is.
pub fn print_data(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Tell the user something on standard error, control characters escaped. A failure is
/// ignored: there is nowhere left to say it, and the command's result does not depend on
/// it.
pub fn eprint(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(printable_lines(text).as_bytes())
        .and_then(|()| err.flush());
}

/// The exit code of a command whose result was decided before it printed: a reader that
/// went away (a closed pipe) does not change it.
pub fn decided(code: i32, printed: Result<()>) -> Result<i32> {
    match printed {
        Ok(()) | Err(Error::ReaderGone) => Ok(code),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_whole_and_private_only_when_finished() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("r.csv");
        std::fs::write(&path, b"old\n").map_err(|e| Error::io("write", e))?;
        let mut out = Output::create(&path, &Protected::none(), Overwrite::Replace)?;
        out.write_all(b"new\n").map_err(|e| out.name().error(e))?;
        let read = || std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            read(),
            "old\n",
            "the old file stays until the new one is complete"
        );
        out.finish()?;
        assert_eq!(read(), "new\n");
        let mode = std::fs::metadata(&path).map_err(|e| Error::io("stat", e))?;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let names = std::fs::read_dir(dir.path())
            .map_err(|e| Error::io("ls", e))?
            .count();
        assert_eq!(names, 1, "no temporary file is left");
        // Dropped unfinished: nothing appears, nothing is left.
        let other = dir.path().join("other.csv");
        drop(Output::create(
            &other,
            &Protected::none(),
            Overwrite::Never,
        )?);
        assert!(!other.exists());
        let names = std::fs::read_dir(dir.path())
            .map_err(|e| Error::io("ls", e))?
            .count();
        assert_eq!(names, 1);
        Ok(())
    }

    #[test]
    fn never_replaces_a_file_that_appeared_meanwhile() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("ids.csv");
        let out = Output::create(&path, &Protected::none(), Overwrite::Never)?;
        std::fs::write(&path, b"theirs").map_err(|e| Error::io("write", e))?;
        assert!(out.finish().is_err());
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"theirs");
        Ok(())
    }

    #[test]
    fn a_closed_pipe_is_the_reader_leaving_and_keeps_a_decided_code() {
        let gone = stdout_error(ErrorKind::BrokenPipe.into());
        assert!(matches!(gone, Error::ReaderGone));
        assert_eq!(decided(4, Err(gone)).ok(), Some(4));
        let full = stdout_error(std::io::Error::from_raw_os_error(28));
        assert!(full.to_string().starts_with("standard output: "), "{full}");
        assert!(decided(0, Err(full)).is_err());
    }
}

//! The rule a path must pass before forget writes a file there: it is compared by what it
//! is (its folder resolved, device and inode), never by the string given.

use std::fs::{self, FileType, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether an existing regular file may be replaced. Never the ledger's files, a link, a
/// device or a pipe: those are refused whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// What the command writes is regenerated from the ledger (a report, a manifest, an
    /// access document): a previous copy is replaced, whole, once the new one is complete.
    Replace,
    /// What the command writes cannot be regenerated from a ledger (`forget list`): an
    /// existing file is never replaced.
    Never,
}

/// Files a command must never write over: its ledger, the ledger's companions, and the
/// other files the same command is writing.
#[derive(Clone, Debug, Default)]
pub struct Protected {
    files: Vec<Guarded>,
    /// Files protected by what they hold, wherever they are now: (SHA-256 in hex, what it
    /// is). An input file recorded in a ledger is known by its hash; the path it was read
    /// from may have been relative to another folder, or the file moved since.
    contents: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
struct Guarded {
    /// What it is, in words: "the ledger", "the ledger's key file", ….
    what: String,
    /// Its folder resolved, joined with its name: where it is or would be created.
    place: Option<PathBuf>,
    /// Device and inode of the file it names (through a link), when it exists.
    id: Option<(u64, u64)>,
}

impl Protected {
    /// Nothing to protect but what the rule always refuses.
    pub fn none() -> Protected {
        Protected::default()
    }

    /// The ledger at `ledger` and its companions: SQLite's `-wal`, `-shm` and `-journal`,
    /// the run lock `.lock` an older forget made, the default key file `.key` and `key_file` (which may be
    /// elsewhere). A ledger reached through a link is protected where it really is too,
    /// since SQLite keeps its companions beside the real file.
    pub fn ledger(ledger: &Path, key_file: &Path) -> Protected {
        let mut p = Protected::default();
        let mut paths = vec![ledger.to_owned()];
        if let Ok(real) = fs::canonicalize(ledger)
            && real != ledger
        {
            paths.push(real);
        }
        for path in &paths {
            p.add(path, "the ledger");
            for (suffix, what) in [
                ("-wal", "the ledger's write-ahead log"),
                ("-shm", "the ledger's shared-memory file"),
                ("-journal", "the ledger's journal"),
                (".lock", "the ledger's lock file"),
                (".key", "the ledger's key file"),
            ] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                p.add(Path::new(&name), what);
            }
        }
        p.add(key_file, "the ledger's key file");
        p
    }

    /// Protect `path` too, described as `what`.
    pub fn add(&mut self, path: &Path, what: impl Into<String>) {
        self.files.push(Guarded {
            what: what.into(),
            place: place(path).ok().map(|(dir, name)| dir.join(name)),
            id: fs::metadata(path).ok().map(|m| identity(&m)),
        });
    }

    /// Protect any file whose contents hash to `sha256` (hex), described as `what`.
    pub fn add_contents(&mut self, sha256: &str, what: impl Into<String>) {
        self.contents
            .push((sha256.to_ascii_lowercase(), what.into()));
    }

    /// What the regular file at `place` is, if its contents are protected. A file that
    /// cannot be read is not known to be protected: replacing it is refused or allowed by
    /// the other rules.
    fn holding(&self, place: &Path) -> Option<&str> {
        if self.contents.is_empty() {
            return None;
        }
        let hash = sha256_of(place).ok()?;
        self.contents
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, what)| what.as_str())
    }

    fn find(&self, place: &Path, id: Option<(u64, u64)>) -> Option<&Guarded> {
        self.files
            .iter()
            .find(|g| g.place.as_deref() == Some(place) || (id.is_some() && g.id == id))
    }
}

/// A path that passed the rule: its folder (resolved) and where the file goes in it.
#[derive(Clone, Debug)]
pub struct Checked {
    /// As the user gave it, for messages.
    pub shown: PathBuf,
    /// The folder, resolved: temporary files are created here, so the rename stays in it.
    pub dir: PathBuf,
    /// `dir` joined with the file's name.
    pub place: PathBuf,
}

/// Check that forget may write a file at `path`: its folder exists; it is not one of
/// `protected`; if something is there already, it is a regular file (not a link, a device,
/// a pipe or a folder) and `overwrite` allows replacing it. Refusals are usage errors:
/// nothing has been written.
pub fn check(path: &Path, protected: &Protected, overwrite: Overwrite) -> Result<Checked> {
    let refuse = |why: String| Error::usage(format!("{}: {why}", path.display()));
    let (dir, name) = place(path).map_err(|(e, parent)| match e.kind() {
        ErrorKind::NotFound => refuse(format!("the folder {} does not exist", parent.display())),
        ErrorKind::InvalidInput => refuse("is not a file name".into()),
        _ => refuse(format!("cannot use the folder {}: {e}", parent.display())),
    })?;
    let place = dir.join(name);
    let meta = match fs::symlink_metadata(&place) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(refuse(format!("cannot look at it: {e}"))),
    };
    if let Some(g) = protected.find(&place, meta.as_ref().map(identity)) {
        return Err(refuse(format!(
            "is {}; forget never writes over it (choose another file)",
            g.what
        )));
    }
    if let Some(meta) = meta {
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(refuse(
                "is a symbolic link; forget replaces only regular files (give the file itself, \
                 or - for standard output)"
                    .into(),
            ));
        }
        if !kind.is_file() {
            return Err(refuse(format!(
                "is {}, not a regular file; forget writes only regular files (- writes to \
                 standard output)",
                describe(kind)
            )));
        }
        if let Some(what) = protected.holding(&place) {
            return Err(refuse(format!(
                "holds the same contents as {what}; forget never writes over it (choose \
                 another file)"
            )));
        }
        if overwrite == Overwrite::Never {
            return Err(refuse(
                "the file exists, and this command never replaces a file; remove it or choose \
                 another name"
                    .into(),
            ));
        }
    }
    Ok(Checked {
        shown: path.to_owned(),
        dir,
        place,
    })
}

/// `path`'s folder, resolved, and its file name. On failure, the error and the folder.
fn place(path: &Path) -> std::result::Result<(PathBuf, PathBuf), (std::io::Error, PathBuf)> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name() else {
        return Err((ErrorKind::InvalidInput.into(), parent));
    };
    let dir = fs::canonicalize(&parent).map_err(|e| (e, parent.clone()))?;
    if !dir.is_dir() {
        return Err((ErrorKind::NotFound.into(), parent));
    }
    Ok((dir, PathBuf::from(name)))
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn identity(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn describe(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a folder"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path, protected: &Protected, overwrite: Overwrite) -> String {
        match check(path, protected, overwrite) {
            Ok(c) => panic!("{} was allowed: {c:?}", path.display()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_ledger_and_its_companions_are_refused_however_named() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let ledger = dir.path().join("l.db");
        std::fs::write(&ledger, b"x").map_err(|e| Error::io("write", e))?;
        let key = dir.path().join("secret").join("k");
        let p = Protected::ledger(&ledger, &key);
        for (name, what) in [
            ("l.db", "the ledger"),
            ("l.db-wal", "write-ahead log"),
            ("l.db-shm", "shared-memory"),
            ("l.db-journal", "journal"),
            ("l.db.lock", "lock file"),
            ("l.db.key", "key file"),
        ] {
            let m = refused(&dir.path().join(name), &p, Overwrite::Replace);
            assert!(m.contains(what), "{name}: {m}");
        }
        // Another spelling of the same place, and a hard link to the same file.
        let other = dir.path().join(".").join("sub").join("..").join("l.db-wal");
        std::fs::create_dir(dir.path().join("sub")).map_err(|e| Error::io("mkdir", e))?;
        assert!(refused(&other, &p, Overwrite::Replace).contains("write-ahead"));
        let hard = dir.path().join("copy.db");
        std::fs::hard_link(&ledger, &hard).map_err(|e| Error::io("link", e))?;
        assert!(refused(&hard, &p, Overwrite::Replace).contains("the ledger"));
        Ok(())
    }

    #[test]
    fn links_devices_pipes_and_missing_folders_are_refused() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let p = Protected::none();
        let target = dir.path().join("target.csv");
        std::fs::write(&target, b"x").map_err(|e| Error::io("write", e))?;
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).map_err(|e| Error::io("symlink", e))?;
        assert!(refused(&link, &p, Overwrite::Replace).contains("symbolic link"));
        assert!(refused(Path::new("/dev/null"), &p, Overwrite::Replace).contains("a device"));
        assert!(refused(dir.path(), &p, Overwrite::Replace).contains("a folder"));
        let missing = dir.path().join("nowhere").join("r.csv");
        assert!(refused(&missing, &p, Overwrite::Replace).contains("does not exist"));
        assert!(refused(&target, &p, Overwrite::Never).contains("exists"));
        assert!(check(&target, &p, Overwrite::Replace).is_ok());
        assert!(check(&dir.path().join("new.csv"), &p, Overwrite::Never).is_ok());
        Ok(())
    }
}

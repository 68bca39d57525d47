//! Secrets: the API token and the ledger's HMAC key. Neither is ever written to the ledger,
//! logs or messages; both come from the environment or from files only their owner can read.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output;

/// A bearer token. `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Read a token from `file` if given, else from the environment variable `env`.
/// A file readable by others is used, with a warning: a shared token is a leaked token.
pub fn load_token(env: &str, file: Option<&Path>) -> Result<Token> {
    let raw = match file {
        Some(path) => {
            warn_if_shared(path, "token file");
            fs::read_to_string(path)
                .map_err(|e| Error::input(path, format!("cannot read the token file: {e}")))?
        }
        None => std::env::var(env).map_err(|_| {
            Error::usage(format!(
                "no API token: set {env} in the environment or pass --token-file PATH \
                 (a token on the command line would be visible to every user through `ps`)"
            ))
        })?,
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(Error::usage(match file {
            Some(p) => format!("the token file {} is empty", p.display()),
            None => format!("{env} is set but empty"),
        }));
    }
    if token.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::usage(
            "the token contains spaces or control characters: pass the token alone, \
             without the word Bearer",
        ));
    }
    Ok(Token::new(token))
}

pub fn warn_if_shared(path: &Path, what: &str) {
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        output::eprint(&format!(
            "warning: the {what} {} can be read by other users; run: chmod 600 {}\n",
            path.display(),
            path.display()
        ));
    }
}

/// Where the ledger's HMAC key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Env(&'static str),
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
            SecretSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

pub const LEDGER_KEY_ENV: &str = "FORGET_LEDGER_KEY";

/// The default key file sits beside the ledger: `forget.db` → `forget.db.key`.
pub fn default_key_file(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Load the ledger key from `FORGET_LEDGER_KEY`, or from `file`, creating the file (0600,
/// 32 random bytes, hex) on first use when `create` is true.
pub fn load_ledger_key(file: &Path, create: bool) -> Result<(Vec<u8>, SecretSource)> {
    if let Ok(value) = std::env::var(LEDGER_KEY_ENV) {
        if value.trim().len() < 16 {
            return Err(Error::usage(format!(
                "{LEDGER_KEY_ENV} is too short: use at least 16 characters (32 random bytes in hex is best)"
            )));
        }
        return Ok((
            value.trim().as_bytes().to_vec(),
            SecretSource::Env(LEDGER_KEY_ENV),
        ));
    }
    match fs::read_to_string(file) {
        Ok(text) => {
            warn_if_shared(file, "ledger key file");
            let key = text.trim();
            if key.len() < 16 {
                return Err(Error::usage(format!(
                    "the ledger key file {} is too short or empty",
                    file.display()
                )));
            }
            Ok((key.as_bytes().to_vec(), SecretSource::File(file.to_owned())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key: [u8; 32] = rand::random();
            let text = hex::encode(key);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .map_err(|e| {
                    Error::io(
                        format!("cannot create the ledger key file {}", file.display()),
                        e,
                    )
                })?;
            f.write_all(format!("{text}\n").as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io(format!("cannot write {}", file.display()), e))?;
            Ok((text.into_bytes(), SecretSource::File(file.to_owned())))
        }
        Err(e) => Err(Error::usage(format!(
            "cannot read the ledger key file {}: {e}",
            file.display()
        ))),
    }
}

/// A random (version 4) UUID, e.g. for canary keys and temporary names: unique and
/// unguessable without a dependency of its own.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

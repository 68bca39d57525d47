//! `forget keygen`: an Ed25519 key pair for sealing manifests (`forget report --sign-key`).

use std::path::PathBuf;

use clap::Args;

use super::format::{self, Format};
use crate::error::{Error, Result, exit};
use crate::output::{self, Overwrite, Protected};
use crate::secret;
use crate::signing;

#[derive(Args, Debug)]
#[command(after_help = "\
Writes the secret key to FILE (0600, one line: forget-ed25519-secret-key v1 <base64>) and its
public key beside it, FILE.pub (forget-ed25519-public-key v1 <base64>), then prints the public
key and its fingerprint (SHA256:<base64 of the SHA-256 of the key's 32 bytes>).
Keep FILE like the ledger's key file: readable by its owner only, outside the evidence you
hand over, backed up. Give the auditor FILE.pub, or read them the fingerprint, by another
channel than the evidence: `forget verify --manifest m.json --public-key FILE.pub` then
proves the manifest was sealed with this key.
  forget keygen signing.key
  forget report --output report.csv --manifest manifest.json --sign-key signing.key
An existing FILE or FILE.pub is never replaced (unless --force), nor is the ledger, one of
its companion files (-wal, -shm, -journal, .lock, .key) or its key file, a link, a device or
a pipe.")]
pub struct KeygenArgs {
    /// The secret key file to create; the public key goes beside it, as FILE.pub.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace an existing key pair. Manifests signed with the old key can then be checked
    /// only with its public key: keep a copy of the old FILE.pub.
    #[arg(long)]
    pub force: bool,
    /// The ledger whose files the key is never written over.
    #[arg(
        long,
        env = "FORGET_STATE",
        default_value = crate::text::DEFAULT_LEDGER,
        value_name = "PATH"
    )]
    pub state: PathBuf,
    /// The ledger's key file, if not the ledger path + .key: never written over either.
    #[arg(long, value_name = "PATH")]
    pub ledger_key_file: Option<PathBuf>,
    /// text: what was written, the public key and its fingerprint. json: one document
    /// (`schema_version`, `command`, `secret_key_file`, `public_key_file`, `public_key`,
    /// `fingerprint`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = format::parser(&["text", "json"]))]
    pub format: Format,
}

pub fn exec(args: &KeygenArgs) -> Result<i32> {
    let secret_file = &args.file;
    let public_file = signing::public_key_path(secret_file);
    if secret_file.extension().is_some_and(|x| x == "pub") {
        return Err(Error::usage(format!(
            "{}: name the secret key file; its public key is written beside it as FILE.pub",
            secret_file.display()
        )));
    }
    let overwrite = match args.force {
        true => Overwrite::Replace,
        false => Overwrite::Never,
    };
    if !args.force {
        for path in [secret_file, &public_file] {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(Error::usage(format!(
                    "{} exists: forget keygen never replaces a key (manifests signed with it \
                     could no longer be checked against a new one); choose another FILE, or \
                     --force",
                    path.display()
                )));
            }
        }
    }
    let key_file = args
        .ledger_key_file
        .clone()
        .unwrap_or_else(|| secret::default_key_file(&args.state));
    let protected = Protected::ledger(&args.state, &key_file);
    let public = signing::write_key_pair(secret_file, &protected, overwrite)?;
    let printed = match args.format {
        Format::Json => format::print_json(
            "keygen",
            serde_json::json!({
                "secret_key_file": secret_file.display().to_string(),
                "public_key_file": public_file.display().to_string(),
                "public_key": public.to_line(),
                "fingerprint": public.fingerprint(),
            }),
        ),
        _ => output::print(&format!(
            "wrote the secret key {} (keep it private, outside the evidence) and the public key \
             {}\npublic key:   {}\nfingerprint:  {}\nGive the auditor {} (or read them the \
             fingerprint) by another channel than the evidence; sign with: forget report \
             --manifest FILE --sign-key {}\n",
            secret_file.display(),
            public_file.display(),
            public.to_line(),
            public.fingerprint(),
            public_file.display(),
            secret_file.display(),
        )),
    };
    output::decided(exit::OK, printed)
}

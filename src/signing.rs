//! Ed25519 signatures over the evidence: the key pair `forget keygen` makes, the signature
//! `forget report --sign-key` writes beside a manifest, and the check `forget verify` makes.
//!
//! Each is a one-line text file that names what it holds and its version
//! (`forget-ed25519-public-key v1 <base64>`), so a wrong file (the `.pub` given for the secret
//! key, a signature of a later format) is refused by name, never misread. A public key's
//! fingerprint is `SHA256:` and the unpadded base64 of the SHA-256 of its 32 bytes, as
//! OpenSSH shows keys: the one form forget prints, writes into manifests and accepts.
//!
//! The signature is plain Ed25519 over the exact bytes of the file: another tool that reads
//! the key's 32 bytes can check it too.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signer as _, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::output::{Output, Overwrite, Protected};
use crate::secret;

pub const SECRET_TAG: &str = "forget-ed25519-secret-key";
pub const PUBLIC_TAG: &str = "forget-ed25519-public-key";
pub const SIGNATURE_TAG: &str = "forget-ed25519-signature";
const VERSION: &str = "v1";
const FINGERPRINT_PREFIX: &str = "SHA256:";
/// Larger than any file of these formats: a wrong file is refused before it is read whole.
const MOST_BYTES: u64 = 4096;

/// A secret signing key. `Debug` shows its public fingerprint only; it is wiped when dropped.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key, for checking signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// A signature over a file, and the fingerprint of the key that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    fingerprint: String,
    signature: ed25519_dalek::Signature,
}

/// The signing key as a manifest names it: what an auditor compares with the key they hold.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signer {
    /// `ed25519`.
    pub algorithm: String,
    /// The public key's 32 bytes, base64.
    pub public_key: String,
    /// `SHA256:` + unpadded base64 of the SHA-256 of those bytes.
    pub fingerprint: String,
}

/// The secret key file named by `--sign-key`, loaded.
#[derive(Clone)]
pub struct KeyFile {
    pub path: PathBuf,
    pub key: SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().fingerprint())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyFile({}, {:?})", self.path.display(), self.key)
    }
}

impl SigningKey {
    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<SigningKey> {
        use rand::TryRng;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| {
                Error::internal(format!(
                    "the operating system's random number generator failed: {e}"
                ))
            })?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, bytes: &[u8]) -> Signature {
        Signature {
            fingerprint: self.public().fingerprint(),
            signature: self.0.sign(bytes),
        }
    }

    /// The secret key file's one line.
    fn to_line(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(STANDARD.encode(self.0.as_bytes()));
        Zeroizing::new(format!("{SECRET_TAG} {VERSION} {}\n", seed.as_str()))
    }

    /// Read a secret key file's text; the reason names what the text is when it is not that.
    pub fn parse(text: &str) -> std::result::Result<SigningKey, String> {
        let [seed] = fields(text, SECRET_TAG)?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(decode(seed, "secret key")?);
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Load the secret key file made by `forget keygen`. A file other users can read is used,
    /// with a warning, as the ledger's key file is.
    pub fn load(path: &Path) -> Result<KeyFile> {
        secret::warn_if_shared(path, "signing key file");
        let text = read_small(path).map_err(|why| {
            Error::usage(format!(
                "cannot read the signing key file {}: {why}",
                path.display()
            ))
        })?;
        let key = SigningKey::parse(&text).map_err(|why| {
            Error::usage(format!("the signing key file {} {why}", path.display()))
        })?;
        Ok(KeyFile {
            path: path.to_owned(),
            key,
        })
    }
}

impl PublicKey {
    /// `SHA256:` + unpadded base64 of the SHA-256 of the key's 32 bytes.
    pub fn fingerprint(&self) -> String {
        format!(
            "{FINGERPRINT_PREFIX}{}",
            STANDARD_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
        )
    }

    /// The key's 32 bytes, base64.
    pub fn encoded(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The public key file's one line (also what `forget keygen` prints).
    pub fn to_line(&self) -> String {
        format!("{PUBLIC_TAG} {VERSION} {}", self.encoded())
    }

    /// A key from its 32 bytes in base64 (a manifest's `signer.public_key`).
    pub fn from_encoded(text: &str) -> std::result::Result<PublicKey, String> {
        let bytes: [u8; 32] = decode(text, "public key")?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "is not a valid Ed25519 public key".to_owned())?;
        if key.is_weak() {
            return Err("is a weak Ed25519 public key, which anyone could sign for".into());
        }
        Ok(PublicKey(key))
    }

    /// Read a public key file's text.
    pub fn parse(text: &str) -> std::result::Result<PublicKey, String> {
        let [key] = fields(text, PUBLIC_TAG)?;
        PublicKey::from_encoded(key)
    }

    /// Whether `signature` is this key's over `bytes` (strict: no malleable encodings).
    pub fn verifies(&self, bytes: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(bytes, &signature.signature).is_ok()
    }

    pub fn signer(&self) -> Signer {
        Signer {
            algorithm: "ed25519".into(),
            public_key: self.encoded(),
            fingerprint: self.fingerprint(),
        }
    }
}

impl Signature {
    /// The fingerprint of the key the signature file says made it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The signature file's one line: `forget-ed25519-signature v1 SHA256:… <base64>`.
    pub fn to_line(&self) -> String {
        format!(
            "{SIGNATURE_TAG} {VERSION} {} {}\n",
            self.fingerprint,
            STANDARD.encode(self.signature.to_bytes())
        )
    }

    pub fn parse(text: &str) -> std::result::Result<Signature, String> {
        let [fingerprint, signature] = fields(text, SIGNATURE_TAG)?;
        check_fingerprint(fingerprint)?;
        let bytes: [u8; 64] = decode(signature, "signature")?;
        Ok(Signature {
            fingerprint: fingerprint.to_owned(),
            signature: ed25519_dalek::Signature::from_bytes(&bytes),
        })
    }

    /// Read a signature file.
    pub fn load(path: &Path) -> std::result::Result<Signature, String> {
        Signature::parse(&read_small(path)?)
    }
}

/// The public key `forget verify --public-key` was given: a key, or only its fingerprint
/// (read out over the phone, say); either is what the auditor expects the signer to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    Key(PublicKey),
    Fingerprint(String),
}

impl Expected {
    /// `SHA256:…`, a public key file's line, or the path of a public key file.
    pub fn from_arg(arg: &str) -> Result<Expected> {
        if arg.starts_with(FINGERPRINT_PREFIX) {
            check_fingerprint(arg)
                .map_err(|why| Error::usage(format!("--public-key {arg} {why}")))?;
            return Ok(Expected::Fingerprint(arg.to_owned()));
        }
        if arg.starts_with(PUBLIC_TAG) {
            return PublicKey::parse(arg)
                .map(Expected::Key)
                .map_err(|why| Error::usage(format!("--public-key {why}")));
        }
        let path = Path::new(arg);
        let text = read_small(path).map_err(|why| {
            Error::usage(format!(
                "--public-key {arg}: cannot read it ({why}); give the public key file made by \
                 forget keygen (FILE.pub), its line, or its SHA256:… fingerprint"
            ))
        })?;
        PublicKey::parse(&text)
            .map(Expected::Key)
            .map_err(|why| Error::usage(format!("--public-key: the file {arg} {why}")))
    }

    pub fn fingerprint(&self) -> String {
        match self {
            Expected::Key(key) => key.fingerprint(),
            Expected::Fingerprint(f) => f.clone(),
        }
    }
}

/// Where a secret key file's public key goes: `FILE.pub`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    with_suffix(secret, ".pub")
}

/// Where a manifest's signature goes: `FILE.sig`.
pub fn signature_path(manifest: &Path) -> PathBuf {
    with_suffix(manifest, ".sig")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Make a key pair: the secret key at `secret` (0600) and its public key at `secret.pub`,
/// both checked under the output rule before either is written, each written whole.
pub fn write_key_pair(
    secret: &Path,
    protected: &Protected,
    overwrite: Overwrite,
) -> Result<PublicKey> {
    let public = public_key_path(secret);
    let mut secret_out = Output::create(secret, protected, overwrite)?;
    let mut public_out = Output::create(&public, protected, overwrite)?;
    let key = SigningKey::generate()?;
    let line = key.to_line();
    secret_out
        .write_all(line.as_bytes())
        .map_err(|e| secret_out.name().error(e))?;
    secret_out.finish()?;
    let public_key = key.public();
    public_out
        .write_all(format!("{}\n", public_key.to_line()).as_bytes())
        .map_err(|e| public_out.name().error(e))?;
    public_out.finish()?;
    Ok(public_key)
}

/// The words after `tag v1`, exactly `N` of them; or why the text is not that file.
fn fields<'a, const N: usize>(
    text: &'a str,
    tag: &str,
) -> std::result::Result<[&'a str; N], String> {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut words = text.split(' ');
    let first = words.next().unwrap_or_default();
    if first != tag {
        return Err(match first {
            SECRET_TAG | PUBLIC_TAG | SIGNATURE_TAG => {
                format!("is {}, not {}", describe(first), describe(tag))
            }
            _ => format!(
                "is not {} (one line starting `{tag} {VERSION}`, as forget writes it)",
                describe(tag)
            ),
        });
    }
    let version = words.next().unwrap_or_default();
    if version != VERSION {
        return Err(format!(
            "is {} of version {version:?}, which this forget does not read (it reads {VERSION})",
            describe(tag)
        ));
    }
    let rest: Vec<&str> = words.collect();
    rest.try_into().map_err(|_| {
        format!(
            "is damaged: {} must be one line of {} words",
            describe(tag),
            N + 2
        )
    })
}

fn describe(tag: &str) -> &'static str {
    match tag {
        SECRET_TAG => "a forget secret signing key",
        PUBLIC_TAG => "a forget public key",
        _ => "a forget signature",
    }
}

fn decode<const N: usize>(text: &str, what: &str) -> std::result::Result<[u8; N], String> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text)
            .map_err(|_| format!("is damaged: its {what} is not base64"))?,
    );
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("is damaged: its {what} is not {N} bytes"))
}

fn check_fingerprint(text: &str) -> std::result::Result<(), String> {
    let hash = text
        .strip_prefix(FINGERPRINT_PREFIX)
        .ok_or_else(|| format!("is not a fingerprint (`{FINGERPRINT_PREFIX}…`)"))?;
    match STANDARD_NO_PAD.decode(hash) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(format!(
            "is not a fingerprint: `{FINGERPRINT_PREFIX}` and 43 characters of base64, as forget \
             keygen prints it"
        )),
    }
}

/// A key or signature file's text, refused when it is too long or not text.
fn read_small(path: &Path) -> std::result::Result<Zeroizing<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MOST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MOST_BYTES {
        return Err("it is too long to be a forget key or signature file".into());
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| "it is not text: not a forget key or signature file".to_owned())?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_only_the_bytes_and_key_it_was_made_with() -> Result<()> {
        let key = SigningKey::generate()?;
        let other = SigningKey::generate()?;
        let sig = key.sign(b"manifest");
        let read = Signature::parse(&sig.to_line()).map_err(Error::usage)?;
        assert_eq!(read, sig);
        assert_eq!(read.fingerprint(), key.public().fingerprint());
        assert!(key.public().verifies(b"manifest", &read));
        assert!(!key.public().verifies(b"manifesT", &read));
        assert!(!other.public().verifies(b"manifest", &read));
        Ok(())
    }

    #[test]
    fn each_file_reads_back_and_a_wrong_one_is_named() -> Result<()> {
        let key = SigningKey::generate()?;
        let back = SigningKey::parse(&key.to_line()).map_err(Error::usage)?;
        assert_eq!(back.public(), key.public());
        let public = PublicKey::parse(&key.public().to_line()).map_err(Error::usage)?;
        assert_eq!(public, key.public());
        let fp = key.public().fingerprint();
        assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 43, "{fp}");
        let refused = |r: std::result::Result<SigningKey, String>| match r {
            Ok(_) => panic!("accepted"),
            Err(why) => why,
        };
        let why = refused(SigningKey::parse(&key.public().to_line()));
        assert!(
            why.contains("is a forget public key, not a forget secret"),
            "{why}"
        );
        let why = refused(SigningKey::parse("forget-ed25519-secret-key v2 AAAA"));
        assert!(why.contains("version \"v2\""), "{why}");
        let why = refused(SigningKey::parse("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(why.contains("is not a forget secret signing key"), "{why}");
        let why = refused(SigningKey::parse("forget-ed25519-secret-key v1 AAAA"));
        assert!(why.contains("not 32 bytes"), "{why}");
        assert!(Expected::from_arg("SHA256:short").is_err());
        assert_eq!(Expected::from_arg(&fp)?, Expected::Fingerprint(fp.clone()));
        assert_eq!(
            Expected::from_arg(&key.public().to_line())?,
            Expected::Key(key.public())
        );
        Ok(())
    }
}

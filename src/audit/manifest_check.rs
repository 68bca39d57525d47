//! `forget verify --manifest`: a manifest checked against its signature, the expected key, the
//! files it lists and the ledger, one [`Verdict`] per check. Nothing is written: a read-only
//! copy of the evidence can be checked.
//!
//! What passing proves: the manifest's bytes are those the key's holder signed; each listed
//! file is byte for byte the one sealed; the ledger still holds the chain history up to the
//! head the manifest pinned. Not who holds the key (only the auditor's own copy of the public
//! key, received apart from the evidence, ties it to the team), nor that the API erased
//! anything beyond what its answers said.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::ledger::chain::{self, Head};
use crate::ledger::verify::Verdict;
use crate::signing::{self, Expected, PublicKey, Signature, Signer};

/// What to check: the manifest, its signature, and the key the auditor expects.
pub struct Request<'a> {
    pub manifest: &'a Path,
    /// The signature file [default: MANIFEST.sig, when it exists].
    pub signature: Option<&'a Path>,
    /// `--public-key`: the key (or fingerprint) the auditor received apart from the evidence.
    pub expected: Option<&'a Expected>,
}

/// What the manifest says of itself, shown beside the verdicts.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct About {
    pub path: String,
    pub signature: Option<String>,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub generated_at: Option<String>,
    /// The ledger path the manifest was made from (the copy checked may be elsewhere).
    pub ledger: Option<String>,
    pub chain_head: Option<Head>,
    pub signer: Option<String>,
}

impl About {
    /// One line for people.
    pub fn line(&self) -> String {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        format!(
            "manifest {}: {} {}, generated {}, from the ledger {}, signed by {}",
            self.path,
            or(&self.tool),
            or(&self.tool_version),
            or(&self.generated_at),
            or(&self.ledger),
            self.signer.as_deref().unwrap_or("no key")
        )
    }
}

/// The fields `verify` reads; the manifest holds more.
#[derive(serde::Deserialize)]
struct View {
    tool: String,
    tool_version: Option<String>,
    generated_at: Option<String>,
    ledger: Option<String>,
    counts: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    report_files: Vec<Listed>,
    chain_head: Option<Head>,
    signer: Option<Signer>,
}

#[derive(serde::Deserialize)]
struct Listed {
    path: String,
    relative_path: Option<String>,
    sha256: String,
    rows: Option<u64>,
}

/// Check the manifest; `ledger` is `None` when the ledger could not be opened (its own
/// verdict says why). A missing manifest, or a signature file named but missing, is a usage
/// error: there is nothing to check.
pub fn check(req: &Request, ledger: Option<&Ledger>) -> Result<(About, Vec<Verdict>)> {
    let bytes = std::fs::read(req.manifest).map_err(|e| {
        Error::usage(format!(
            "--manifest {}: cannot read it: {e}",
            req.manifest.display()
        ))
    })?;
    let default_sig = signing::signature_path(req.manifest);
    let sig_path = match req.signature {
        Some(p) if !p.is_file() => {
            return Err(Error::usage(format!(
                "--signature {}: no such file",
                p.display()
            )));
        }
        Some(p) => Some(p.to_owned()),
        None => default_sig.is_file().then_some(default_sig.clone()),
    };
    let view: std::result::Result<View, String> = serde_json::from_slice::<View>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| match v.tool.as_str() {
            "forget" => Ok(v),
            other => Err(format!("its tool is {other:?}, not forget")),
        });
    let mut about = About {
        path: req.manifest.display().to_string(),
        signature: sig_path.as_ref().map(|p| p.display().to_string()),
        ..About::default()
    };
    if let Ok(v) = &view {
        about.tool = Some(v.tool.clone());
        about.tool_version = v.tool_version.clone();
        about.generated_at = v.generated_at.clone();
        about.ledger = v.ledger.clone();
        about.chain_head = v.chain_head.clone();
        about.signer = v.signer.as_ref().map(|s| s.fingerprint.clone());
    }
    let mut verdicts = vec![verdict(
        "manifest_format",
        "the manifest is a forget manifest (JSON) that verify can read",
        view.as_ref()
            .map(|_| None)
            .unwrap_or_else(|e| Some(format!("{}: not a forget manifest: {e}", about.path))),
    )];
    let named = view.as_ref().ok().and_then(|v| v.signer.as_ref());
    verdicts.extend(signature_verdicts(
        &bytes,
        sig_path.as_deref(),
        &default_sig,
        named,
        req.expected,
    ));
    let Ok(view) = view else {
        return Ok((about, verdicts));
    };
    let dir = req.manifest.parent().unwrap_or(Path::new(""));
    for listed in &view.report_files {
        verdicts.push(file_verdict(dir, listed));
    }
    if view.report_files.is_empty() {
        verdicts.push(verdict(
            "report_file",
            "each file the manifest lists exists and has the SHA-256 it lists",
            Some("the manifest lists no report file: it seals nothing".into()),
        ));
    }
    verdicts.extend(ledger_verdicts(&view, ledger)?);
    Ok((about, verdicts))
}

fn verdict(check: &'static str, about: &'static str, problem: Option<String>) -> Verdict {
    Verdict {
        check,
        about,
        ok: problem.is_none(),
        problems: u64::from(problem.is_some()),
        detail: problem,
    }
}

/// A passing verdict that says what it found.
fn passed(check: &'static str, about: &'static str, detail: String) -> Verdict {
    Verdict {
        check,
        about,
        ok: true,
        problems: 0,
        detail: Some(detail),
    }
}

const SIGNATURE: &str =
    "the signature is valid for the manifest's exact bytes under the public key";
const SIGNER: &str = "the manifest was signed with the key the auditor expects (--public-key)";

/// `manifest_signature` (integrity) and `manifest_signer` (origin).
fn signature_verdicts(
    bytes: &[u8],
    sig_path: Option<&Path>,
    default_sig: &Path,
    named: Option<&Signer>,
    expected: Option<&Expected>,
) -> [Verdict; 2] {
    let fail_as = |why: String, origin: String| {
        [
            verdict("manifest_signature", SIGNATURE, Some(why)),
            verdict("manifest_signer", SIGNER, Some(origin)),
        ]
    };
    let fail = |why: String| {
        fail_as(
            why,
            "not established: the signature does not check out (manifest_signature)".into(),
        )
    };
    let Some(sig_path) = sig_path else {
        return fail(format!(
            "the manifest is not signed: there is no {} beside it (forget report --sign-key \
             writes it); nothing shows the manifest was not edited along with the files",
            default_sig.display()
        ));
    };
    let signature = match Signature::load(sig_path) {
        Ok(s) => s,
        Err(why) => return fail(format!("{}: {why}", sig_path.display())),
    };
    // The key the signature is checked with: the auditor's, else the one the manifest names.
    let key = match (expected, named) {
        (Some(Expected::Key(key)), _) => *key,
        (_, Some(signer)) => match PublicKey::from_encoded(&signer.public_key) {
            Ok(key) => key,
            Err(why) => return fail(format!("the key the manifest names {why}")),
        },
        (_, None) => {
            return fail(
                "the manifest names no signing key and no --public-key was given: there is no \
                 key to check the signature with"
                    .into(),
            );
        }
    };
    if !key.verifies(bytes, &signature) {
        let by = match signature.fingerprint() == key.fingerprint() {
            true => "the manifest or its signature was changed after signing".to_owned(),
            false => format!(
                "{} says it was made by {}",
                sig_path.display(),
                signature.fingerprint()
            ),
        };
        let origin = match expected.map(Expected::fingerprint) {
            Some(want) if want != signature.fingerprint() => format!(
                "the signature file names the key {}, not the key you expect, {want}",
                signature.fingerprint()
            ),
            _ => "not established: the signature does not check out (manifest_signature)".into(),
        };
        return fail_as(
            format!(
                "the signature is not valid for {} under the key {}: {by}",
                if expected.is_some_and(|e| matches!(e, Expected::Key(_))) {
                    "the manifest"
                } else {
                    "the manifest (checked with the key it names)"
                },
                key.fingerprint()
            ),
            origin,
        );
    }
    let integrity = passed(
        "manifest_signature",
        SIGNATURE,
        format!("signed by {} ({} bytes)", key.fingerprint(), bytes.len()),
    );
    let origin = match expected {
        None => verdict(
            "manifest_signer",
            SIGNER,
            Some(format!(
                "not checked: no --public-key was given. The signature was checked against the \
                 key the manifest itself names ({}) only: that proves the manifest is unchanged \
                 since that key signed it (integrity), not whose key it is (origin). Give the \
                 public key file or fingerprint you received from the team, apart from the \
                 evidence, with --public-key",
                key.fingerprint()
            )),
        ),
        Some(expected) => {
            let want = expected.fingerprint();
            let named_other = named.filter(|s| s.fingerprint != want);
            if key.fingerprint() != want {
                verdict(
                    "manifest_signer",
                    SIGNER,
                    Some(format!(
                        "the manifest was signed by {}, not by the key you expect, {want}",
                        key.fingerprint()
                    )),
                )
            } else if let Some(other) = named_other {
                verdict(
                    "manifest_signer",
                    SIGNER,
                    Some(format!(
                        "the signature is the expected key's ({want}), but the manifest names \
                         another, {}",
                        other.fingerprint
                    )),
                )
            } else {
                passed(
                    "manifest_signer",
                    SIGNER,
                    format!("the key you expect, {want}"),
                )
            }
        }
    };
    [integrity, origin]
}

const FILE: &str = "each file the manifest lists exists and has the SHA-256 it lists";

/// One listed file: found from the manifest's folder, hashed, compared.
fn file_verdict(dir: &Path, listed: &Listed) -> Verdict {
    let shown = listed.relative_path.as_deref().unwrap_or(&listed.path);
    if listed.relative_path.is_none() && listed.path == "-" {
        return verdict(
            "report_file",
            FILE,
            Some(
                "a report written to standard output: forget cannot find it to check it \
                 (write reports with --output for evidence that can be verified)"
                    .into(),
            ),
        );
    }
    let candidates: Vec<PathBuf> = match &listed.relative_path {
        Some(rel) => vec![dir.join(rel)],
        // A manifest from before relative paths: its path was relative to where the report
        // was run, most often the manifest's folder.
        None => vec![dir.join(&listed.path), PathBuf::from(&listed.path)],
    };
    let Some(found) = candidates.iter().find(|p| p.is_file()) else {
        return verdict(
            "report_file",
            FILE,
            Some(format!(
                "{shown}: missing (looked for {})",
                candidates[0].display()
            )),
        );
    };
    match sha256_of(found) {
        Err(e) => verdict(
            "report_file",
            FILE,
            Some(format!("{shown}: cannot read {}: {e}", found.display())),
        ),
        Ok(hash) if hash.eq_ignore_ascii_case(&listed.sha256) => passed(
            "report_file",
            FILE,
            format!(
                "{shown}: SHA-256 as listed{}",
                listed
                    .rows
                    .map(|r| format!(" ({r} rows)"))
                    .unwrap_or_default()
            ),
        ),
        Ok(hash) => verdict(
            "report_file",
            FILE,
            Some(format!(
                "{shown}: its SHA-256 is {hash}, the manifest lists {}: the file was changed \
                 after the manifest sealed it",
                listed.sha256
            )),
        ),
    }
}

const CHAIN: &str = "the ledger still holds the chain history up to the head the manifest pinned";
const COUNTS: &str = "the manifest's counts per outcome are the ledger's";

/// `manifest_chain_head` and `manifest_counts`.
fn ledger_verdicts(view: &View, ledger: Option<&Ledger>) -> Result<[Verdict; 2]> {
    let Some(ledger) = ledger else {
        let why = || Some("the ledger cannot be read (see sqlite_open)".to_owned());
        return Ok([
            verdict("manifest_chain_head", CHAIN, why()),
            verdict("manifest_counts", COUNTS, why()),
        ]);
    };
    let head = ledger.chain_head()?;
    // How far the ledger went past the pinned head, when it still holds it.
    let mut grew_by = None;
    let chain = match (&view.chain_head, &head) {
        (None, _) => passed(
            "manifest_chain_head",
            CHAIN,
            "the manifest pins no chain head (made from a ledger without a hash chain): the \
             ledger's history is not checked against it"
                .into(),
        ),
        (Some(pinned), None) => verdict(
            "manifest_chain_head",
            CHAIN,
            Some(format!(
                "the manifest pins record {} of a hash chain, and this ledger has none: it is \
                 not the ledger the manifest was made from, or its chain was removed",
                pinned.seq
            )),
        ),
        (Some(pinned), Some(now)) => match chain::hash_at(ledger.conn(), pinned.seq)? {
            Some(hash) if hash.eq_ignore_ascii_case(&pinned.hash) => {
                grew_by = Some(now.seq - pinned.seq);
                passed(
                    "manifest_chain_head",
                    CHAIN,
                    format!(
                        "record {} is the one pinned; {} records were chained since",
                        pinned.seq,
                        now.seq - pinned.seq
                    ),
                )
            }
            Some(hash) => verdict(
                "manifest_chain_head",
                CHAIN,
                Some(format!(
                    "record {} hashes to {hash}, the manifest pinned {}: the ledger's history \
                     was changed after the manifest was made",
                    pinned.seq, pinned.hash
                )),
            ),
            None => verdict(
                "manifest_chain_head",
                CHAIN,
                Some(format!(
                    "the ledger's chain has no record {} (its head is {}): records were \
                     removed, or this is an older copy than the manifest's",
                    pinned.seq, now.seq
                )),
            ),
        },
    };
    let counts = match &view.counts {
        None => verdict(
            "manifest_counts",
            COUNTS,
            Some("the manifest has no counts".into()),
        ),
        Some(listed) => {
            let now = serde_json::to_value(ledger.counts()?)
                .map_err(|e| Error::json("reading the ledger's counts", e))?;
            let differ: Vec<String> = listed
                .iter()
                .filter(|(name, value)| now.get(name.as_str()) != Some(value))
                .map(|(name, value)| {
                    let now = now.get(name.as_str()).cloned().unwrap_or_default();
                    format!("{name} {value} then, {now} now")
                })
                .collect();
            match (differ.is_empty(), grew_by) {
                (true, _) => verdict("manifest_counts", COUNTS, None),
                (false, Some(n)) if n > 0 => passed(
                    "manifest_counts",
                    COUNTS,
                    format!(
                        "the ledger grew by {n} chained records since the manifest: {}",
                        differ.join(", ")
                    ),
                ),
                (false, _) => verdict(
                    "manifest_counts",
                    COUNTS,
                    Some(format!(
                        "the ledger's counts differ from the manifest's ({}): it changed since \
                         the manifest was made, or is another ledger",
                        differ.join(", ")
                    )),
                ),
            }
        }
    };
    Ok([chain, counts])
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
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

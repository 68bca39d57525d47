//! The manifest sealed: written whole, its report files named from its own folder, and signed
//! (`--sign-key`) over the exact bytes written, the signature beside it as `MANIFEST.sig`.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::{Manifest, Outputs, ReportConfig, WrittenFile};
use crate::error::{Error, Result};
use crate::output::{Destination, Output};
use crate::signing::{self, KeyFile};

/// The signature's output, checked with the others before anything is written.
pub(super) fn open_signature(
    outputs: &mut Outputs,
    config: &ReportConfig,
    manifest: Option<&Output>,
) -> Result<Option<Output>> {
    let (Some(_), Some(path)) = (&config.sign, &config.manifest) else {
        return match config.sign {
            Some(_) => Err(Error::usage(
                "--sign-key signs the manifest: give --manifest FILE",
            )),
            None => Ok(None),
        };
    };
    if manifest.is_none_or(|m| m.name().is_stdout()) {
        return Err(Error::usage(
            "--sign-key writes the signature beside the manifest: give --manifest a file, not -",
        ));
    }
    outputs
        .open(
            "--sign-key",
            &Destination::File(signing::signature_path(path)),
        )
        .map(Some)
}

/// A file written before the report (`ReportConfig::also`), as the manifest lists it: its
/// SHA-256 and size read back from disk.
pub(super) fn listed(path: &Path, role: &'static str, format: &'static str) -> Result<WrittenFile> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("cannot read back {}", path.display()), e))?;
    Ok(WrittenFile {
        path: path.display().to_string(),
        role,
        format,
        // A CSV's rows are its records after the header; another file's, its lines.
        rows: (bytes.iter().filter(|b| **b == b'\n').count() as u64)
            .saturating_sub(u64::from(format == "csv")),
        bytes: bytes.len() as u64,
        sha256: crate::ledger::chain::hex(&Sha256::digest(&bytes)),
        relative_path: None,
        place: std::fs::canonicalize(path).ok(),
    })
}

/// Name each written file from the manifest's folder, so a copied pack still finds them.
pub(super) fn relate(files: &mut [WrittenFile], manifest: Option<&Path>) {
    let Some(dir) = manifest.and_then(Path::parent) else {
        return;
    };
    for file in files {
        file.relative_path = file.place.as_deref().and_then(|place| relative(dir, place));
    }
}

/// Write the manifest, then its signature over those bytes: the signature file and the
/// fingerprint of the key, when signed.
pub(super) fn write(
    manifest: &Manifest,
    mut out: Output,
    signature: Option<Output>,
    key: Option<&KeyFile>,
) -> Result<Option<(PathBuf, String)>> {
    let name = out.name().clone();
    let mut bytes = serde_json::to_vec_pretty(manifest).map_err(|e| name.json_error(e))?;
    bytes.push(b'\n');
    out.write_all(&bytes).map_err(|e| name.error(e))?;
    out.finish()?;
    let (Some(mut sig_out), Some(key)) = (signature, key) else {
        return Ok(None);
    };
    let signature = key.key.sign(&bytes);
    let sig_name = sig_out.name().clone();
    sig_out
        .write_all(signature.to_line().as_bytes())
        .map_err(|e| sig_name.error(e))?;
    sig_out.finish()?;
    Ok(Some((
        PathBuf::from(sig_name.shown()),
        signature.fingerprint().to_owned(),
    )))
}

/// `to` from the folder `dir`, both resolved, `/`-separated (`None`: not UTF-8).
fn relative(dir: &Path, to: &Path) -> Option<String> {
    let from: Vec<Component> = dir.components().collect();
    let target: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    for part in &target[common..] {
        parts.push(part.as_os_str().to_str()?);
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_manifests_folder() {
        let case = |dir: &str, to: &str| relative(Path::new(dir), Path::new(to));
        assert_eq!(case("/a/b", "/a/b/r.csv").as_deref(), Some("r.csv"));
        assert_eq!(case("/a/b", "/a/b/out/s.csv").as_deref(), Some("out/s.csv"));
        assert_eq!(case("/a/b", "/a/c/r.csv").as_deref(), Some("../c/r.csv"));
        assert_eq!(case("/", "/r.csv").as_deref(), Some("r.csv"));
    }
}

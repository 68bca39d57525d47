//! Saving one JSON document per subject, named by a keyed hash (never the key), 0600 in a
//! 0700 folder, written whole (under the output rule) before it is recorded as exported.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Query;
use super::transactions::{decode, transactions_of};
use crate::connector::{NotKept, Unit};
use crate::error::{Error, Result};
use crate::keys::KeyHasher;
use crate::output::{self, Overwrite, Protected};

/// Saves one JSON document per subject into a folder.
pub struct Exporter {
    dir: PathBuf,
    hasher: KeyHasher,
    /// The API address, recorded in each document.
    source: String,
    /// The export's ledger and its companions: a document never replaces them.
    protected: Protected,
}

impl Exporter {
    /// Create `dir` (0700) if needed. `hasher` names the files: a keyed hash, so a folder
    /// listing (or a backup catalogue) does not name the people in it. No document is ever
    /// written over `protected` (the export's ledger and its companions).
    pub fn new(
        dir: &Path,
        hasher: KeyHasher,
        source: String,
        protected: Protected,
    ) -> Result<Exporter> {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create --out-dir {}", dir.display()), e))?;
        } else if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--out-dir {}: exists and is not a folder",
                dir.display()
            )));
        } else if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            output::eprint(&format!(
                "warning: the export folder {} can be read by other users; run: chmod 700 {}\n",
                dir.display(),
                dir.display()
            ));
        }
        Ok(Exporter {
            dir: dir.to_owned(),
            hasher,
            source,
            protected,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<keyed hash of scope and key>.json`: stable for a subject and query, so a resumed
    /// export overwrites rather than duplicates.
    pub fn file_name(&self, unit: &Unit) -> String {
        let hash = self
            .hasher
            .hash(&format!("access\u{0}{}\u{0}{}", unit.scope, unit.key));
        format!("{}.json", &hex::encode(hash)[..32])
    }

    /// The document for one subject.
    pub fn document(&self, unit: &Unit, transactions: Vec<Value>) -> Value {
        let query = Query::from_scope(&unit.scope).unwrap_or_default();
        let returned = transactions.len();
        let mut doc = json!({
            "export": "GDPR Art. 15 access export: Webex Campaign transactions",
            "subject": { query.subject.param(): unit.key },
            "query": query.to_json(),
            "source": self.source,
            "exported_at": crate::ledger::timestamp(std::time::SystemTime::now()),
            "tool": concat!("forget ", env!("CARGO_PKG_VERSION")),
            "transaction_count": returned,
            "transactions": transactions.into_iter().map(decode).collect::<Vec<_>>(),
        });
        if returned >= usize::from(query.count) {
            doc["note"] = json!(format!(
                "the API returns the {} most recent transactions at most: older ones may exist \
                 (narrow --from/--to to reach them)",
                query.count
            ));
        }
        doc
    }

    /// Write the document for `unit` from an answer `body`, under the output rule: to a
    /// temporary file (0600), synced, then renamed over the subject's previous document, so
    /// a document is whole or absent. This runs on the engine's task: one small file per
    /// subject, synced because the ledger will say it exists.
    pub fn save(&self, unit: &Unit, body: &[u8]) -> std::result::Result<PathBuf, NotKept> {
        let json: Value =
            serde_json::from_slice(body).map_err(|e| NotKept::new("the answer is not JSON", e))?;
        let transactions = transactions_of(json).unwrap_or_default();
        let doc = self.document(unit, transactions);
        let mut bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| NotKept::new("cannot write the document", e))?;
        bytes.push(b'\n');
        let path = self.dir.join(self.file_name(unit));
        output::write_file(&path, &bytes, &self.protected, Overwrite::Replace)
            .map_err(|e| NotKept::new("cannot save the document", e))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_decode_and_name_files_without_the_key() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let exporter = Exporter::new(
            &dir.path().join("out"),
            KeyHasher::new(b"0123456789abcdef"),
            "https://x/campaignapi/resources/v3/transactions".into(),
            Protected::none(),
        )?;
        let unit = Unit {
            id: 1,
            scope: "key?count=2".into(),
            key: "+447700900123".into(),
            exparams: vec![],
        };
        let body = br#"[{"transaction-id":"t1","channel":"0","transaction-status":"Expired"},
                        {"transaction-id":"t2","channel":7,"transaction-status":"Email,Opened"}]"#;
        let path = exporter
            .save(&unit, body)
            .map_err(|e| Error::usage(e.to_string()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            !name.contains("447700900123") && name.ends_with(".json"),
            "{name}"
        );
        let mode = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat", e))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", e))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| Error::usage(e.to_string()))?;
        assert_eq!(doc["subject"], json!({"key": "+447700900123"}));
        assert_eq!(doc["transaction_count"], json!(2));
        assert_eq!(doc["transactions"][0]["decoded"]["channel"], json!("SMS"));
        assert_eq!(doc["transactions"][1]["decoded"]["channel"], json!("EMAIL"));
        assert_eq!(
            doc["transactions"][1]["decoded"]["status"],
            json!("engagement")
        );
        assert!(doc["note"].is_string(), "2 of count 2: there may be more");
        // Saving again replaces the document rather than adding one.
        exporter
            .save(&unit, b"[]")
            .map_err(|e| Error::usage(e.to_string()))?;
        let files = std::fs::read_dir(exporter.dir())
            .map_err(|e| Error::io("list", e))?
            .count();
        assert_eq!(files, 1);
        Ok(())
    }
}

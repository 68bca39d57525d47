//! The ledger's hash chain: every record that changes what the evidence says (a file
//! recorded, an attempt and its answer, an event, a purge) carries a SHA-256 over its
//! content and the hash before it, so editing, deleting or reordering a past record is
//! detectable. The chain's head (its last sequence number and hash) is kept in `meta`, and a
//! signed manifest pins it.

use rusqlite::{Connection, OptionalExtension};

/// `meta` row holding the head: `<seq>:<hex sha256>`.
pub const HEAD: &str = "chain_head";

/// The last link of the chain: what a manifest pins.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// How many records are chained (the last one's sequence number).
    pub seq: i64,
    /// Its hash, lowercase hex SHA-256.
    pub hash: String,
}

/// The chain's head, or `None` on a ledger that has no chain (a schema before it).
pub fn head(conn: &Connection) -> rusqlite::Result<Option<Head>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [HEAD], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.and_then(|v| parse_head(&v)))
}

fn parse_head(value: &str) -> Option<Head> {
    let (seq, hash) = value.split_once(':')?;
    Some(Head {
        seq: seq.parse().ok()?,
        hash: hash.to_owned(),
    })
}

impl super::Ledger {
    /// The chain's head, for a manifest to pin (`None`: a ledger from before the chain).
    pub fn chain_head(&self) -> crate::error::Result<Option<Head>> {
        Ok(head(&self.conn)?)
    }
}

/// The tables whose rows are chained, each with columns `seq` and `chain`.
pub const TABLES: [&str; 4] = ["files", "attempts", "events", "purges"];

/// The hash of the record at `seq`, hex, if the chain has one there (a manifest's head is
/// checked against the ledger by it: the ledger may have grown since).
pub fn hash_at(conn: &Connection, seq: i64) -> rusqlite::Result<Option<String>> {
    if head(conn)?.is_none() {
        return Ok(None);
    }
    for table in TABLES {
        let found: Option<Vec<u8>> = conn
            .query_row(
                &format!("SELECT chain FROM {table} WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(hash) = found {
            return Ok(Some(hex(&hash)));
        }
    }
    Ok(None)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

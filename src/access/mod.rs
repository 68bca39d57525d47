//! `forget access`: data-subject access exports (GDPR Art. 15) from the last-N-transactions
//! API, one JSON document per subject.
//!
//! The job has the same shape as an erasure run, so it *is* one: the CSV is recorded in a
//! ledger, each subject becomes a unit of work of the `webex-access` connector (its scope is
//! the query, so the same subject asked with another window is another unit), and the engine
//! sends, throttles, retries and classifies. The connector saves the document when the
//! answer is good, before the unit is recorded as finished (see
//! [`Connector::on_success`](crate::connector::Connector::on_success)); a finished subject
//! is never fetched again, and a subject whose document was not saved stays pending.
//!
//! Internally a finished export is the ledger outcome `deleted` (the key leaves the ledger
//! with it); this module's summary calls it "exported".

pub mod connector;
mod exporter;
mod query;
mod summary;
mod transactions;

pub use exporter::Exporter;
pub use query::{Channel, Query, Subject, key_rule, parse_date};
pub use summary::render_summary;
pub use transactions::{carries_transactions, status_meaning, transactions_of};

/// The ledger name of access units: never confused with deletions of the same key.
pub const CONNECTOR: &str = crate::outcome::ACCESS_CONNECTOR;
/// Where the last-N-transactions API is assumed to be (the document does not say).
pub const DEFAULT_PATH: &str = "/campaignapi/resources/v3/transactions";
/// The most transactions one call returns, as documented.
pub const MAX_COUNT: u8 = 50;

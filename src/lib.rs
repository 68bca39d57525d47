//! forget: carry out GDPR erasure requests in bulk, resumably, and prove it.
//!
//! The tree, top to bottom; each layer uses only the layers below it (ARCHITECTURE.md
//! draws it):
//!
//! - [`cli`]: one file per subcommand (its flags, their validation into a config, its
//!   `exec`), the argument groups they share, and the one place errors become exit codes.
//! - The jobs and reads the commands run:
//!   - [`job`]: `forget run` (and `forget access`): input recorded ([`job::ingest`]), then
//!     unfinished units sent, then the [`job::summary`];
//!   - [`access`]: data-subject access exports (GDPR Art. 15), a run of its own connector;
//!   - [`audit`]: reading the ledger for people — `status`, `lookup`, `report`, `purge`, `resolve`;
//!   - [`tenant`]: reading the tenant — the API hub, `inventory`, Outreach `list`, `check`.
//! - [`target`]: where requests go (a tenant's API with its token, or the sample simulator).
//! - [`engine`]: sends units through a connector, paced by its [`engine::throttle`], retried
//!   by [`engine::retry`], each answer read into an [`outcome::Verdict`] and handed to the
//!   ledger writer; [`engine::preflight`] proves URL, token and profile with a canary.
//! - [`ledger`]: the SQLite record of every row, unit, attempt and run (migrations, ingest,
//!   the batching writer, the queries of the audit commands).
//! - [`input`]: CSV rows become [`input::ParsedRow`]s (bad rows are data, bad files errors).
//! - [`connector`]: how one system is asked to erase one unit and how its answer reads
//!   (Webex Campaign, Outreach); [`transport`] carries the requests.
//! - Leaves, used by everything above: [`error`] (the one fatal error type and the exit
//!   codes), [`outcome`], [`keys`] and [`secret`] (keyed hashes, masks, the token and the
//!   ledger key), [`deadline`], [`retry_after`], [`csvfile`] (the one CSV dialect, and the
//!   escaping of cells a spreadsheet would run), [`output`] (the one rule for every file
//!   written, and standard output), [`text`] (what may reach a terminal), [`actor`],
//!   [`signal`] (the signals that stop a long command), [`signing`] (the Ed25519 key pair,
//!   and the signature over a manifest).
//! - [`sim`]: the simulator of the APIs, its own crate (`crates/forget-sim`), used for
//!   rehearsals and tests; it shares no code with the client it checks.

pub mod access;
pub mod actor;
pub mod audit;
pub mod cli;
pub mod connector;
pub mod csvfile;
pub mod deadline;
pub mod engine;
pub mod error;
pub mod input;
pub mod job;
pub mod keys;
pub mod ledger;
pub mod outcome;
pub mod output;
pub mod retry_after;
pub mod secret;
pub mod signal;
pub mod signing;
pub use forget_sim as sim;
pub mod target;
pub mod tenant;
pub mod text;
pub mod transport;

pub use error::{Error, Result};

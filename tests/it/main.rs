//! The integration tests, one binary (`cargo test --test it`): a module per area, run one
//! with `cargo test --test it crash::`. `common` holds the helpers they share: a simulator on
//! 127.0.0.1:0, temporary work directories, and a `Workdir` that runs the real binary.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod common;

mod access;
mod access_outcomes;
mod audit;
mod bad_input;
mod bulk_load;
mod chain;
mod cli;
mod contradictions;
mod crash;
mod deadline_lists;
mod deadlines;
mod docs;
mod echo;
mod environment;
mod escaping;
mod evidence;
mod faults;
mod hints;
mod html_summary;
mod intake;
mod inventory;
mod json_output;
mod key_forms;
mod ledger;
mod lifecycle;
mod limits;
mod lookup_variants;
mod manuals;
mod output_rule;
mod outreach;
mod pipeline;
mod pipes;
mod preflight;
mod proxy;
mod report;
mod robustness;
mod scripted;
mod send_order;
mod signals;
mod signing;
mod transport;

//! `forget invalid`: the input rows that could not become a request, with file, line and
//! reason.

use clap::Args;

use super::args::LedgerArgs;
use crate::error::{Result, exit};
use crate::ledger::Ledger;
use crate::ledger::verify::Depth;

#[derive(Args, Debug)]
pub struct InvalidArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

pub fn exec(args: &InvalidArgs) -> Result<i32> {
    let ledger = Ledger::open_read_only(&args.ledger.state)?;
    ledger.ensure_sound(Depth::Report)?;
    let rows = ledger.invalid_rows()?;
    if rows.is_empty() {
        println!("no invalid rows");
    }
    for row in rows {
        println!("{}:{}: {}", row.path, row.line, row.reason);
    }
    Ok(exit::OK)
}

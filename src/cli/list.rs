//! `forget list`: every record of an Outreach collection (id and attributes) as CSV.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::{ConnectorArgs, PacingArgs, TargetArgs};
use super::format;
use crate::connector::{Kind, outreach};
use crate::engine::EngineConfig;
use crate::engine::throttle::Throttle;
use crate::error::{Error, Result, exit};
use crate::output::{self, Destination, Output, Overwrite, Protected};
use crate::signal::Signals;
use crate::tenant::list::{self, ListConfig};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// The system to list: outreach, the only one with an API that lists its records
    /// (Webex Campaign has none for profiles).
    #[arg(
        long,
        default_value = "outreach",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub connector: Kind,
    /// The JSON:API collection, e.g. callPurposes or prospects (letters and digits).
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub resource: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the CSV to this file (created 0600 once complete; a link, a device or a pipe is
    /// never written over, nor an existing file without --force: a listing of the tenant
    /// cannot be regenerated). Without it, or with `-`, the CSV goes to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Deprecated: `--output`.
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "output")]
    pub out: Option<PathBuf>,
    /// Replace an existing file at --output (once the new listing is complete).
    #[arg(long)]
    pub force: bool,
    /// Print nothing on stderr but errors (no summary line).
    #[arg(short, long)]
    pub quiet: bool,
    /// Records per page (`page[size]`), 1 to 1000.
    #[arg(long, default_value_t = outreach::PAGE_SIZE, value_name = "N")]
    pub page_size: u32,
    #[command(flatten)]
    pub pacing: PacingArgs,
}

impl ListArgs {
    pub fn to_config(&self) -> Result<ListConfig> {
        if self.connector != Kind::Outreach {
            return Err(Error::usage(
                "forget list reads Outreach collections: use --connector outreach \
                 (Webex Campaign has no API that lists profiles)",
            ));
        }
        if !(1..=outreach::MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::usage(format!(
                "--page-size must be between 1 and {}",
                outreach::MAX_PAGE_SIZE
            )));
        }
        let connector = ConnectorArgs {
            connector: self.connector,
            resource: self.resource.clone(),
        };
        let resource = connector
            .resource(true)?
            .unwrap_or_else(|| outreach::DEFAULT_RESOURCE.to_owned());
        Ok(ListConfig {
            resource,
            page_size: self.page_size,
            timeout: self.pacing.timeout()?,
            retry: self.pacing.retry()?,
        })
    }
}

pub async fn exec(args: &ListArgs) -> Result<i32> {
    let config = args.to_config()?;
    // Checked now, before any page is read: a listing cannot be regenerated from a ledger,
    // so an existing file is never replaced.
    let path = format::renamed(args.output.as_ref(), args.out.as_ref(), "--out", "--output");
    let dest = Destination::from_arg(path.map(PathBuf::as_path));
    let overwrite = if args.force {
        Overwrite::Replace
    } else {
        Overwrite::Never
    };
    let out = Output::open(&dest, &Protected::none(), overwrite)?;
    let spool_dir = match out.place().and_then(Path::parent) {
        Some(dir) => dir.to_owned(),
        None => std::env::temp_dir(),
    };
    // The simulator (when rehearsing) lives until the listing is written.
    let api = args.target.require_api(Kind::Outreach).await?;
    args.pacing.check_unlimited(&api.url()?)?;
    let outreach = outreach::Outreach::new(&api.url()?, api.token())?;
    let client = EngineConfig {
        concurrency: 1,
        timeout: config.timeout,
        retry: config.retry,
    }
    .http_client()?;
    let throttle = Throttle::new(args.pacing.rate.0);
    let mut spool = list::Spool::create(&spool_dir)?;
    // Nothing is written until the listing is complete: any stopping signal ends it at once.
    let mut signals = Signals::new()
        .map_err(|e| Error::internal(format!("cannot watch for Ctrl-C and SIGTERM: {e}")))?;
    let listing = list::list(&outreach, &client, &throttle, &config, &mut spool);
    let summary = tokio::select! {
        summary = listing => summary?,
        signal = signals.next() => {
            output::eprint(&format!("interrupted ({}): nothing written\n", signal.name()));
            return Ok(signal.exit_code());
        }
    };
    let line = format!(
        "{} {} records in {} pages ({} requests, {} retries, {} throttled)",
        config.resource,
        summary.records,
        summary.pages,
        summary.attempts,
        summary.retries,
        summary.throttled
    );
    if let Some(stop) = &summary.stop {
        output::eprint(&format!(
            "STOPPED after {line}: {stop}. Nothing was written; run again to list afresh.\n"
        ));
        return Ok(exit::STOPPED);
    }
    let shown = out.name().clone();
    list::write_output(&mut spool, out)?;
    match (args.quiet, shown.is_stdout()) {
        (true, _) => {}
        (false, false) => output::eprint(&format!("listed {line} into {}\n", shown.shown())),
        (false, true) => output::eprint(&format!("listed {line}\n")),
    }
    Ok(exit::OK)
}

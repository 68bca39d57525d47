//! The command line: one file per subcommand, each holding its arguments, their validation
//! into a configuration and its body (`exec`); the argument groups several commands share
//! are in [`args`]. This module parses, dispatches, and turns every error into one message
//! and one exit code.

pub mod access;
pub mod args;
pub mod check;
pub mod completions;
pub mod evidence;
pub mod format;
pub mod invalid;
pub mod inventory;
pub mod keygen;
pub mod list;
pub mod lookup;
pub mod man;
pub mod purge;
pub mod report;
pub mod resolve;
pub mod run;
pub mod sim;
pub mod status;
pub mod verify;

use clap::{Parser, Subcommand};

use crate::error::{Error, exit};
use crate::output;

const ABOUT: &str = "Carry out GDPR erasure requests in bulk against Webex Campaign and \
Outreach, resumably, and prove what happened to every key.";

const AFTER_HELP: &str = "\
Typical use:
  forget run requests.csv --base-url https://acme.webexcampaign.io --profile-name customers
  forget status
  forget report --split out/        (then fix out/needs-attention.csv and run it again)
  forget resolve --outcome invalid --reason \"blank key: ticket returned to the requester\"
  forget report --output report.csv --manifest manifest.json
  forget keygen signing.key   (then --sign-key signing.key seals the manifest for an auditor)
  forget lookup -            (then type or pipe keys, one a line)
  forget check --profile-name customers         (proves URL, token and profile first)
  forget inventory --hub-url https://acme.apihub.example
  forget access subjects.csv --out-dir exports --base-url https://acme.webexcampaign.io
Outreach (JSON:API resources by id; token in OUTREACH_TOKEN):
  forget list --resource callPurposes --output ids.csv
  forget run --connector outreach --resource callPurposes ids.csv
Rehearse with no tenant:
  forget run samples/erasure-requests.csv --simulate
Exit codes: 0 every request ended (erased, not held, resolved or corrected); 4 finished,
some requests still open (the summary says what ends each kind: forget resolve, …);
3 stopped early (token, URL); 2 usage or input error, nothing sent; 1 a ledger or output
file could not be written, or an internal failure; 5 the ledger fails a check (forget
verify says which); 130, 143, 129 interrupted by Ctrl-C, SIGTERM, SIGHUP (answers in
flight recorded; re-run resumes).";

#[derive(Parser, Debug)]
#[command(name = "forget", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More detail on stderr (-v: debug). Keys and tokens are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Who is acting, recorded with every run, purge and resolution (e.g. "Jane Doe, DPO
    /// office") [default: the login name]. A name or role, never a data subject's details.
    #[arg(long, global = true, env = "FORGET_OPERATOR", value_name = "NAME")]
    pub operator: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record erasure requests from CSV files and send every unfinished key.
    ///
    /// Every row is recorded in the ledger before anything is sent, so running the same
    /// command again after a crash, Ctrl-C, an expired token or a throttled API continues
    /// where it stopped: deleted, not-found and rejected keys are never sent again.
    Run(run::RunArgs),
    /// Prove the base URL, token and profile name before a big run; name the tenant.
    ///
    /// Sends one delete for a canary key that cannot exist (`forget-preflight-<uuid>`,
    /// marked exparam10=forget-preflight) and expects "contact profile not found" (1020):
    /// 102 means the profile name is wrong, 401 the token, 404/405 the URL. With --hub-url
    /// it also reads /v1/purposes and names the tenant. Nothing is recorded.
    Check(check::CheckArgs),
    /// List the tenant's purposes and target groups; flag static uploads holding identifiers.
    ///
    /// A profile deletion does not reach target groups uploaded from files (behaviour S,
    /// source file upload or SFTP) whose headers hold MSISDN, EMAIL, APPDEVICEID or
    /// CUSTOMERID: they are marked REVIEW. Purposes are read from the API hub (--hub-url);
    /// target groups from the hub and/or the base URL.
    Inventory(inventory::InventoryArgs),
    /// Export each data subject's last transactions as one JSON document (GDPR Art. 15).
    ///
    /// Reads the last N transactions per key (or customer id) with the same throttled,
    /// retried, resumable engine as `run`, recorded in its own ledger; run it again after
    /// a crash or stop and finished subjects are not fetched again.
    Access(access::AccessArgs),
    /// Counts per outcome from the ledger (per connector and scope when it holds several).
    Status(status::StatusArgs),
    /// Write every record of an Outreach collection (id and attributes) as CSV.
    ///
    /// Pages through `GET /{resource}` (JSON:API, `page[size]`, following `links.next` only
    /// on the base URL's host), throttled and retried like `run`. The CSV's `id` column feeds
    /// `forget run --connector outreach` directly; delete the rows you want to keep first.
    List(list::ListArgs),
    /// List input rows that could not become a request, with file, line and reason.
    Invalid(invalid::InvalidArgs),
    /// Did we erase this person? Look keys up by their keyed hash: outcome, when, transaction
    /// id, request rows and files, audit fields, every attempt.
    Lookup(lookup::LookupArgs),
    /// One row per request row, as evidence: CSV, JSON or JSONL; split files; a manifest.
    Report(report::ReportArgs),
    /// Give up on unfinished keys: drop the plaintext the ledger still holds for them.
    Purge(purge::PurgeArgs),
    /// End requests that need attention (rejected, failed, invalid, …), with a reason.
    Resolve(resolve::ResolveArgs),
    /// Check the ledger: SQLite's integrity check and forget's consistency rules, one
    /// verdict a line; with --manifest, the signed evidence too. Exit 0 only when every check
    /// passes.
    Verify(verify::VerifyArgs),
    /// Make an Ed25519 key pair for signing manifests (`forget report --sign-key`).
    ///
    /// The secret key stays with the team, like the ledger's key; the public key (FILE.pub)
    /// or its fingerprint goes to the auditor, who checks a signed manifest with
    /// `forget verify --manifest M --public-key FILE.pub`.
    Keygen(keygen::KeygenArgs),
    /// Write an evidence pack into a folder: report, split files, run history, HTML summary,
    /// README.txt and a manifest of them all (signed with --sign-key).
    ///
    /// The folder is what an auditor takes away; its README.txt says what each file is and
    /// how to verify it with `forget verify --manifest DIR/manifest.json --public-key KEY.pub`.
    Evidence(evidence::EvidenceArgs),
    /// Run a local simulator of the Webex Campaign and Outreach APIs (for rehearsals and tests).
    Sim(sim::SimArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command into a folder.
    Man(man::ManArgs),
}

/// Parse arguments, run the command, report any error, and return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
        }
    };
    init_tracing(cli.verbose);
    if let Some(name) = cli.operator {
        let name = name.trim().to_owned();
        if let Err(reason) = crate::input::check_field("--operator", &name) {
            output::eprint(&format!("error: {reason}\n"));
            return exit::USAGE;
        }
        if name.is_empty() {
            output::eprint("error: --operator is empty\n");
            return exit::USAGE;
        }
        crate::actor::name_operator(name);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::eprint(&format!("error: cannot start the runtime: {e}\n"));
            return exit::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        // The reader of stdout went away: it has what it wanted, nothing to say.
        Err(e @ Error::ReaderGone) => e.exit_code(),
        Err(e) => {
            output::eprint(&format!("error: {e}\n"));
            e.exit_code()
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FORGET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("forget={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

async fn dispatch(command: Command) -> crate::Result<i32> {
    match command {
        Command::Run(args) => run::exec(&args).await,
        Command::Check(args) => check::exec(&args).await,
        Command::Inventory(args) => inventory::exec(&args).await,
        Command::Access(args) => access::exec(&args).await,
        Command::Status(args) => status::exec(&args),
        Command::List(args) => list::exec(&args).await,
        Command::Invalid(args) => invalid::exec(&args),
        Command::Lookup(args) => lookup::exec(&args),
        Command::Report(args) => report::exec(&args),
        Command::Purge(args) => purge::exec(&args),
        Command::Resolve(args) => resolve::exec(&args),
        Command::Verify(args) => verify::exec(&args),
        Command::Keygen(args) => keygen::exec(&args),
        Command::Evidence(args) => evidence::exec(&args),
        Command::Sim(args) => sim::exec(&args).await,
        Command::Completions(args) => completions::exec(&args),
        Command::Man(args) => man::exec(&args),
    }
}

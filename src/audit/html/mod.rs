//! `forget status --format html`: one self-contained page a team would rather look at than
//! read — what was asked and done (per file, per connector), requests over time, deadlines
//! with request ids, each run's calls and 429s, what still needs attention and the command
//! that ends it, and where the evidence comes from (ledger, chain head, version).
//!
//! Self-contained: inline CSS and SVG, no script, no font, no link out (a Content Security
//! Policy forbids the page any fetch). Every value from the ledger or an input is escaped
//! ([`escape::esc`]); keys appear masked only. Every figure is an aggregate query
//! ([`crate::ledger::timeline`]), so the page costs the same for 1,000 keys as for 1M, and
//! its lists stop at [`LIST_SHOWN`] requests.

use std::fmt::Write;
use std::path::Path;

use time::Date;

use crate::error::Result;
use crate::ledger::chain::Head;
use crate::ledger::deadlines::{DeadlineSummary, LateRequest, Lateness};
use crate::ledger::report::{FileFact, RunFact};
use crate::ledger::requests::{self, OpenHint, RequestCounts};
use crate::ledger::timeline::{Activity, RunCalls};
use crate::ledger::{Counts, Ledger, ScopeCounts};

pub mod escape;
mod over_time;
mod sections;
pub mod svg;

use escape::esc;

/// Requests listed at most in each deadline list (the page says how many more, and the
/// command that lists them all).
pub const LIST_SHOWN: usize = 50;
/// Runs drawn at most (the latest ones; every run is in the table).
pub const RUNS_DRAWN: usize = 20;

/// Everything the page shows, read from one ledger.
pub struct Summary {
    /// The ledger's path, as given.
    pub ledger: String,
    /// ` --state PATH` for the commands the page names, empty for the default ledger.
    pub state_flag: String,
    pub generated_at: String,
    pub requests: RequestCounts,
    pub counts: Counts,
    pub by_scope: Vec<ScopeCounts>,
    /// Each input file and its request rows by outcome.
    pub files: Vec<(FileFact, Counts)>,
    pub runs: Vec<RunFact>,
    pub run_calls: Vec<RunCalls>,
    pub activity: Option<Activity>,
    pub deadlines: Deadlines,
    pub hints: Vec<OpenHint>,
    pub chain: Option<Head>,
    /// Input files only partly recorded, and whether by a bulk load.
    pub unfinished: (u64, bool),
}

/// The deadline counts and the first requests of each list.
pub struct Deadlines {
    pub summary: DeadlineSummary,
    pub overdue: Listed,
    pub due_soon: Listed,
    pub late: Listed,
}

/// The first [`LIST_SHOWN`] requests of a list, and how many it holds.
pub struct Listed {
    pub shown: Vec<LateRequest>,
    pub total: u64,
}

impl Summary {
    /// Read the summary of `ledger` (at `path`) as of `today`; `id_column` names the kept
    /// column holding request ids (as `status --deadlines` takes it).
    pub fn read(
        ledger: &Ledger,
        path: &Path,
        today: Date,
        id_column: Option<&str>,
    ) -> Result<Summary> {
        super::deadlines::check_id_column(ledger, id_column)?;
        let list = |which| -> Result<Listed> {
            Ok(Listed {
                shown: ledger.late_requests_first(which, today, id_column, Some(LIST_SHOWN))?,
                total: ledger.late_request_count(which, today)?,
            })
        };
        let requests = ledger.request_counts(None)?;
        let outcomes = ledger.outcomes_by_file()?;
        let files = ledger
            .file_facts()?
            .into_iter()
            .zip(outcomes)
            .map(|(fact, (_, _, counts))| (fact, counts))
            .collect();
        Ok(Summary {
            ledger: path.display().to_string(),
            state_flag: requests::state_flag(path),
            generated_at: crate::ledger::timestamp(std::time::SystemTime::now()),
            hints: requests::open_hints(&requests, path, RUN_AGAIN),
            requests,
            counts: ledger.counts()?,
            by_scope: ledger.counts_by_scope()?,
            files,
            runs: ledger.run_facts()?,
            run_calls: ledger.run_calls()?,
            activity: ledger.activity()?,
            deadlines: Deadlines {
                summary: ledger.deadlines(today, 0)?,
                overdue: list(Lateness::Overdue)?,
                due_soon: list(Lateness::DueSoon)?,
                late: list(Lateness::Late)?,
            },
            chain: ledger.chain_head()?,
            unfinished: ledger.unfinished_files()?,
        })
    }
}

/// How the page tells to send pending and failed keys, as `forget status` does.
const RUN_AGAIN: &str = "run forget run again with the settings of the first run (no files needed)";

/// The page, whole.
pub fn render(s: &Summary) -> String {
    let word = super::status_md::status_word(&s.requests);
    let mut out = String::with_capacity(64 << 10);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"forget {}\">\n\
         <title>Erasure requests: {} — forget summary</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(word),
    );
    let _ = write!(
        out,
        "<header>\n<h1>Erasure requests: {}</h1>\n<p class=\"lead\">{}</p>\n{}</header>\n<main>\n",
        esc(word),
        sections::lead(s),
        sections::contents(),
    );
    out.push_str(&sections::asked_and_done(s));
    out.push_str(&over_time::over_time(s));
    out.push_str(&sections::deadlines(s));
    out.push_str(&over_time::throttle(s));
    out.push_str(&sections::attention(s));
    out.push_str(&about(s));
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Where the page comes from: the ledger, when, which forget, and the chain head that pins
/// the history it summarises.
fn about(s: &Summary) -> String {
    let chain = match &s.chain {
        Some(head) => format!(
            "<code>{}</code> after {} chained records (<code>forget verify</code> checks the chain)",
            esc(&head.hash),
            escape::thousands(head.seq.max(0) as u64)
        ),
        None => "not chained: this ledger keeps no hash chain".to_owned(),
    };
    format!(
        "<section aria-labelledby=\"about\">\n<h2 id=\"about\">About this summary</h2>\n\
         <dl class=\"facts\">\n<dt>Ledger</dt><dd><code>{}</code></dd>\n\
         <dt>Generated</dt><dd>{}</dd>\n<dt>forget version</dt><dd>{}</dd>\n\
         <dt>Chain head</dt><dd>{chain}</dd>\n</dl>\n\
         <p class=\"note\">Keys appear masked only. A request id is the value of the column kept \
         with <code>--keep-column</code> (or <code>--id-column</code>); <code>FILE:LINE</code> names \
         the row, as <code>forget resolve --row</code> takes it. Times are UTC. Every figure is read \
         from the ledger at the time above; <code>forget status{}</code> reads it again.</p>\n\
         </section>\n",
        esc(&s.ledger),
        esc(&shown_time(&s.generated_at)),
        esc(env!("CARGO_PKG_VERSION")),
        esc(&s.state_flag),
    )
}

/// An RFC 3339 time as people read it: `2026-11-30 03:59:14 UTC` (as stored, when it is not
/// one).
pub fn shown_time(t: &str) -> String {
    match (t.get(..10), t.get(11..19)) {
        (Some(day), Some(clock)) if t.as_bytes().get(10) == Some(&b'T') => {
            format!("{day} {clock} UTC")
        }
        _ => t.to_owned(),
    }
}

/// The page's style: readable on a phone (one column, tables that scroll sideways) and on
/// paper (no background, sections kept whole).
const CSS: &str = "\
:root{--fg:#1b1b1b;--muted:#595959;--line:#d4d4d4;--bg:#fff}\
*{box-sizing:border-box}\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);\
background:var(--bg);max-width:62rem;margin:0 auto;padding:1rem}\
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin-top:2.2rem;\
border-bottom:2px solid var(--line);padding-bottom:.2rem}h3{font-size:1.05rem;margin-top:1.5rem}\
.lead{font-size:1.05rem}.note{color:var(--muted);font-size:.9rem}\
nav ul{display:flex;flex-wrap:wrap;gap:.2rem 1rem;padding:0;list-style:none;font-size:.9rem}\
a{color:#0b5cad}\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.5rem;margin:1rem 0}\
.tiles div{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .6rem}\
.tiles dt{color:var(--muted);font-size:.85rem}.tiles dd{margin:0;font-size:1.35rem;font-weight:600}\
.facts dt{font-weight:600}.facts dd{margin:0 0 .5rem 0;overflow-wrap:anywhere}\
.scroll{overflow-x:auto;margin:.5rem 0 1rem}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:.92rem}\
caption{text-align:left;font-weight:600;padding:.3rem 0}\
th,td{padding:.25rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\
th{font-weight:600}.n{text-align:right;white-space:nowrap}.d{white-space:nowrap}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em;background:#f2f2f2;\
padding:0 .2em;border-radius:.2em;overflow-wrap:anywhere}td code,th code{white-space:nowrap}\
figure{margin:1rem 0}figcaption{font-size:.9rem;color:var(--muted)}\
.chart{display:block;width:100%;max-width:44rem;height:auto}\
.axis{font-size:11px;fill:var(--muted)}.label{font-size:13px;fill:var(--fg)}\
.grid{stroke:var(--line);stroke-width:1}\
.legend{list-style:none;padding:0;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.9rem}\
.sw{width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em}\
.s-line{fill:none;stroke:#1b1b1b;stroke-width:2}.s-dot{fill:#1b1b1b}\
.s-erased{fill:#009e73}.s-not-found{fill:#56b4e9}.s-attention{fill:#d55e00}\
.s-rejected{fill:#d55e00}.s-failed{fill:#e69f00}.s-pending{fill:#999}.s-invalid{fill:#cc79a7}\
.s-calls{fill:#0072b2}.s-throttled{fill:#d55e00}\
.ok{color:#00704f}.warn{color:#b34700;font-weight:600}\
@media (max-width:40rem){body{padding:.6rem;font-size:15px}th,td{padding:.2rem .3rem}\
.axis{font-size:16px}.label{font-size:18px}}\
@media print{body{max-width:none;font-size:10.5pt;padding:0}nav{display:none}a{color:inherit}\
h2,h3{break-after:avoid}figure,tr,.tiles,dl{break-inside:avoid}.scroll{overflow:visible}\
svg{print-color-adjust:exact;-webkit-print-color-adjust:exact}}";

#[cfg(test)]
mod tests;

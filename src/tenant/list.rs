//! `forget list`: page through an Outreach JSON:API collection and write `id` plus every
//! attribute as CSV — a deletion file built from what exists, ready for `forget run`.
//!
//! Pages are read one after another (each names the next), paced by the shared
//! [`Throttle`], retried by the shared [`RetryPolicy`], and answers other than a page are
//! read by the connector's own classification. The token goes only to the base URL's origin:
//! a `links.next` elsewhere stops the listing. Records are spooled to a 0600 file while
//! pages arrive (the CSV header needs every attribute name first), so memory stays flat
//! whatever the collection's size; the CSV appears under its name only once complete.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use reqwest::Url;
use serde_json::{Map, Value};

use crate::connector::outreach::{self, Outreach, Record};
use crate::connector::{Answer, Connector};
use crate::csvfile;
use crate::engine::retry::{Attempt, RetryPolicy};
use crate::engine::throttle::Throttle;
use crate::engine::transport_verdict;
use crate::error::{Error, Result};
use crate::outcome::{StopCause, VerdictKind};
use crate::output::Output;
use crate::transport::{Failure, read_bounded};

/// A page is read up to this many bytes (50 records of a wide resource fit many times over).
pub const MAX_PAGE_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ListConfig {
    pub resource: String,
    pub page_size: u32,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// Why a listing ended before the last page. Nothing is written then.
#[derive(Clone, Debug, PartialEq)]
pub enum ListStop {
    /// The API stopped us (token refused, forbidden, wrong URL).
    Api(StopCause),
    /// A final answer other than a page, e.g. a 404 for a collection that does not exist.
    Refused { status: u16, reason: String },
    /// A page kept failing until the retries ran out.
    GaveUp { page: u64, last: String },
    /// `links.next` pointed away from the base URL's origin (the token would follow it).
    ForeignNext { origin: String },
    /// `links.next` named a page already read.
    Loop,
}

impl std::fmt::Display for ListStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListStop::Api(cause) => f.write_str(&outreach::explain_stop(cause)),
            ListStop::Refused { reason, .. } => write!(f, "the API refused the listing ({reason})"),
            ListStop::GaveUp { page, last } => {
                write!(
                    f,
                    "gave up on page {page} after every attempt failed (last: {last})"
                )
            }
            ListStop::ForeignNext { origin } => write!(
                f,
                "the next page is on another host ({origin}); refusing to send the token there"
            ),
            ListStop::Loop => f.write_str("links.next repeats a page already read"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListSummary {
    pub records: u64,
    pub pages: u64,
    pub attempts: u64,
    pub retries: u64,
    pub throttled: u64,
    /// The CSV columns: `id`, then every attribute name, sorted.
    pub columns: Vec<String>,
    pub stop: Option<ListStop>,
}

/// Records as they arrive, one JSON line each, in a 0600 file removed when dropped.
pub struct Spool {
    file: tempfile::NamedTempFile,
    out: Option<BufWriter<File>>,
    attributes: BTreeSet<String>,
    records: u64,
}

impl Spool {
    /// A spool file in `dir`, under a name nobody else uses.
    pub fn create(dir: &Path) -> Result<Spool> {
        let file = private_temp(dir, ".jsonl")?;
        let out = file
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(format!("cannot open {}", file.path().display()), e))?;
        Ok(Spool {
            file,
            out: Some(BufWriter::new(out)),
            attributes: BTreeSet::new(),
            records: 0,
        })
    }

    fn push(&mut self, record: &Record) -> Result<()> {
        self.attributes
            .extend(record.attributes.keys().filter(|k| *k != "id").cloned());
        let line = serde_json::json!([record.id, record.attributes]).to_string();
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::internal("the list spool is closed"))?;
        writeln!(out, "{line}").map_err(|e| Error::io("writing the list spool", e))?;
        self.records += 1;
        Ok(())
    }

    /// `id`, then every attribute name seen, sorted.
    pub fn columns(&self) -> Vec<String> {
        std::iter::once("id".to_owned())
            .chain(self.attributes.iter().cloned())
            .collect()
    }

    /// Write the spooled records as CSV to `out`, its write failures read by `error`.
    pub fn write_csv(
        &mut self,
        out: impl Write,
        error: impl Fn(std::io::Error) -> Error,
    ) -> Result<u64> {
        if let Some(mut w) = self.out.take() {
            w.flush()
                .map_err(|e| Error::io("writing the list spool", e))?;
        }
        let columns = self.columns();
        let mut csv = csvfile::Writer::from_writer(out);
        let csv_error = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(e) => error(e),
            other => Error::internal(format!("writing the CSV: {other:?}")),
        };
        csv.write_record(&columns).map_err(csv_error)?;
        let file = self
            .file
            .reopen()
            .map_err(|e| Error::io(format!("cannot read {}", self.file.path().display()), e))?;
        let mut fields = Vec::with_capacity(columns.len());
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| Error::io("reading the list spool", e))?;
            let (id, attributes): (String, Map<String, Value>) = serde_json::from_str(&line)
                .map_err(|e| Error::internal(format!("the list spool is damaged: {e}")))?;
            fields.clear();
            fields.push(id);
            fields.extend(columns[1..].iter().map(|c| cell(attributes.get(c))));
            csv.write_record(&fields).map_err(csv_error)?;
        }
        csv.flush().map_err(&error)?;
        Ok(self.records)
    }
}

/// An attribute as one CSV field: text as is, null as empty, anything else as JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Read every page of `config.resource` into `spool`. Failures the API causes are data
/// (`ListSummary::stop`); an `Err` is the local disk failing.
pub async fn list(
    outreach: &Outreach,
    client: &reqwest::Client,
    throttle: &Throttle,
    config: &ListConfig,
    spool: &mut Spool,
) -> Result<ListSummary> {
    let mut summary = ListSummary::default();
    let mut url = outreach.collection_url(&config.resource, config.page_size);
    let mut seen = HashSet::new();
    loop {
        seen.insert(url.clone());
        let page = match fetch_page(outreach, client, throttle, config, &url, &mut summary).await {
            Ok(page) => page,
            Err(stop) => {
                summary.stop = Some(stop);
                break;
            }
        };
        summary.pages += 1;
        for record in &page.records {
            spool.push(record)?;
        }
        summary.records += page.records.len() as u64;
        tracing::info!(
            pages = summary.pages,
            records = summary.records,
            "listed a page"
        );
        let Some(next) = page.next else { break };
        let next = match url.join(&next) {
            Ok(next) => next,
            Err(e) => {
                summary.stop = Some(ListStop::Refused {
                    status: 200,
                    reason: format!("links.next is not a URL: {e}"),
                });
                break;
            }
        };
        if !outreach.same_origin(&next) {
            summary.stop = Some(ListStop::ForeignNext {
                origin: next.origin().ascii_serialization(),
            });
            break;
        }
        if seen.contains(&next) {
            summary.stop = Some(ListStop::Loop);
            break;
        }
        url = next;
    }
    summary.columns = spool.columns();
    Ok(summary)
}

/// One page, with throttling and retries.
async fn fetch_page(
    outreach: &Outreach,
    client: &reqwest::Client,
    throttle: &Throttle,
    config: &ListConfig,
    url: &Url,
    summary: &mut ListSummary,
) -> std::result::Result<outreach::Page, ListStop> {
    let max_attempts = config.retry.max_attempts;
    config
        .retry
        .run(async |attempt| {
            let ticket = throttle.until_ready().await;
            summary.attempts += 1;
            let (verdict, status, last) = match read_page(outreach, client, config, url).await {
                Ok(page) => {
                    throttle.succeeded();
                    return Attempt::Done(Ok(page));
                }
                Err(failed) => failed,
            };
            match verdict.kind {
                VerdictKind::Stop(cause) => Attempt::Done(Err(ListStop::Api(cause))),
                VerdictKind::Final(_) => Attempt::Done(Err(ListStop::Refused {
                    status: status.unwrap_or_default(),
                    reason: last,
                })),
                VerdictKind::Retry {
                    throttled,
                    retry_after,
                    ..
                } => {
                    if throttled {
                        summary.throttled += 1;
                        throttle.throttled(ticket, retry_after);
                    } else {
                        throttle.succeeded();
                    }
                    if attempt < max_attempts {
                        summary.retries += 1;
                    }
                    Attempt::Again {
                        after: retry_after,
                        error: ListStop::GaveUp {
                            page: summary.pages + 1,
                            last,
                        },
                    }
                }
            }
        })
        .await
}

/// One request for a page: the page, or how the answer reads (its verdict, HTTP status and
/// what it said, in words).
async fn read_page(
    outreach: &Outreach,
    client: &reqwest::Client,
    config: &ListConfig,
    url: &Url,
) -> std::result::Result<outreach::Page, (crate::outcome::Verdict, Option<u16>, String)> {
    let request = outreach.get(client, url.clone()).timeout(config.timeout);
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let failure = Failure::from_reqwest(&e);
            return Err((transport_verdict(&failure), None, failure.describe()));
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    match read_bounded(response, MAX_PAGE_BODY).await {
        Ok(body) if status == 200 => outreach::parse_page(&body)
            // A broken 200 (cut short, a proxy's page): try again.
            .map_err(|reason| (crate::outcome::Verdict::retry(), Some(status), reason)),
        Ok(body) => {
            let answer = Answer {
                status,
                headers: &headers,
                body: &body,
            };
            let verdict = outreach::classify(&answer);
            // The error document may quote the token back: shown without it.
            let detail = [verdict.code.as_deref(), verdict.description.as_deref()]
                .into_iter()
                .flatten()
                .map(|text| outreach.scrub(text, ""))
                .collect::<Vec<_>>()
                .join(": ");
            let last = if detail.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}, {detail}")
            };
            Err((verdict, Some(status), last))
        }
        Err(e) => {
            let failure = Failure::from_reqwest(&e);
            Err((
                transport_verdict(&failure),
                Some(status),
                failure.describe(),
            ))
        }
    }
}

/// Write the CSV to `out` (opened under the output rule: a file appears, 0600, only once
/// complete) and finish it.
pub fn write_output(spool: &mut Spool, mut out: Output) -> Result<u64> {
    let name = out.name().clone();
    let n = spool.write_csv(&mut out, |e| name.error(e))?;
    out.finish()?;
    Ok(n)
}

/// A new file in `dir` only its owner can read (0600), removed unless persisted.
fn private_temp(dir: &Path, suffix: &str) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".forget-list-")
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a file in {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let case = |v: Value, want: &str| assert_eq!(cell(Some(&v)), want, "{v}");
        case(Value::Null, "");
        case(serde_json::json!("Intro, call"), "Intro, call");
        case(serde_json::json!(3), "3");
        case(serde_json::json!(true), "true");
        case(serde_json::json!(["a", 1]), r#"["a",1]"#);
        assert_eq!(cell(None), "");
    }

    #[test]
    fn the_spool_writes_a_union_of_attributes_in_stable_order() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let mut spool = Spool::create(dir.path())?;
        let record = |id: &str, attrs: Value| Record {
            id: id.into(),
            attributes: attrs.as_object().cloned().unwrap_or_default(),
        };
        spool.push(&record("2", serde_json::json!({"name": "B", "order": 2})))?;
        spool.push(&record(
            "1",
            serde_json::json!({"name": "A, \"x\"", "colour": null}),
        ))?;
        let mut out = Vec::new();
        assert_eq!(spool.write_csv(&mut out, |e| Error::io("test", e))?, 2);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "id,colour,name,order\n2,,B,2\n1,,\"A, \"\"x\"\"\",\n"
        );
        let path = spool.file.path().to_owned();
        drop(spool);
        assert!(!path.exists(), "the spool is removed");
        Ok(())
    }
}

//! The page's sections, each a `<section>` with its heading, from a [`Summary`].

use std::fmt::Write;

use super::escape::{esc, thousands, with_code};
use super::svg::{self, LINE, Series};
use super::{LIST_SHOWN, Listed, RUNS_DRAWN, Summary, shown_time};
use crate::deadline::DUE_SOON_DAYS;
use crate::ledger::Counts;
use crate::ledger::requests::State;
use crate::ledger::timeline::{Bins, RunCalls};
use crate::outcome::shown;

/// Files and connector scopes drawn at most (every one is in the table below the chart).
const BARS_DRAWN: usize = 30;

/// The sections, linked (a long page on a phone).
pub fn contents() -> &'static str {
    "<nav aria-label=\"Sections\"><ul>\
     <li><a href=\"#asked\">Asked and done</a></li>\
     <li><a href=\"#over-time\">Over time</a></li>\
     <li><a href=\"#deadlines\">Deadlines</a></li>\
     <li><a href=\"#throttle\">The throttle</a></li>\
     <li><a href=\"#attention\">Needs attention</a></li>\
     <li><a href=\"#about\">About</a></li></ul></nav>\n"
}

/// One paragraph: what was asked, when forget ran and by whom, what has ended.
pub fn lead(s: &Summary) -> String {
    let r = &s.requests;
    let day = |t: Option<&str>| t.and_then(|t| t.get(..10)).unwrap_or("—").to_owned();
    let first = s.runs.iter().map(|r| r.started_at.as_str()).min();
    let last = s
        .runs
        .iter()
        .map(|r| r.ended_at.as_deref().unwrap_or(&r.started_at))
        .max();
    let mut operators: Vec<&str> = s
        .runs
        .iter()
        .filter_map(|r| r.operator.as_deref())
        .collect();
    operators.sort_unstable();
    operators.dedup();
    let plural = |n: usize, one: &str, many: &str| if n == 1 { one } else { many }.to_owned();
    let mut out = format!(
        "{} requests for {} people arrived in {} {}; forget ran {} {}",
        thousands(r.requests),
        thousands(r.people),
        s.files.len(),
        plural(s.files.len(), "file", "files"),
        s.runs.len(),
        plural(s.runs.len(), "time", "times"),
    );
    if !s.runs.is_empty() {
        let _ = write!(out, " between {} and {}", esc(&day(first)), esc(&day(last)));
    }
    if !operators.is_empty() {
        let names: Vec<String> = operators.iter().map(|o| esc(o)).collect();
        let _ = write!(out, " (by {})", names.join(", "));
    }
    let _ = write!(
        out,
        ". {} of {} requests have ended; {} {} still open",
        thousands(r.ended),
        thousands(r.requests),
        thousands(r.open),
        if r.open == 1 { "is" } else { "are" },
    );
    if r.needs_attention > 0 {
        let _ = write!(out, ", {} need attention", thousands(r.needs_attention));
    }
    out.push('.');
    out
}

/// The outcomes of keys, in the order the charts stack them.
fn outcome_series(per_row: &[(Counts, u64)]) -> Vec<Series<'static>> {
    let field = |f: fn(&Counts) -> u64| per_row.iter().map(|(c, _)| f(c) as f64).collect();
    vec![
        Series {
            name: "erased",
            class: "s-erased",
            values: field(|c| c.deleted),
        },
        Series {
            name: "not found",
            class: "s-not-found",
            values: field(|c| c.not_found),
        },
        Series {
            name: "rejected",
            class: "s-rejected",
            values: field(|c| c.rejected),
        },
        Series {
            name: "failed",
            class: "s-failed",
            values: field(|c| c.failed),
        },
        Series {
            name: "pending",
            class: "s-pending",
            values: field(|c| c.pending),
        },
        Series {
            name: "invalid row",
            class: "s-invalid",
            values: per_row.iter().map(|(_, invalid)| *invalid as f64).collect(),
        },
    ]
}

/// A table's opening, scrolling sideways on a narrow screen: its caption and header.
fn table_open(out: &mut String, caption: &str, headers: &[&str]) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><table><caption>{caption}</caption><thead><tr>"
    );
    for h in headers {
        let class = if h.starts_with('#') {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<th scope=\"col\"{class}>{}</th>",
            esc(h.trim_start_matches('#'))
        );
    }
    out.push_str("</tr></thead><tbody>");
}

const TABLE_CLOSE: &str = "</tbody></table></div>\n";

fn num_cells(out: &mut String, values: &[u64]) {
    for v in values {
        let _ = write!(out, "<td class=\"n\">{}</td>", thousands(*v));
    }
}

/// What was asked and what was done: requests by state, then per file and per connector.
pub fn asked_and_done(s: &Summary) -> String {
    let r = &s.requests;
    let mut out = String::from(
        "<section aria-labelledby=\"asked\">\n<h2 id=\"asked\">What was asked and what was done</h2>\n<dl class=\"tiles\">",
    );
    for (label, n) in [
        ("requests", r.requests),
        ("people", r.people),
        ("erased", r.erased),
        ("not held", r.not_held),
        ("resolved or corrected", r.resolved + r.corrected),
        ("still open", r.open),
        ("need attention", r.needs_attention),
    ] {
        let _ = write!(out, "<div><dt>{label}</dt><dd>{}</dd></div>", thousands(n));
    }
    out.push_str("</dl>\n");
    let (unfinished, bulk) = s.unfinished;
    if let Some(note) = crate::audit::status::render_unfinished((unfinished, bulk)) {
        let _ = writeln!(out, "<p class=\"warn\">{}</p>", with_code(note.trim_end()));
    }
    table_open(
        &mut out,
        "Requests by state (an input row is one request)",
        &["state", "#requests", "#share"],
    );
    for state in State::ALL {
        let n = r.get(state);
        if n == 0 {
            continue;
        }
        let share = 100.0 * n as f64 / r.requests.max(1) as f64;
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{share:.1}%</td></tr>",
            esc(state.words()),
            thousands(n)
        );
    }
    let _ = write!(
        out,
        "<tr><th scope=\"row\">total</th><td class=\"n\">{}</td><td class=\"n\"></td></tr>",
        thousands(r.requests)
    );
    out.push_str(TABLE_CLOSE);
    out.push_str(&by_file(s));
    out.push_str(&by_scope(s));
    out.push_str("</section>\n");
    out
}

fn by_file(s: &Summary) -> String {
    let mut out = String::from("<h3>By input file</h3>\n");
    if s.files.is_empty() {
        out.push_str("<p>No input file is recorded yet.</p>\n");
        return out;
    }
    let drawn = &s.files[..s.files.len().min(BARS_DRAWN)];
    let rows: Vec<(Counts, u64)> = drawn.iter().map(|(f, c)| (c.clone(), f.invalid)).collect();
    let labels: Vec<String> = drawn.iter().map(|(f, _)| f.path.clone()).collect();
    let series = outcome_series(&rows);
    figure(
        &mut out,
        &svg::bars(
            "files",
            "Request rows per input file, by the outcome of their key",
            "One bar per input file, split by outcome; the table below gives the numbers.",
            &labels,
            &series,
        ),
        &series,
        &format!(
            "Each file's request rows by what became of their key (duplicate rows follow the \
             first row of their key and are not drawn){}.",
            more(s.files.len(), drawn.len(), "files")
        ),
    );
    table_open(
        &mut out,
        "Input files",
        &[
            "file",
            "recorded",
            "#rows",
            "#requests",
            "#erased",
            "#not found",
            "#rejected",
            "#failed",
            "#pending",
            "#duplicates",
            "#invalid",
        ],
    );
    for (f, c) in &s.files {
        let rows = f
            .rows
            .map_or_else(|| "partly recorded".to_owned(), thousands);
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th><td class=\"d\">{}</td><td class=\"n\">{}</td>",
            esc(&f.path),
            esc(&shown_time(&f.added_at)),
            esc(&rows)
        );
        num_cells(
            &mut out,
            &[
                c.total,
                c.deleted,
                c.not_found,
                c.rejected,
                c.failed,
                c.pending,
                f.duplicates,
                f.invalid,
            ],
        );
        out.push_str("</tr>");
    }
    out.push_str(TABLE_CLOSE);
    out
}

fn by_scope(s: &Summary) -> String {
    let mut out = String::from("<h3>By connector and scope</h3>\n");
    if s.by_scope.is_empty() {
        out.push_str("<p>No key is recorded yet.</p>\n");
        return out;
    }
    let name = |connector: &str, scope: &str| {
        let scope = if scope.is_empty() { "(default)" } else { scope };
        format!("{connector} · {scope}")
    };
    let drawn = &s.by_scope[..s.by_scope.len().min(BARS_DRAWN)];
    let rows: Vec<(Counts, u64)> = drawn
        .iter()
        .map(|g| (g.counts.clone(), g.counts.invalid))
        .collect();
    let labels: Vec<String> = drawn.iter().map(|g| name(&g.connector, &g.scope)).collect();
    let series = outcome_series(&rows);
    figure(
        &mut out,
        &svg::bars(
            "scopes",
            "Keys per connector and scope, by outcome",
            "One bar per connector and scope (Webex profile, Outreach resource), split by \
             outcome; the table below gives the numbers.",
            &labels,
            &series,
        ),
        &series,
        &format!(
            "Each connector's keys (one per person and scope) by outcome, and the invalid rows \
             read for it{}.",
            more(s.by_scope.len(), drawn.len(), "scopes")
        ),
    );
    table_open(
        &mut out,
        "Connectors and scopes",
        &[
            "connector",
            "scope",
            "#keys",
            "#erased",
            "#not found",
            "#rejected",
            "#failed",
            "#pending",
            "#invalid rows",
            "#duplicate rows",
        ],
    );
    for g in &s.by_scope {
        let c = &g.counts;
        let scope = if g.scope.is_empty() {
            "(default)"
        } else {
            &g.scope
        };
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td>",
            esc(&g.connector),
            esc(scope)
        );
        num_cells(
            &mut out,
            &[
                c.total,
                c.deleted,
                c.not_found,
                c.rejected,
                c.failed,
                c.pending,
                c.invalid,
                c.duplicates,
            ],
        );
        out.push_str("</tr>");
    }
    let c = &s.counts;
    out.push_str("<tr><th scope=\"row\">total</th><td></td>");
    num_cells(
        &mut out,
        &[
            c.total,
            c.deleted,
            c.not_found,
            c.rejected,
            c.failed,
            c.pending,
            c.invalid,
            c.duplicates,
        ],
    );
    out.push_str("</tr>");
    out.push_str(TABLE_CLOSE);
    out
}

/// A chart, its legend (the series it draws) and its caption.
fn figure(out: &mut String, chart: &str, series: &[Series], caption: &str) {
    let drawn: Vec<&Series> = series
        .iter()
        .filter(|s| s.class == LINE || s.values.iter().any(|&v| v > 0.0))
        .collect();
    let _ = writeln!(
        out,
        "<figure>{}{chart}<figcaption>{}</figcaption></figure>",
        svg::legend(&drawn),
        caption
    );
}

/// ` (the first N of M drawn)`, when not all are.
fn more(all: usize, drawn: usize, what: &str) -> String {
    if all > drawn {
        format!("; the first {drawn} of {all} {what} are drawn, the table has them all")
    } else {
        String::new()
    }
}

/// A bin's width in words: "second", "30 seconds", "hour", "day".
fn width_words(seconds: i64) -> String {
    for (unit, name) in [
        (604_800, "week"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ] {
        if seconds % unit == 0 {
            let n = seconds / unit;
            return if n == 1 {
                name.to_owned()
            } else {
                format!("{n} {name}s")
            };
        }
    }
    if seconds == 1 {
        "second".to_owned()
    } else {
        format!("{seconds} seconds")
    }
}

/// Where bin `i` starts, as people read it at its width (UTC).
fn bin_label(bins: &Bins, i: usize) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(bins.start_of(i)) else {
        return String::new();
    };
    let (y, m, d) = (at.year(), u8::from(at.month()), at.day());
    let (hh, mm, ss) = (at.hour(), at.minute(), at.second());
    if bins.width < 60 {
        format!("{hh:02}:{mm:02}:{ss:02}")
    } else if bins.width < 86_400 {
        format!("{y}-{m:02}-{d:02} {hh:02}:{mm:02}")
    } else {
        format!("{y}-{m:02}-{d:02}")
    }
}

/// Requests over time: sent, and the answers that ended them or left them needing attention.
pub fn over_time(s: &Summary) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"over-time\">\n<h2 id=\"over-time\">Requests over time</h2>\n",
    );
    let Some(a) = &s.activity else {
        out.push_str("<p>Nothing has been sent yet.</p>\n</section>\n");
        return out;
    };
    let per = width_words(a.bins.width);
    let labels: Vec<String> = (0..a.bins.count).map(|i| bin_label(&a.bins, i)).collect();
    let f = |v: &[u64]| v.iter().map(|&n| n as f64).collect::<Vec<_>>();
    let sent = Series {
        name: "sent (first time)",
        class: LINE,
        values: f(&a.sent),
    };
    let answers = [
        Series {
            name: "erased",
            class: "s-erased",
            values: f(&a.erased),
        },
        Series {
            name: "not found",
            class: "s-not-found",
            values: f(&a.not_found),
        },
        Series {
            name: "needing attention",
            class: "s-attention",
            values: f(&a.attention),
        },
    ];
    let total = |v: &[u64]| thousands(v.iter().sum());
    let chart = svg::columns(
        "activity",
        &format!("Requests per {per}, UTC"),
        &format!(
            "From {} to {}: {} keys sent for the first time, {} erased, {} not found, {} \
             rejected or failed.",
            labels.first().map_or("", String::as_str),
            labels.last().map_or("", String::as_str),
            total(&a.sent),
            total(&a.erased),
            total(&a.not_found),
            total(&a.attention)
        ),
        &labels,
        &answers,
        Some(&sent),
        &format!("keys per {per}"),
    );
    let mut legend = vec![sent];
    legend.extend(answers);
    figure(
        &mut out,
        &chart,
        &legend,
        &format!(
            "Per {per} (UTC): keys sent for the first time (the line), and the answers that ended \
             them (erased, not found) or left them needing attention (rejected, failed), by the \
             time of the answer. Resolutions by an operator are not drawn."
        ),
    );
    out.push_str("<details><summary>The numbers, per ");
    out.push_str(&esc(&per));
    out.push_str("</summary>");
    table_open(
        &mut out,
        &format!("Keys per {per} (UTC); empty ones left out"),
        &[
            "from",
            "#sent",
            "#erased",
            "#not found",
            "#needing attention",
        ],
    );
    for (i, label) in labels.iter().enumerate() {
        let row = [a.sent[i], a.erased[i], a.not_found[i], a.attention[i]];
        if row.iter().all(|&n| n == 0) {
            continue;
        }
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(label));
        num_cells(&mut out, &row);
        out.push_str("</tr>");
    }
    out.push_str(TABLE_CLOSE);
    out.push_str("</details>\n</section>\n");
    out
}

/// Deadlines: the counts, and the first requests overdue, due soon and erased late.
pub fn deadlines(s: &Summary) -> String {
    let d = &s.deadlines;
    let mut out = format!(
        "<section aria-labelledby=\"deadlines\">\n<h2 id=\"deadlines\">Deadlines</h2>\n\
         <p>As of {} (UTC); a request is due one month after it was received (GDPR Art. 12(3)).</p>\n",
        esc(&d.summary.today)
    );
    if d.summary.dated == 0 {
        out.push_str(
            "<p>No request carries a received date, so none has a due date: \
             <code>forget run --received-column NAME</code> records them.</p>\n</section>\n",
        );
        return out;
    }
    out.push_str("<dl class=\"tiles\">");
    for (label, n) in [
        ("overdue requests", d.overdue.total),
        (
            &*format!("due within {DUE_SOON_DAYS} days"),
            d.due_soon.total,
        ),
        ("erased late", d.late.total),
        ("open keys without a date", d.summary.undated_unfinished),
    ] {
        let _ = write!(
            out,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            esc(label),
            thousands(n)
        );
    }
    out.push_str("</dl>\n");
    for (title, list, days) in [
        (
            "Overdue: still open after their due date",
            &d.overdue,
            "#days overdue",
        ),
        (
            "Due this week: open, due within 7 days",
            &d.due_soon,
            "#days left",
        ),
        (
            "Erased late: erased (or found not held) after their due date",
            &d.late,
            "#days late",
        ),
    ] {
        if list.total > 0 {
            out.push_str(&late_table(title, list, days));
        }
    }
    if [&d.overdue, &d.due_soon, &d.late]
        .iter()
        .any(|l| l.total > l.shown.len() as u64)
    {
        let _ = writeln!(
            out,
            "<p><code>forget status --deadlines{}</code> lists every overdue and late request.</p>",
            esc(&s.state_flag)
        );
    }
    out.push_str("</section>\n");
    out
}

fn late_table(title: &str, list: &Listed, days: &str) -> String {
    let mut out = String::new();
    let caption = if list.total > list.shown.len() as u64 {
        format!(
            "{} ({}; the first {} shown)",
            esc(title),
            thousands(list.total),
            list.shown.len()
        )
    } else {
        format!("{} ({})", esc(title), thousands(list.total))
    };
    table_open(
        &mut out,
        &caption,
        &["due", days, "request id", "row", "key (masked)", "outcome"],
    );
    for r in &list.shown {
        let id = r.request_id.as_deref().unwrap_or("—");
        let _ = write!(
            out,
            "<tr><td class=\"d\">{}</td><td class=\"n\">{}</td><td class=\"d\">{}</td>\
             <td><code>{}:{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&r.due_on),
            r.days_overdue.abs(),
            esc(id),
            esc(&r.file),
            r.line,
            esc(&r.key_masked),
            esc(shown(r.connector.as_deref(), &r.outcome))
        );
    }
    out.push_str(TABLE_CLOSE);
    debug_assert!(list.shown.len() <= LIST_SHOWN);
    out
}

/// The throttle: every run, and the latest runs' calls and 429s over time.
pub fn throttle(s: &Summary) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"throttle\">\n<h2 id=\"throttle\">The throttle</h2>\n",
    );
    if s.runs.is_empty() {
        out.push_str("<p>forget has not run on this ledger yet.</p>\n</section>\n");
        return out;
    }
    table_open(
        &mut out,
        "Runs",
        &[
            "#run",
            "started",
            "ended",
            "connector",
            "API host",
            "rate",
            "operator",
            "result",
            "#calls",
            "#429s",
        ],
    );
    for run in &s.runs {
        let calls = s.run_calls.iter().find(|c| c.run_id == run.id);
        let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or("—"));
        let _ = write!(
            out,
            "<tr><th scope=\"row\" class=\"n\">{}</th><td class=\"d\">{}</td><td class=\"d\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td>",
            run.id,
            esc(&shown_time(&run.started_at)),
            esc(&run.ended_at.as_deref().map_or("—".into(), shown_time)),
            esc(&run.connector),
            opt(&run.api_host),
            opt(&run.rate),
            opt(&run.operator),
            opt(&run.result),
        );
        num_cells(
            &mut out,
            &[
                calls.map_or(0, |c| c.calls),
                calls.map_or(0, |c| c.throttled),
            ],
        );
        out.push_str("</tr>");
    }
    out.push_str(TABLE_CLOSE);
    let drawn = s.run_calls.len().saturating_sub(RUNS_DRAWN);
    if drawn > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">The latest {RUNS_DRAWN} runs that made calls are drawn; the table \
             has every run.</p>"
        );
    }
    for calls in s.run_calls.iter().skip(drawn).rev() {
        let started = s
            .runs
            .iter()
            .find(|r| r.id == calls.run_id)
            .map_or(String::new(), |r| shown_time(&r.started_at));
        out.push_str(&run_chart(calls, &started));
    }
    out.push_str("</section>\n");
    out
}

fn run_chart(c: &RunCalls, started: &str) -> String {
    let w = c.bins.width as f64;
    let per = width_words(c.bins.width);
    let labels: Vec<String> = (0..c.bins.count).map(|i| bin_label(&c.bins, i)).collect();
    let rate = |v: u64| v as f64 / w;
    let answered: Vec<f64> = c
        .per_bin
        .iter()
        .zip(&c.throttled_per_bin)
        .map(|(&all, &t)| rate(all.saturating_sub(t)))
        .collect();
    let refused: Vec<f64> = c.throttled_per_bin.iter().map(|&t| rate(t)).collect();
    let busiest = c.per_bin.iter().copied().max().unwrap_or(0);
    let share = 100.0 * c.throttled as f64 / c.calls.max(1) as f64;
    let series = [
        Series {
            name: "calls answered",
            class: "s-calls",
            values: answered,
        },
        Series {
            name: "calls answered 429 (slow down)",
            class: "s-throttled",
            values: refused,
        },
    ];
    let id = format!("run-{}", c.run_id);
    let summary = format!(
        "{} calls, {} answered 429 ({share:.1}%); the busiest {per} averaged {} calls per second.",
        thousands(c.calls),
        thousands(c.throttled),
        svg::number(rate(busiest))
    );
    let chart = svg::columns(
        &id,
        &format!("Run {}: calls per second, averaged per {per}", c.run_id),
        &summary,
        &labels,
        &series,
        None,
        "calls per second",
    );
    let mut out = format!(
        "<h3 id=\"{id}-h\">Run {}, started {}</h3>\n",
        c.run_id,
        esc(started)
    );
    figure(
        &mut out,
        &chart,
        &series,
        &format!(
            "Calls per second, averaged over each {per} (UTC), as the ledger stamped them; in \
             red the share the server refused with 429. {}",
            esc(&summary)
        ),
    );
    out.push_str("<details><summary>The numbers, per ");
    out.push_str(&esc(&per));
    out.push_str("</summary>");
    table_open(
        &mut out,
        &format!(
            "Run {}: calls per {per} (UTC); empty ones left out",
            c.run_id
        ),
        &["from", "#calls", "#429s", "#calls per second"],
    );
    for (i, label) in labels.iter().enumerate() {
        let (all, t) = (c.per_bin[i], c.throttled_per_bin[i]);
        if all == 0 {
            continue;
        }
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(label));
        num_cells(&mut out, &[all, t]);
        let _ = write!(out, "<td class=\"n\">{}</td></tr>", svg::number(rate(all)));
    }
    out.push_str(TABLE_CLOSE);
    out.push_str("</details>\n");
    out
}

/// What still needs attention, each kind with the command that ends it (the hints `forget
/// status` prints).
pub fn attention(s: &Summary) -> String {
    let r = &s.requests;
    let mut out = String::from(
        "<section aria-labelledby=\"attention\">\n<h2 id=\"attention\">What still needs attention</h2>\n",
    );
    if r.all_ended() {
        out.push_str("<p class=\"ok\">Every request has ended: nothing needs attention.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>{} of {} requests are still open; {} need attention:</p>\n<ul>",
            thousands(r.open),
            thousands(r.requests),
            thousands(r.needs_attention)
        );
        for hint in &s.hints {
            let _ = writeln!(
                out,
                "<li><strong>{} {}</strong>: {}</li>",
                thousands(hint.count),
                esc(hint.state.words()),
                with_code(&hint.what)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

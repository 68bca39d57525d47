//! The page's sections, each a `<section>` with its heading, from a [`Summary`] (those drawn
//! over time are in `over_time`), and the tables and figures they share.

use std::fmt::Write;

use super::escape::{esc, thousands, with_code};
use super::svg::{self, LINE, Series};
use super::{LIST_SHOWN, Listed, Summary, shown_time};
use crate::deadline::DUE_SOON_DAYS;
use crate::ledger::Counts;
use crate::ledger::requests::State;
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
pub(super) fn table_open(out: &mut String, caption: &str, headers: &[&str]) {
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

pub(super) const TABLE_CLOSE: &str = "</tbody></table></div>\n";

pub(super) fn num_cells(out: &mut String, values: &[u64]) {
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
pub(super) fn figure(out: &mut String, chart: &str, series: &[Series], caption: &str) {
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

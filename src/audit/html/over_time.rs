//! The page's sections drawn over time: requests per minute, hour, day or week, and each
//! run's calls and 429s.

use std::fmt::Write;

use super::escape::{esc, thousands};
use super::sections::{TABLE_CLOSE, figure, num_cells, table_open};
use super::svg::{self, LINE, Series};
use super::{RUNS_DRAWN, Summary, shown_time};
use crate::ledger::timeline::{Bins, RunCalls};

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

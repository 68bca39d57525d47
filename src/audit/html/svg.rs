//! The summary's charts, drawn as inline SVG by a few lines of arithmetic: stacked columns
//! over time and stacked bars per category. Each is an image with a `<title>` and a
//! `<desc>` (`role="img"`, `aria-labelledby`), and its numbers are also in a table beside
//! it; colours come from the page's style sheet by class, so a chart prints as it shows.

use std::fmt::Write;

use super::escape::{esc, shorten, thousands};

/// One coloured part of each column or bar.
pub struct Series<'a> {
    pub name: &'a str,
    /// The CSS class that colours it (`s-erased`, …).
    pub class: &'static str,
    pub values: Vec<f64>,
}

/// The legend: each series' swatch and name, as HTML (text a phone can read).
pub fn legend(series: &[&Series]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for s in series {
        let mark = if s.class == LINE {
            format!("<line class=\"{LINE}\" x1=\"0\" y1=\"5\" x2=\"10\" y2=\"5\"></line>")
        } else {
            format!(
                "<rect class=\"{}\" width=\"10\" height=\"10\"></rect>",
                s.class
            )
        };
        let _ = write!(
            out,
            "<li><svg class=\"sw\" viewBox=\"0 0 10 10\" aria-hidden=\"true\">{mark}</svg>{}</li>",
            esc(s.name)
        );
    }
    out.push_str("</ul>");
    out
}

/// The class of a series drawn as a line over the columns.
pub const LINE: &str = "s-line";

// The charts' geometry, in the viewBox's units (a CSS pixel at 480 px wide; the page's
// style sheet sets the text larger on a phone, where the chart is drawn smaller).
const W: f64 = 480.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 24.0;
const PLOT_H: f64 = 150.0;
const FOOT: f64 = 24.0;

/// The opening of an accessible chart: `<svg>` with its title and description.
fn open(out: &mut String, id: &str, height: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\"><title id=\"{id}-t\">{}</title>\
         <desc id=\"{id}-d\">{}</desc>",
        esc(title),
        esc(desc)
    );
}

/// Columns over time, one per bin, its `series` stacked, and `line` (if any) drawn over
/// them: `labels[i]` names bin `i` (its tooltip; a few of them mark the axis), `unit` what
/// the values count.
pub fn columns(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    series: &[Series],
    line: Option<&Series>,
    unit: &str,
) -> String {
    let n = labels.len().max(1);
    let totals: Vec<f64> = (0..n)
        .map(|i| series.iter().map(|s| value(s, i)).sum())
        .collect();
    let highest = line
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .chain(totals.iter().copied())
        .fold(0.0, f64::max);
    let top = nice_ceiling(highest);
    let mut out = String::new();
    open(&mut out, id, TOP + PLOT_H + FOOT, title, desc);
    let plot_w = W - LEFT - RIGHT;
    let base = TOP + PLOT_H;
    // The value axis: 0, half and the top, with grid lines.
    for frac in [0.0, 0.5, 1.0] {
        let y = base - frac * PLOT_H;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"></line>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            esc(&number(top * frac))
        );
    }
    let step = plot_w / n as f64;
    let gap = if n > 40 { 0.0 } else { step * 0.15 };
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + i as f64 * step + gap / 2.0;
        let parts: Vec<String> = line
            .into_iter()
            .chain(series)
            .map(|s| format!("{} {}", number(value(s, i)), s.name))
            .collect();
        let _ = write!(
            out,
            "<g><title>{}: {}</title>",
            esc(label),
            esc(&parts.join(", "))
        );
        let mut y = base;
        for s in series {
            let h = if top > 0.0 {
                value(s, i) / top * PLOT_H
            } else {
                0.0
            };
            if h > 0.0 {
                y -= h;
                let _ = write!(
                    out,
                    "<rect class=\"{}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\"></rect>",
                    s.class,
                    (step - gap).max(0.5)
                );
            }
        }
        out.push_str("</g>");
    }
    if let Some(l) = line {
        let points: Vec<String> = (0..n)
            .map(|i| {
                let x = LEFT + (i as f64 + 0.5) * step;
                let y = base - value(l, i) / top * PLOT_H;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"{LINE}\" points=\"{}\"></polyline>",
            points.join(" ")
        );
        // Few points: each marked, so one bin's value shows too.
        if n <= 40 {
            for p in &points {
                if let Some((x, y)) = p.split_once(',') {
                    let _ = write!(
                        out,
                        "<circle class=\"s-dot\" cx=\"{x}\" cy=\"{y}\" r=\"3\"></circle>"
                    );
                }
            }
        }
    }
    // A few bins named under the axis: the first, the middle and the last.
    let mut named = vec![0, n / 2, n - 1];
    named.dedup();
    for i in named {
        let x = LEFT + (i as f64 + 0.5) * step;
        let anchor = match i {
            0 if n > 1 => "start",
            i if i + 1 == n && n > 1 => "end",
            _ => "middle",
        };
        let x = match anchor {
            "start" => LEFT,
            "end" => W - RIGHT,
            _ => x,
        };
        let label = labels.get(i).map_or("", String::as_str);
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            base + 18.0,
            esc(label)
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"0\" y=\"{:.1}\">{}</text>",
        TOP - 10.0,
        esc(unit)
    );
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per row: `labels[i]` above its bar, its series stacked in
/// proportion to the row's total, which is written at its end.
pub fn bars(id: &str, title: &str, desc: &str, labels: &[String], series: &[Series]) -> String {
    const ROW: f64 = 48.0;
    const TOTAL_W: f64 = 80.0;
    let n = labels.len();
    let mut out = String::new();
    open(&mut out, id, ROW * n.max(1) as f64, title, desc);
    let bar_w = W - TOTAL_W;
    for (i, label) in labels.iter().enumerate() {
        let total: f64 = series.iter().map(|s| value(s, i)).sum();
        let y = i as f64 * ROW;
        let parts: Vec<String> = series
            .iter()
            .filter(|s| value(s, i) > 0.0)
            .map(|s| format!("{} {}", number(value(s, i)), s.name))
            .collect();
        let _ = write!(
            out,
            "<g><title>{}: {}</title><text class=\"label\" x=\"0\" y=\"{:.1}\">{}</text>",
            esc(label),
            esc(&parts.join(", ")),
            y + 16.0,
            esc(&shorten(label, 48))
        );
        let mut x = 0.0;
        for s in series {
            let w = if total > 0.0 {
                value(s, i) / total * bar_w
            } else {
                0.0
            };
            if w > 0.0 {
                let _ = write!(
                    out,
                    "<rect class=\"{}\" x=\"{x:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"20\"></rect>",
                    s.class,
                    y + 22.0,
                );
                x += w;
            }
        }
        let _ = write!(
            out,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            bar_w + 6.0,
            y + 37.0,
            esc(&number(total))
        );
    }
    out.push_str("</svg>");
    out
}

fn value(s: &Series, i: usize) -> f64 {
    s.values.get(i).copied().unwrap_or(0.0)
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `v` (the value axis' top); 1 for nothing.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let scale = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * scale)
        .find(|&c| c >= v * (1.0 - 1e-9))
        .unwrap_or(10.0 * scale)
}

/// A value for a label: whole numbers with separators, rates below 10 with one decimal.
pub fn number(v: f64) -> String {
    if v.fract().abs() < 1e-9 || v >= 10.0 {
        thousands(v.round().max(0.0) as u64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.5), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(12_345.4), "12,345");
        assert_eq!(number(3.0), "3");
    }

    #[test]
    fn a_chart_is_a_titled_image_and_escapes_its_labels() {
        let s = [Series {
            name: "erased",
            class: "s-erased",
            values: vec![3.0, 0.0],
        }];
        let labels = ["<b>a.csv</b>".to_owned(), "b&c.csv".to_owned()];
        for svg in [
            columns("c", "Title <1>", "desc", &labels, &s, None, "requests"),
            bars("b", "Title <1>", "desc", &labels, &s),
        ] {
            assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
            assert!(svg.contains("role=\"img\""), "{svg}");
            assert!(svg.contains(">Title &lt;1&gt;</title>"), "{svg}");
            assert!(svg.contains("&lt;b&gt;a.csv&lt;/b&gt;"), "{svg}");
            assert!(svg.contains("b&amp;c.csv"), "{svg}");
            assert!(!svg.contains("<b>"), "{svg}");
            assert!(svg.ends_with("</svg>"), "{svg}");
        }
    }
}

//! `forget status --format html`: one well-formed, self-contained page (parsed as a browser
//! parses it, and rendered by one when the machine has one), every hostile name escaped, no
//! plaintext key, and never written over the ledger or an input file.

use std::path::Path;

use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

use crate::common::{Fixture, Workdir, forget_in, run_bin, text};

/// An input file name no page should show raw: markup, quotes, an ampersand and a bidi
/// override (which would show `csv.exe` as `exe.csv`).
const HOSTILE_FILE: &str = "<img src=x onerror=alert(1)>&'\"\u{202e}vsc.csv";
const HOSTILE_ID: &str = "<script>alert(\"id\")</script>";
const HOSTILE_OPERATOR: &str = "eve</td><b>&amp;";
const KEYS: [&str; 3] = ["+447700900001", "nobody@example.com", "+447700900002"];

/// A ledger of the sample tenant: erased, not-held and late requests, an invalid row, every
/// name hostile. Returns the page `status --format html -o summary.html` wrote.
fn hostile_page(wd: &Workdir) -> String {
    wd.write(
        HOSTILE_FILE,
        format!(
            "key,ticket,received\n{},\"{}\",2026-01-05\n{},T<2>&,2026-01-06\n,T3,2026-01-07\n{},T4,2099-01-01\n",
            KEYS[0],
            HOSTILE_ID.replace('"', "\"\""),
            KEYS[1],
            KEYS[2]
        ),
    );
    wd.run(
        wd.command()
            .args(["run", HOSTILE_FILE, "--simulate"])
            .args(["--keep-column", "ticket", "--received-column", "received"])
            .env("FORGET_OPERATOR", HOSTILE_OPERATOR),
        4,
    );
    let out = wd.run(
        wd.command()
            .args([
                "status",
                "--state",
                "forget-simulate.db",
                "--format",
                "html",
            ])
            .args(["-o", "summary.html"]),
        4,
    );
    assert_eq!(text(&out.stdout), "", "the page went to its file");
    std::fs::read_to_string(wd.path("summary.html")).unwrap()
}

/// The page as a browser's parser reads it, failing on any parse error the HTML standard
/// defines (an unclosed element, a stray end tag, a bad character reference, …).
fn parse(page: &str) -> RcDom {
    let opts = ParseOpts {
        tokenizer: TokenizerOpts {
            exact_errors: true,
            ..TokenizerOpts::default()
        },
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            scripting_enabled: false,
            ..TreeBuilderOpts::default()
        },
    };
    let dom = parse_document(RcDom::default(), opts)
        .from_utf8()
        .read_from(&mut page.as_bytes())
        .unwrap();
    let errors = dom.errors.borrow();
    assert!(errors.is_empty(), "parse errors: {errors:?}");
    drop(errors);
    dom
}

/// An element: its name, its attributes (name, value), and the node.
type Element = (String, Vec<(String, String)>, Handle);

/// Every element under `node`, depth first.
fn elements(node: &Handle, out: &mut Vec<Element>) {
    if let NodeData::Element { name, attrs, .. } = &node.data {
        let attrs = attrs
            .borrow()
            .iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        out.push((name.local.to_string(), attrs, node.clone()));
    }
    for child in node.children.borrow().iter() {
        elements(child, out);
    }
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The text of `node` and everything in it.
fn text_of(node: &Handle) -> String {
    let mut s = String::new();
    if let NodeData::Text { contents } = &node.data {
        s.push_str(&contents.borrow());
    }
    for child in node.children.borrow().iter() {
        s.push_str(&text_of(child));
    }
    s
}

/// Stricter than the parser, which forgives an end tag left out: every element forget writes
/// is closed explicitly, in order (void elements excepted), and nothing but markup forget
/// wrote opens a tag.
fn assert_balanced(page: &str) {
    const VOID: [&str; 4] = ["meta", "br", "hr", "img"];
    let mut open: Vec<&str> = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        let tag = &rest[at + 1..];
        let end = tag.find('>').expect("a tag left open");
        let inner = &tag[..end];
        rest = &tag[end + 1..];
        if inner.starts_with('!') {
            continue;
        }
        if let Some(name) = inner.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "closing </{name}> out of order");
            continue;
        }
        let name = inner.split([' ', '\n']).next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "a tag no page writes: <{inner}>"
        );
        if !VOID.contains(&name) {
            open.push(name);
        }
        if name == "style" {
            let close = rest.find("</style>").unwrap();
            rest = &rest[close..];
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

#[test]
fn the_html_summary_is_one_well_formed_self_contained_page() {
    let wd = Workdir::new();
    let page = hostile_page(&wd);
    let dom = parse(&page);
    assert_balanced(&page);
    let mut all = Vec::new();
    elements(&dom.document, &mut all);
    let named = |n: &'static str| all.iter().filter(move |(name, ..)| name == n);

    // For people and their tools: a language, a title, one h1, captioned tables, and every
    // chart an image with a title and a description it names.
    let html = named("html").next().unwrap();
    assert_eq!(attr(&html.1, "lang"), Some("en"));
    let title = text_of(&named("title").next().unwrap().2);
    assert_eq!(
        title,
        "Erasure requests: some need attention — forget summary"
    );
    assert_eq!(named("h1").count(), 1);
    assert!(named("h2").count() >= 6);
    assert!(named("table").count() >= 5);
    for (_, _, table) in named("table") {
        let first = table
            .children
            .borrow()
            .iter()
            .find(|c| matches!(c.data, NodeData::Element { .. }))
            .cloned()
            .unwrap();
        let NodeData::Element { name, .. } = &first.data else {
            unreachable!()
        };
        assert_eq!(&*name.local, "caption", "a table without a caption");
        assert!(!text_of(&first).trim().is_empty());
    }
    let charts: Vec<_> = named("svg")
        .filter(|(_, a, _)| attr(a, "class") == Some("chart"))
        .collect();
    assert!(charts.len() >= 4, "files, scopes, over time, the run");
    for (_, attrs, svg) in charts {
        assert_eq!(attr(attrs, "role"), Some("img"));
        let labels = attr(attrs, "aria-labelledby").unwrap();
        for id in labels.split(' ') {
            let (name, _, node) = all
                .iter()
                .find(|(_, a, _)| attr(a, "id") == Some(id))
                .unwrap_or_else(|| panic!("no element {id}"));
            assert!(name == "title" || name == "desc", "{name}");
            assert!(!text_of(node).trim().is_empty(), "{id} says nothing");
        }
        assert!(
            svg.children.borrow().first().is_some_and(
                |c| matches!(&c.data, NodeData::Element { name, .. } if &*name.local == "title")
            ),
            "a chart's first child is its title"
        );
    }

    // Self-contained: nothing runs and nothing is fetched.
    assert_eq!(named("script").count(), 0);
    assert!(!page.contains("<script"));
    for (name, attrs, _) in &all {
        for (a, v) in attrs {
            assert!(
                !matches!(
                    a.as_str(),
                    "src" | "srcset" | "action" | "formaction" | "background"
                ) && !a.starts_with("on"),
                "<{name} {a}={v:?}>"
            );
            if a == "href" {
                assert!(v.starts_with('#'), "a link out: {v}");
            }
        }
    }
    for fetch in [
        "http://", "https://", "url(", "@import", "<link", "<iframe", "<object",
    ] {
        assert!(!page.contains(fetch), "{fetch}");
    }
    assert!(
        page.contains("default-src 'none'"),
        "and a policy that forbids it"
    );

    // Hostile names are shown, escaped, never obeyed.
    for raw in [
        HOSTILE_FILE,
        "<img",
        HOSTILE_ID,
        "<script>",
        "</td><b>",
        "\u{202e}",
    ] {
        assert!(!page.contains(raw), "raw {raw:?}");
    }
    for shown in [
        "&lt;img src=x onerror=alert(1)&gt;&amp;&#39;&quot;\\u{202e}vsc.csv",
        "&lt;script&gt;alert(&quot;id&quot;)&lt;/script&gt;",
        "eve&lt;/td&gt;&lt;b&gt;&amp;amp;",
    ] {
        assert!(page.contains(shown), "{shown} not in {page}");
    }
    let body = text_of(&named("body").next().unwrap().2);
    assert!(
        body.contains("<img src=x onerror=alert(1)>&'\"\\u{202e}vsc.csv"),
        "a reader sees the name as it is, its override shown"
    );

    // No plaintext key: only masked ones.
    for key in KEYS {
        assert!(!page.contains(key), "the plaintext key {key}");
    }
    assert!(page.contains("<code>+44*"), "masked keys are shown");

    // What it says: every part of the summary.
    for part in [
        "What was asked and what was done",
        "Requests by state",
        "By input file",
        "By connector and scope",
        "Requests over time",
        "Deadlines",
        "Erased late: erased (or found not held) after their due date",
        "The throttle",
        "Run 1, started ",
        "What still needs attention",
        "<code>forget resolve --state forget-simulate.db --outcome invalid --reason &quot;WHY&quot;</code> ends them",
        "chained records (<code>forget verify</code> checks the chain)",
        concat!("<dd>", env!("CARGO_PKG_VERSION"), "</dd>"),
        "<code>forget-simulate.db</code>",
    ] {
        assert!(page.contains(part), "{part} not in {page}");
    }
}

/// The page is written under the output rule: never over the ledger, its companions or an
/// input file recorded in it, and `--output` is for the summaries alone.
#[test]
fn the_html_summary_never_writes_over_the_ledger_or_an_input() {
    let wd = Workdir::new();
    wd.write("r.csv", "key\n+447700900001\n");
    wd.run(wd.command().args(["run", "r.csv", "--simulate"]), 0);
    let ledger = std::fs::read(wd.path("forget-simulate.db")).unwrap();
    let status = ["status", "--state", "forget-simulate.db"];
    for target in ["forget-simulate.db", "forget-simulate.db-wal", "r.csv"] {
        let out = wd.run(
            wd.command()
                .args(status)
                .args(["--format", "html", "-o", target]),
            2,
        );
        assert!(text(&out.stderr).contains(target), "{}", text(&out.stderr));
    }
    assert_eq!(
        std::fs::read(wd.path("forget-simulate.db")).unwrap(),
        ledger
    );
    assert_eq!(
        std::fs::read_to_string(wd.path("r.csv")).unwrap(),
        "key\n+447700900001\n"
    );
    let out = wd.run(wd.command().args(status).args(["-o", "s.txt"]), 2);
    assert!(
        text(&out.stderr).contains("--output"),
        "{}",
        text(&out.stderr)
    );
    // A page written before is replaced whole; without --output the page is on stdout.
    wd.write("s.html", "old");
    wd.run(
        wd.command()
            .args(status)
            .args(["--format", "html", "-o", "s.html"]),
        0,
    );
    let written = std::fs::read_to_string(wd.path("s.html")).unwrap();
    assert!(written.starts_with("<!DOCTYPE html>"));
    let out = wd.run(wd.command().args(status).args(["--format", "html"]), 0);
    let printed = text(&out.stdout);
    assert!(printed.contains("<h1>Erasure requests: every request has ended</h1>"));
    assert!(printed.contains("Every request has ended: nothing needs attention."));
}

/// A run the server throttled: its chart counts every 429 the ledger recorded.
#[tokio::test]
async fn the_html_summary_counts_each_runs_429s() {
    let keys = crate::common::keys("+4477009", 40);
    let fx = Fixture::new(&keys, |c| {
        c.faults = vec![(forget::sim::Fault::Code429, 0.3)];
    })
    .await;
    let input = fx.csv("k.csv", &keys);
    fx.run(fx.config(vec![input])).await;
    let throttled = fx.query_i64("SELECT count(*) FROM attempts WHERE http_status = 429");
    let calls = fx.query_i64("SELECT count(*) FROM attempts");
    assert!(throttled > 0, "the simulator answered no 429");
    let mut cmd = forget_in(fx.dir.path());
    cmd.args(["status", "--state", "ledger.db", "--format", "html"]);
    let page = text(&run_bin(cmd, 0).await.stdout);
    parse(&page);
    let share = 100.0 * throttled as f64 / calls as f64;
    let said = format!("{calls} calls, {throttled} answered 429 ({share:.1}%)");
    assert!(page.contains(&said), "{said} not in {page}");
    assert!(page.contains("calls answered 429 (slow down)"));
}

/// Rendered by a real browser when the machine has one (Debian's `chromium-headless-shell`
/// or `chromium`): the page loads from a file with nothing fetched and prints to PDF.
/// Skipped, saying so, where none is installed (CI installs nothing).
#[test]
fn a_browser_renders_the_html_summary() {
    let Some(browser) = [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ]
    .iter()
    .find_map(|name| which(name)) else {
        println!("skipped: no headless browser (chromium-headless-shell, chromium) on the PATH");
        return;
    };
    let wd = Workdir::new();
    hostile_page(&wd);
    let page = wd.path("summary.html");
    let url = format!("file://{}", page.display());
    let profile = wd.path("browser-profile");
    let run = |extra: &[String]| {
        let out = std::process::Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .env("HOME", wd.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    let dom = text(&run(&["--dump-dom".into()]).stdout);
    assert!(
        dom.contains("<h1>Erasure requests: some need attention</h1>"),
        "{dom}"
    );
    assert!(dom.contains("role=\"img\""), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    let pdf = wd.path("summary.pdf");
    run(&[
        format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer".into(),
    ]);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 10_000,
        "{}",
        bytes.len()
    );
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| Path::new(p).is_file())
}

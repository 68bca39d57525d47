//! The documentation's commands run as printed. In README.md and every page under docs/, a
//! fenced block whose info string is `sh tested` is a script: each of its commands that
//! starts with `forget` (or `cargo run --release --`) runs, in order, in one scratch folder
//! per page holding the repository's `samples/`, and must exit 0 — or the code a trailing
//! `# exit N` names. Other lines (comments, `export …`) are shown to readers only. A block
//! that needs a real tenant is not marked: rehearse it with `--simulate` in one that is.

use std::path::{Path, PathBuf};

use crate::common::{Workdir, repo_path, text};

/// One command of a tested block: its words, the exit code it must give, where it was.
struct Step {
    words: Vec<String>,
    exit: i32,
    at: String,
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo_path("README.md")];
    if let Ok(dir) = std::fs::read_dir(repo_path("docs")) {
        let mut docs: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        docs.sort();
        pages.extend(docs);
    }
    pages
}

fn steps(page: &Path) -> Vec<Step> {
    let doc = std::fs::read_to_string(page).unwrap();
    let name = page.file_name().unwrap().to_string_lossy().into_owned();
    let mut steps = Vec::new();
    let mut in_tested = false;
    let mut pending = String::new();
    for (n, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_tested = !in_tested && trimmed == "```sh tested";
            continue;
        }
        if !in_tested {
            continue;
        }
        // A line continued with `\` joins the next.
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        let logical = std::mem::take(&mut pending) + line;
        let (command, comment) = match logical.split_once(" #") {
            Some((c, comment)) => (c.trim().to_owned(), comment.trim().to_owned()),
            None => (logical.trim().to_owned(), String::new()),
        };
        let command = command
            .strip_prefix("cargo run --release -- ")
            .map(|rest| format!("forget {rest}"))
            .unwrap_or(command);
        if !command.starts_with("forget ") {
            continue;
        }
        let exit = comment
            .strip_prefix("exit ")
            .and_then(|c| {
                let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .unwrap_or(0);
        let words = shlex::split(&command)
            .unwrap_or_else(|| panic!("{name}:{}: cannot split {command:?}", n + 1));
        steps.push(Step {
            words: words[1..].to_vec(),
            exit,
            at: format!("{name}:{}", n + 1),
        });
    }
    steps
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn every_tested_command_in_the_docs_runs_as_printed() {
    let mut ran = 0;
    for page in pages() {
        let steps = steps(&page);
        if steps.is_empty() {
            continue;
        }
        let wd = Workdir::new();
        copy_dir(&repo_path("samples"), &wd.path("samples"));
        for step in steps {
            let out = wd.command().args(&step.words).output().unwrap();
            let code = out.status.code().unwrap_or(-1);
            assert_eq!(
                code,
                step.exit,
                "{}: forget {} exited {code}, the docs say {}\n--- stdout\n{}\n--- stderr\n{}",
                step.at,
                step.words.join(" "),
                step.exit,
                text(&out.stdout),
                text(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 3, "only {ran} documented commands are tested");
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as `-`; a repeated
/// one gets `-1`, `-2`, ….
fn anchors(page: &str) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut fence = false;
    for line in page.lines() {
        if line.starts_with("```") {
            fence = !fence;
        }
        if fence || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.push(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// Every link between the documents reaches a file that exists, and a heading in it.
#[test]
fn every_link_in_the_docs_reaches_its_target() {
    let mut pages = pages();
    for extra in ["CONTRIBUTING.md", "ARCHITECTURE.md", "BENCHMARKS.md"] {
        if repo_path(extra).is_file() {
            pages.push(repo_path(extra));
        }
    }
    let link = |s: &str| -> Vec<String> {
        // [label](target): the target, up to a space or the closing parenthesis.
        let mut found = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find([')', ' ']).unwrap_or(after.len());
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
        found
    };
    let mut checked = 0;
    for page in &pages {
        let doc = std::fs::read_to_string(page).unwrap();
        let dir = page.parent().unwrap();
        for target in link(&doc) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            assert!(
                file.exists(),
                "{}: link to {target}: no such file",
                page.display()
            );
            if let Some(anchor) = anchor
                && file.extension().is_some_and(|x| x == "md")
            {
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    anchors(&text).iter().any(|a| a == anchor),
                    "{}: link to {target}: no such heading",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked} links");
}

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

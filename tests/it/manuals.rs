//! Shell completions and manual pages, generated from the same clap definitions the binary
//! parses with: every command is in them, so they cannot fall behind the binary.

use crate::common::{Workdir, text};

/// Every subcommand, read from the binary's own help (its "Commands:" list).
fn subcommands(wd: &Workdir) -> Vec<String> {
    let help = text(&wd.run(wd.command().arg("--help"), 0).stdout);
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") || l.is_empty())
        // A command's line; its description may wrap onto lines indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 14, "{names:?}");
    assert!(names.iter().any(|n| n == "completions") && names.iter().any(|n| n == "man"));
    names
}

#[test]
fn completions_cover_every_command_in_every_shell() {
    let wd = Workdir::new();
    let commands = subcommands(&wd);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = text(&wd.run(wd.command().args(["completions", shell]), 0).stdout);
        for command in &commands {
            assert!(script.contains(command.as_str()), "{shell}: no {command}");
        }
        // A flag of one command, to show the completion goes below the command names.
        assert!(script.contains("max-attempts"), "{shell}");
    }
    let out = wd.run(wd.command().args(["completions", "tcsh"]), 2);
    assert!(text(&out.stderr).contains("possible values"), "{out:?}");
}

#[test]
fn man_pages_cover_every_command() {
    let wd = Workdir::new();
    let commands = subcommands(&wd);
    let page = text(&wd.run(wd.command().arg("man"), 0).stdout);
    assert!(page.contains(".TH forget 1"), "{page}");
    for command in &commands {
        assert!(
            page.contains(command.as_str()),
            "forget(1) does not name {command}"
        );
    }

    wd.run(wd.command().args(["man", "--out-dir", "man/man1"]), 0);
    for command in &commands {
        let file = wd.path(&format!("man/man1/forget-{command}.1"));
        let page =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(page.contains(&format!(".TH forget-{command} 1")), "{page}");
    }
    let run = std::fs::read_to_string(wd.path("man/man1/forget-run.1")).unwrap();
    assert!(
        run.contains("max\\-attempts"),
        "forget-run(1) lists run's flags"
    );
    // Written again: the pages are replaced, never refused.
    wd.run(wd.command().args(["man", "--out-dir", "man/man1"]), 0);
}

//! `forget lookup` finds a key written the way a person gives it: with spaces, in another
//! case, with `00` for `+`; and says which spelling the ledger holds, masked.

use std::process::Stdio;

use crate::common::{Workdir, text};
use forget::error::exit;

/// `forget lookup -` with `stdin`, on `state`; asserts the exit code.
pub fn lookup_stdin(wd: &Workdir, state: &str, stdin: &str, code: i32) -> String {
    let mut cmd = wd.command();
    cmd.args(["lookup", "-", "--state", state])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

#[test]
fn lookup_finds_the_obvious_spellings_and_says_which_matched() {
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "key\nyara.garcia899@example.com\n+447700900448\n447700900449\n",
    );
    wd.run(
        wd.command()
            .args(["run", "in.csv", "--simulate", "--rate", "unlimited"]),
        exit::OK,
    );
    let out = lookup_stdin(
        &wd,
        "forget-simulate.db",
        "Yara.Garcia899@Example.com\n+44 7700 900448\n0044 7700 900449\n",
        exit::OK,
    );
    assert!(!out.contains("NOT IN THE LEDGER"), "{out}");
    assert!(
        out.contains("matched as y***@e***.com (the address in lower case)"),
        "{out}"
    );
    assert!(
        out.contains("matched as +44********48 (the number with +, without separators)"),
        "{out}"
    );
    assert!(
        out.contains("matched as 44********49 (the number without prefix or separators)"),
        "{out}"
    );
    assert!(out.contains("3 keys looked up: 3 erased"), "{out}");
    assert!(
        !out.contains("7700900448") && !out.contains("@example.com"),
        "{out}"
    );

    // The key as the ledger holds it matches as given: no note.
    let out = lookup_stdin(&wd, "forget-simulate.db", "+447700900448\n", exit::OK);
    assert!(!out.contains("matched as"), "{out}");
    // Another number is still another number.
    let out = lookup_stdin(
        &wd,
        "forget-simulate.db",
        "+44 7700 900447\n",
        exit::INCOMPLETE,
    );
    assert!(out.contains("NOT IN THE LEDGER"), "{out}");
}

#[test]
fn a_key_pasted_from_a_report_cell_is_found_as_forget_wrote_it() {
    let wd = Workdir::new();
    wd.write("in.csv", "key\n447700900451\n+447700900452\n");
    wd.run(
        wd.command()
            .args(["run", "in.csv", "--simulate", "--rate", "unlimited"]),
        exit::OK,
    );
    // The report writes these cells `'447700900451` and `'+447700900452` for spreadsheets.
    let out = lookup_stdin(
        &wd,
        "forget-simulate.db",
        "'447700900451\n'+447700900452\n",
        exit::OK,
    );
    assert!(!out.contains("NOT IN THE LEDGER"), "{out}");
}

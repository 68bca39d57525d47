//! `forget man`: manual pages generated from the clap definitions: `forget(1)` on standard
//! output, or one page per command into a folder.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::{Error, Result, exit};
use crate::output::{self, Overwrite, Protected};

#[derive(Args, Debug)]
#[command(after_help = "\
Read it now:   forget man | man -l -
Install:       forget man --out-dir ~/.local/share/man/man1   (then: man forget, man forget-run)")]
pub struct ManArgs {
    /// Write forget.1 and forget-COMMAND.1 for every command into this folder (created if
    /// missing), replacing older pages; without it, forget(1) goes to standard output.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn exec(args: &ManArgs) -> Result<i32> {
    let cli = Cli::command();
    let Some(dir) = &args.out_dir else {
        output::print_data(&page(cli.clone())?)?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut written = vec![("forget.1".to_owned(), page(cli.clone())?)];
    for sub in cli.get_subcommands() {
        // Named as `man forget-run` finds it, and as its own synopsis reads.
        let name = format!("forget-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("forget {}", sub.get_name()));
        written.push((format!("{name}.1"), page(sub)?));
    }
    for (file, bytes) in &written {
        output::write_file(
            &dir.join(file),
            bytes,
            &Protected::none(),
            Overwrite::Replace,
        )?;
    }
    output::eprint(&format!(
        "{} manual pages written to {}\n",
        written.len(),
        dir.display()
    ));
    Ok(exit::OK)
}

fn page(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut bytes)
        .map_err(|e| Error::Internal(format!("rendering a manual page: {e}")))?;
    Ok(bytes)
}

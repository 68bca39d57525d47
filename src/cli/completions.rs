//! `forget completions SHELL`: a completion script for the shell, generated from the same
//! clap definitions the binary parses with, so it cannot drift from the commands.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::{Result, exit};
use crate::output;

#[derive(Args, Debug)]
#[command(after_help = "\
Install (pick your shell):
  bash:  forget completions bash > ~/.local/share/bash-completion/completions/forget
  zsh:   forget completions zsh > ~/.zfunc/_forget   (with fpath+=~/.zfunc before compinit)
  fish:  forget completions fish > ~/.config/fish/completions/forget.fish
  PowerShell: forget completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn exec(args: &CompletionsArgs) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "forget", &mut script);
    output::print_data(&script)?;
    Ok(exit::OK)
}

//! `pgshift man [COMMAND…] [--dir DIR]`: manual pages (roff) made from the command line's
//! definition: the main page, one command's page, or every page written into a folder.

use std::path::Path;

use clap::CommandFactory;

use super::{exit, output, Cli, CliError};

pub fn run(command: &[String], dir: Option<&Path>) -> Result<u8, CliError> {
    let fail =
        |e: std::io::Error| CliError::usage(format!("cannot write the manual page: {e}"), None);
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = dir {
        clap_mangen::generate_to(cmd, dir).map_err(|e| {
            CliError::usage(
                format!("cannot write the manual pages into {}: {e}", dir.display()),
                Some("name a folder that exists and that you may write".into()),
            )
        })?;
        return Ok(exit::OK);
    }
    let mut page_of = cmd;
    for (i, name) in command.iter().enumerate() {
        let Some(sub) = page_of.find_subcommand(name).cloned() else {
            let known: Vec<String> = page_of
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name().to_string())
                .collect();
            return Err(CliError::usage(
                format!("there is no command `pgshift {}`", command[..=i].join(" ")),
                Some(format!("one of: {}", known.join(", "))),
            ));
        };
        page_of = sub;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(page_of)
        .render(&mut page)
        .map_err(fail)?;
    output::write_stdout(&page);
    Ok(exit::OK)
}

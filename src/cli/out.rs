//! How the operator commands write, like Unix tools: through a locked
//! stdout with `writeln!`, every write's error carried back to one place,
//! where a closed pipe (`sijil cases | head -1`) ends the command quietly
//! with exit 0 instead of the panic of `println!`.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::edge::store::StoreError;

/// Why an operator command stopped early.
#[derive(Debug)]
pub(super) enum Stop {
    /// Writing the output failed; a closed pipe is a normal end.
    Output(io::Error),
    /// The command itself failed: said on stderr, exit 1.
    Failed(String),
    /// The configuration is wrong: said on stderr, exit 2.
    Config(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Output(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Failed(e.to_string())
    }
}

impl From<String> for Stop {
    fn from(e: String) -> Stop {
        Stop::Failed(e)
    }
}

/// Runs `f` with stdout locked, flushes, and turns the outcome into the
/// exit code: a reader that went away is success, as for `cat` or `ls`.
pub(super) fn to_stdout(f: impl FnOnce(&mut dyn Write) -> Result<(), Stop>) -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = f(&mut out).and_then(|()| out.flush().map_err(Stop::Output));
    exit_code(result)
}

pub(super) fn exit_code(result: Result<(), Stop>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Stop::Output(e)) => {
            eprintln!("sijil: cannot write the output: {e}");
            ExitCode::from(super::exit::FAILURE)
        }
        Err(Stop::Failed(e)) => {
            eprintln!("sijil: {e}");
            ExitCode::from(super::exit::FAILURE)
        }
        Err(Stop::Config(e)) => {
            eprintln!("sijil: the configuration has a mistake:\n  {e}");
            ExitCode::from(super::exit::CONFIG)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_success_other_failures_are_not() {
        let closed = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(exit_code(Err(Stop::Output(closed))), ExitCode::SUCCESS);
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert_eq!(
            exit_code(Err(Stop::Output(full))),
            ExitCode::from(super::super::exit::FAILURE)
        );
        assert_eq!(
            exit_code(Err(Stop::Failed("no case X".into()))),
            ExitCode::from(super::super::exit::FAILURE)
        );
    }
}

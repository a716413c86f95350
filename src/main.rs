//! The `sijil` binary: everything is in [`sijil::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    sijil::cli::main()
}

//! Printing on stdout that ends quietly when the reader goes away (`claimsh logs | head`):
//! `println!` would panic on the broken pipe.

use std::io::{ErrorKind, Write};

/// `println!` for subcommands' output: on a closed pipe the process exits with code 0, as
/// `cat` and `grep` do; any other write error exits with [`crate::exit::FAILED`].
macro_rules! outln {
    () => { $crate::stdout::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::stdout::line(format_args!($($arg)*)) };
}
pub(crate) use outln;

/// Write one line; see [`outln!`].
pub fn line(text: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(crate::exit::OK);
        }
        eprintln!("claimsh: cannot write to stdout: {e}");
        std::process::exit(crate::exit::FAILED);
    }
}

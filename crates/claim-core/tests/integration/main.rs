//! claim-core's integration tests, one binary (one link, one run): key encoding (`keys`), the
//! ledger against a model under random operations (`model`), its behaviour in one process
//! (`semantics`), and real processes racing, killed, paused and clock-skewed (`processes`).

mod keys;
mod model;
mod processes;
mod semantics;
mod util;

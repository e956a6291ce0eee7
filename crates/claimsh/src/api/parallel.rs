//! Parallel maps (filled in by the claim-pool binding).

use super::FnDoc;
use crate::worker::Worker;
use rhai::Engine;
use std::sync::Arc;

pub const DOCS: &[FnDoc] = &[];

pub fn register(_engine: &mut Engine, _worker: &Arc<Worker>) {}

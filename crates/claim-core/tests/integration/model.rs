//! Model-based test of the ledger's core promise: an item done anywhere is done everywhere.
//!
//! Random sequences of operations by three workers (each a ledger of its own, as separate
//! processes would have) — per-item claims and list walks over lists that grow, shrink and are
//! reordered; done, fail and release — are checked against an in-memory model of which items
//! are done, failed and held. The ledger's answers (`claim`, the blocks a walk hands out,
//! `all_done`, `status`) must always match the model, and no item is ever handed out while done
//! or held.

use claim_core::{BlockClaim, Claim, Claimed, Ledger, LedgerOptions, ListWalker};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const KEYS: usize = 6;

fn key(i: usize) -> String {
    format!("k{i}")
}

/// The lists walkers use: a prefix, the whole (grown), reversed, and a shifted subset.
fn list(variant: usize) -> Vec<String> {
    let all: Vec<String> = (0..KEYS).map(key).collect();
    match variant % 4 {
        0 => all[..4].to_vec(),
        1 => all,
        2 => all.into_iter().rev().collect(),
        _ => all[2..].to_vec(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Claim {
        worker: usize,
        key: usize,
    },
    Walk {
        worker: usize,
        variant: usize,
    },
    /// 0: done, 1: fail, 2: release (for a block: done all / fail the first / release).
    Finish {
        worker: usize,
        outcome: u8,
    },
    Check,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..KEYS).prop_map(|(worker, key)| Op::Claim { worker, key }),
        (0..3usize, 0..4usize).prop_map(|(worker, variant)| Op::Walk { worker, variant }),
        (0..3usize, 0..3u8).prop_map(|(worker, outcome)| Op::Finish { worker, outcome }),
        Just(Op::Check),
    ]
}

#[allow(clippy::large_enum_variant)] // one per worker
enum Holding {
    Item(String, Claim),
    Block(ListWalker, BlockClaim),
}

#[derive(Default)]
struct Model {
    done: HashSet<String>,
    failed: HashSet<String>,
    held: HashMap<String, usize>,
}

impl Model {
    fn pending(&self, key: &str) -> bool {
        !self.done.contains(key) && !self.failed.contains(key) && !self.held.contains_key(key)
    }
}

struct World {
    _dir: tempfile::TempDir,
    ledgers: Vec<Ledger>,
    holding: Vec<Option<Holding>>,
    model: Model,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let ledgers = (0..3)
            .map(|w| {
                let options = LedgerOptions {
                    lease: Duration::from_secs(60),
                    host: format!("node{w}"),
                    retry_failed: false,
                };
                Ledger::open(dir.path(), options).unwrap()
            })
            .collect();
        World {
            _dir: dir,
            ledgers,
            holding: (0..3).map(|_| None).collect(),
            model: Model::default(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Claim { worker, key: k } if self.holding[worker].is_none() => {
                self.claim(worker, &key(k))
            }
            Op::Walk { worker, variant } if self.holding[worker].is_none() => {
                self.walk(worker, variant)
            }
            Op::Finish { worker, outcome } => self.finish(worker, outcome),
            Op::Check => self.check(),
            _ => {}
        }
    }

    fn claim(&mut self, worker: usize, key: &str) {
        let answer = self.ledgers[worker].claim(key).unwrap();
        let m = &self.model;
        match answer {
            Claimed::Done => assert!(m.done.contains(key), "{key} said done"),
            Claimed::Failed => assert!(
                m.failed.contains(key) && !m.done.contains(key),
                "{key} said failed"
            ),
            Claimed::Busy => assert!(m.held.contains_key(key), "{key} said busy"),
            Claimed::Won(claim) => {
                assert!(
                    m.pending(key),
                    "{key} handed out while done, failed or held"
                );
                self.model.held.insert(key.to_string(), worker);
                self.holding[worker] = Some(Holding::Item(key.to_string(), claim));
            }
        }
    }

    fn walk(&mut self, worker: usize, variant: usize) {
        let keys = list(variant);
        let mut walker = self.ledgers[worker].walk(keys.clone()).unwrap();
        match walker.next_block().unwrap() {
            Some(block) => {
                for &i in block.items() {
                    let key = walker.key(i).to_string();
                    assert!(
                        self.model.pending(&key),
                        "{key} in a block while done, failed or held"
                    );
                    self.model.held.insert(key, worker);
                }
                self.holding[worker] = Some(Holding::Block(walker, block));
            }
            None => {
                let pending: Vec<&String> = keys.iter().filter(|k| self.model.pending(k)).collect();
                assert!(pending.is_empty(), "pending items {pending:?} but no block");
            }
        }
    }

    fn finish(&mut self, worker: usize, outcome: u8) {
        match self.holding[worker].take() {
            None => {}
            Some(Holding::Item(key, claim)) => {
                self.model.held.remove(&key);
                match outcome {
                    0 => {
                        claim.done().unwrap();
                        self.model.done.insert(key);
                    }
                    1 => {
                        claim.fail("model says fail").unwrap();
                        self.model.failed.insert(key);
                    }
                    _ => claim.release().unwrap(),
                }
            }
            Some(Holding::Block(mut walker, mut block)) => {
                let items = block.items().to_vec();
                for (n, &i) in items.iter().enumerate() {
                    let key = walker.key(i).to_string();
                    self.model.held.remove(&key);
                    match outcome {
                        0 => {
                            block.done_item(i);
                            self.model.done.insert(key);
                        }
                        1 if n == 0 => {
                            block.fail_item(i, "first fails");
                            self.model.failed.insert(key);
                        }
                        1 => {
                            block.done_item(i);
                            self.model.done.insert(key);
                        }
                        _ => {}
                    }
                }
                match outcome {
                    2 => walker.release(block).unwrap(),
                    _ => walker.complete(block).unwrap(),
                }
            }
        }
    }

    fn check(&mut self) {
        let all: Vec<String> = (0..KEYS).map(key).collect();
        let ledger = &self.ledgers[0];
        let all_done = ledger.all_done(all.iter().map(String::as_str)).unwrap();
        assert_eq!(all_done, self.model.done.len() == KEYS);
        let status = ledger.status().unwrap();
        assert_eq!(status.done as usize, self.model.done.len(), "status done");
        let failed = self.model.failed.difference(&self.model.done).count();
        assert_eq!(status.failed as usize, failed, "status failed");
        assert!(status.done <= status.total.unwrap_or(0), "done ≤ total");
        let running = status.running + status.stale;
        assert_eq!(running as usize, self.model.held.len(), "status running");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        for worker in 0..3 {
            world.finish(worker, 0);
        }
        world.check();
    }
}

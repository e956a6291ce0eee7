//! The ledger's behaviour within one process: transitions, retries, fencing, blocks, status.

use crate::util::options;
use claim_core::{Claimed, CleanupScope, Error, Ledger, LedgerOptions};
use std::time::Duration;

fn open(dir: &std::path::Path, host: &str) -> Ledger {
    Ledger::open(dir, options(host, 60_000)).unwrap()
}

#[test]
fn a_claimed_item_is_busy_for_others_and_done_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    let b = open(dir.path(), "b");
    let claim = a.claim("x").unwrap().won().expect("first claim wins");
    assert!(matches!(b.claim("x").unwrap(), Claimed::Busy));
    claim.done().unwrap();
    assert!(matches!(b.claim("x").unwrap(), Claimed::Done));
    assert!(b.is_done("x"));
}

#[test]
fn release_and_drop_give_the_item_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    a.claim("x").unwrap().won().unwrap().release().unwrap();
    let again = a
        .claim("x")
        .unwrap()
        .won()
        .expect("released item can be claimed");
    drop(again);
    assert!(
        a.claim("x").unwrap().won().is_some(),
        "dropped claim was released"
    );
}

#[test]
fn failed_items_are_skipped_unless_retrying_and_keep_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    a.claim("x")
        .unwrap()
        .won()
        .unwrap()
        .fail("bad pixel")
        .unwrap();
    assert!(matches!(
        open(dir.path(), "b").claim("x").unwrap(),
        Claimed::Failed
    ));
    let status = a.status().unwrap();
    assert_eq!((status.failed, status.done), (1, 0));
    assert_eq!(status.failures[0].reason, "bad pixel");

    let mut retry = options("c", 60_000);
    retry.retry_failed = true;
    let c = Ledger::open(dir.path(), retry).unwrap();
    c.claim("x")
        .unwrap()
        .won()
        .expect("retry claims a failed item")
        .done()
        .unwrap();
    let status = a.status().unwrap();
    assert_eq!(
        (status.failed, status.done),
        (0, 1),
        "retry success clears the failure"
    );
}

#[test]
fn an_existing_output_file_counts_as_done() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir.path().join("state"), "a");
    let output = dir.path().join("out.csv");
    assert!(a.claim_unless_exists("x", &output).unwrap().won().is_some());
    std::fs::write(&output, "done").unwrap();
    assert!(matches!(
        a.claim_unless_exists("y", &output).unwrap(),
        Claimed::Done
    ));
}

#[test]
fn a_holder_whose_claim_was_replaced_cannot_publish() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    let claim = a.claim("x").unwrap().won().unwrap();
    // What a thief does: move the claim away, then create its own in its place.
    let path = dir.path().join("claims/x");
    std::fs::rename(&path, dir.path().join("stolen")).unwrap();
    std::fs::write(&path, "{}").unwrap();
    let err = claim.done().unwrap_err();
    assert!(matches!(err, Error::LostClaim { .. }), "{err}");
    assert!(!a.is_done("x"), "the lost claim published nothing");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{}",
        "the thief's claim stays"
    );
}

#[test]
fn an_unreadable_claim_is_taken_over_after_one_unchanged_lease() {
    let dir = tempfile::tempdir().unwrap();
    let a = Ledger::open(dir.path(), options("a", 300)).unwrap();
    std::fs::write(dir.path().join("claims/x"), b"\0\0garbage").unwrap();
    assert!(
        matches!(a.claim("x").unwrap(), Claimed::Busy),
        "unknown, so not yet"
    );
    let status = a.status().unwrap();
    assert_eq!(status.running + status.stale, 1);
    let start = std::time::Instant::now();
    let claim = loop {
        if let Claimed::Won(claim) = a.claim("x").unwrap() {
            break claim;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never taken over");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(start.elapsed() >= Duration::from_millis(250));
    assert!(claim.taken_from().unwrap().contains("unreadable"));
    claim.done().unwrap();
}

#[test]
fn a_live_holder_on_another_host_keeps_its_claim_past_many_leases() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that a loaded CI machine cannot delay a heartbeat by a whole lease.
    let holder = Ledger::open(dir.path(), options("holder", 1000)).unwrap();
    let thief = Ledger::open(dir.path(), options("thief", 1000)).unwrap();
    let claim = holder.claim("x").unwrap().won().unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        assert!(matches!(thief.claim("x").unwrap(), Claimed::Busy));
        std::thread::sleep(Duration::from_millis(50));
    }
    claim.done().unwrap();
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("item-{i}")).collect()
}

/// Walk `keys` with `walkers` walkers taking turns until none finds a block; returns how many
/// times each key was handed out, and how many blocks were claimed.
fn walk_all(
    ledger: &Ledger,
    keys: &[String],
    walkers: u32,
    mut body: impl FnMut(&str) -> Option<String>,
) -> (std::collections::HashMap<String, u32>, usize) {
    let mut seen = std::collections::HashMap::new();
    let mut walkers: Vec<_> = (0..walkers)
        .map(|w| ledger.for_worker(w).walk(keys.to_vec()).unwrap())
        .collect();
    let mut blocks = 0;
    loop {
        let mut progressed = false;
        for walker in walkers.iter_mut() {
            if let Some(mut block) = walker.next_block().unwrap() {
                progressed = true;
                blocks += 1;
                for &i in block.items().to_vec().iter() {
                    let key = walker.key(i).to_string();
                    *seen.entry(key.clone()).or_insert(0) += 1;
                    match body(&key) {
                        Some(reason) => block.fail_item(i, &reason),
                        None => block.done_item(i),
                    }
                }
                walker.complete(block).unwrap();
            }
        }
        if !progressed {
            break;
        }
    }
    (seen, blocks)
}

#[test]
fn blocks_cover_a_list_exactly_once_and_record_item_failures() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), "a");
    let keys = keys(1000);
    let (seen, blocks) = walk_all(&ledger, &keys, 3, |k| {
        (k == "item-500").then(|| "diverged".to_string())
    });
    assert_eq!(seen.len(), 1000);
    assert!(seen.values().all(|&n| n == 1), "every item exactly once");
    assert!(blocks < 200, "{blocks} block files for 1000 items");
    let status = ledger.status().unwrap();
    assert_eq!(
        (status.done, status.failed, status.total),
        (999, 1, Some(1000))
    );
    assert_eq!(status.pending, Some(0));
    assert_eq!(
        status.failures[0].key, "item-500",
        "listed under its own key"
    );
    let counts = ledger.counts().unwrap();
    assert_eq!(
        (counts.done, counts.failed, counts.claimed, counts.total),
        (999, 1, 0, Some(1000)),
        "the cheap counts agree with the full status"
    );
}

#[test]
fn retrying_a_failed_block_runs_only_its_failed_items() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), "a");
    let keys = keys(10);
    walk_all(&ledger, &keys, 1, |k| {
        (k == "item-3").then(|| "boom".into())
    });
    let mut retry = options("a", 60_000);
    retry.retry_failed = true;
    let again = Ledger::open(dir.path(), retry).unwrap();
    let (redone, _) = walk_all(&again, &keys, 1, |_| None);
    assert_eq!(redone.keys().collect::<Vec<_>>(), vec!["item-3"]);
    let status = ledger.status().unwrap();
    assert_eq!((status.done, status.failed), (10, 0));
}

#[test]
fn a_grown_list_runs_only_its_new_items() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), "a");
    walk_all(&ledger, &keys(10), 2, |_| None);
    let (ran, _) = walk_all(&ledger, &keys(11), 2, |_| None);
    assert_eq!(ran.keys().collect::<Vec<_>>(), vec!["item-10"]);
    let status = ledger.status().unwrap();
    assert_eq!((status.done, status.total), (11, Some(11)));
}

#[test]
fn a_reordered_list_redoes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), "a");
    let mut keys = keys(50);
    walk_all(&ledger, &keys, 2, |_| None);
    keys.reverse();
    let (ran, _) = walk_all(&ledger, &keys, 2, |_| None);
    assert!(ran.is_empty(), "{ran:?}");
    let status = ledger.status().unwrap();
    assert_eq!((status.done, status.total), (50, Some(50)));
}

#[test]
fn items_done_one_by_one_are_skipped_by_lists_and_the_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path(), "a");
    let keys = keys(20);
    for key in &keys[..10] {
        ledger.claim(key).unwrap().won().unwrap().done().unwrap();
    }
    let (ran, _) = walk_all(&ledger, &keys, 2, |_| None);
    assert_eq!(ran.len(), 10, "only the ten not done alone: {ran:?}");
    for key in &keys {
        assert!(matches!(ledger.claim(key).unwrap(), Claimed::Done), "{key}");
    }
    let other = open(dir.path(), "b");
    assert!(matches!(other.claim("item-15").unwrap(), Claimed::Done));
    assert!(other.all_done(keys.iter().map(String::as_str)).unwrap());
    let status = ledger.status().unwrap();
    assert_eq!((status.done, status.total), (20, Some(20)));
}

#[test]
fn an_item_in_a_live_block_is_busy_for_a_per_item_claim_and_the_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    let b = open(dir.path(), "b");
    let keys = keys(4);
    let held = b.claim("item-2").unwrap().won().unwrap();
    let mut walker = a.walk(keys.clone()).unwrap();
    let block = walker.next_block().unwrap().unwrap();
    let in_block: Vec<String> = block
        .items()
        .iter()
        .map(|&i| walker.key(i).to_string())
        .collect();
    assert!(!in_block.contains(&"item-2".to_string()), "{in_block:?}");
    for key in &in_block {
        assert!(matches!(b.claim(key).unwrap(), Claimed::Busy), "{key}");
    }
    held.done().unwrap();
    walker.release(block).unwrap();
    assert!(
        b.claim(&in_block[0]).unwrap().won().is_some(),
        "released items are free again"
    );
}

#[test]
fn a_ledger_of_format_1_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("FORMAT"), "claim-ledger 1\n").unwrap();
    std::fs::create_dir(dir.path().join("claims")).unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("format 1") && err.contains("cleanup --all"),
        "{err}"
    );
    Ledger::remove_all(dir.path()).unwrap();
    assert!(!dir.path().exists());
}

#[test]
fn status_and_cleanup_see_done_running_stale_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(dir.path(), "a");
    a.claim("done").unwrap().won().unwrap().done().unwrap();
    a.claim("failed")
        .unwrap()
        .won()
        .unwrap()
        .fail("why")
        .unwrap();
    let _running = a.claim("running").unwrap().won().unwrap();
    // A claim from a process of this host that no longer exists: stale at once.
    let mut record = a.claim("stale").unwrap().won().unwrap().record().clone();
    record.pid = u32::MAX - 1;
    std::fs::write(dir.path().join("claims/stale"), record.to_bytes()).unwrap();
    let status = a.status().unwrap();
    assert_eq!(
        (status.done, status.running, status.stale, status.failed),
        (1, 1, 1, 1)
    );
    assert_eq!(status.total, Some(4), "every key claimed alone counts");
    let counts = a.counts().unwrap();
    assert_eq!(
        (counts.done, counts.failed, counts.claimed, counts.total),
        (1, 1, 2, Some(4)),
        "claimed = running + stale"
    );
    let removed = a.cleanup(CleanupScope::default()).unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0].contains("stale"));
    let removed = a
        .cleanup(CleanupScope {
            failed: true,
            all: false,
        })
        .unwrap();
    assert_eq!(removed, vec!["failure record failed".to_string()]);
    let status = a.status().unwrap();
    assert_eq!((status.running, status.stale, status.failed), (1, 0, 0));
}

#[test]
fn a_state_directory_that_cannot_be_created_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let err = Ledger::open(file.join("state"), LedgerOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("plain-file/state"), "{err}");
}

#[test]
fn a_foreign_directory_is_not_mistaken_for_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("FORMAT"), "something else").unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotALedger { .. }), "{err}");
}

#[test]
fn a_full_disk_gives_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(mount)
        .status()
        .expect("run mount (this test needs root to mount a small tmpfs)");
    assert!(status.success(), "mounting a tmpfs needs root");
    let result = std::panic::catch_unwind(|| {
        let ledger = open(&mount.join("state"), "a");
        ledger
            .claim("before")
            .unwrap()
            .won()
            .unwrap()
            .done()
            .unwrap();
        let filler = mount.join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 1 << 20]);
        let mut errors = Vec::new();
        for i in 0..200 {
            match ledger.claim(&format!("k{i}")) {
                Ok(Claimed::Won(c)) => {
                    if let Err(e) = c.done() {
                        errors.push(e.to_string());
                    }
                }
                Ok(_) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        assert!(!errors.is_empty(), "the disk never filled");
        assert!(errors[0].contains("disk is full"), "{}", errors[0]);
        std::fs::remove_file(&filler).unwrap();
        assert!(ledger.is_done("before"), "finished work survived");
        let status = ledger.status().unwrap();
        assert_eq!(status.running + status.stale, 0, "no half-made claims left");
        assert!(ledger.claim("after").unwrap().won().is_some());
    });
    std::process::Command::new("umount")
        .arg(mount)
        .status()
        .unwrap();
    result.unwrap();
}

#[test]
fn cleanup_removes_temporary_files_orphaned_by_a_crash_and_keeps_fresh_ones() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), options("a", 1000)).unwrap();
    // What a process killed between "move the claim to a private name" and "publish it" leaves.
    let tmp = dir.path().join("tmp");
    let orphan = tmp.join("finish-crashed");
    std::fs::write(&orphan, b"{}").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = tmp.join("finish-in-progress");
    std::fs::write(&fresh, b"{}").unwrap();
    let removed = ledger.cleanup(CleanupScope::default()).unwrap();
    assert_eq!(removed, ["orphaned temporary file tmp/finish-crashed"]);
    assert!(!orphan.exists() && fresh.exists());
}

/// Regression: a block that finished between the listing of `blocks/` and the reading of its
/// claim was invisible to the reader, whose next block took its items again.
#[test]
fn walkers_of_four_processes_racing_hand_out_each_item_once() {
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys(3000);
        let seen = std::sync::Mutex::new(std::collections::HashMap::<String, u32>::new());
        std::thread::scope(|s| {
            for p in 0..4 {
                let (dir, keys, seen) = (dir.path(), keys.clone(), &seen);
                s.spawn(move || {
                    let ledger = open(dir, &format!("r{round}p{p}"));
                    let mut walker = ledger.walk(keys).unwrap();
                    loop {
                        while let Some(mut block) = walker.next_block().unwrap() {
                            for i in block.items().to_vec() {
                                let key = walker.key(i).to_string();
                                *seen.lock().unwrap().entry(key).or_insert(0) += 1;
                                block.done_item(i);
                            }
                            walker.complete(block).unwrap();
                        }
                        if !walker.saw_busy() {
                            break;
                        }
                        walker.restart().unwrap();
                    }
                });
            }
        });
        let seen = seen.into_inner().unwrap();
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "round {round}: handed out twice: {twice:?}"
        );
        assert_eq!(seen.len(), 3000, "round {round}: items missed");
    }
}

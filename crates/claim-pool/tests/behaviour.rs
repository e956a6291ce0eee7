//! claim-pool's behaviours, each stated so it can fail.

use claim_pool::{Failure, Halt, Pool};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn map_keeps_input_order() {
    let items: Vec<u64> = (0..10_000).collect();
    let out = Pool::new(2)
        .map(&items, |i, x| {
            if i % 97 == 0 {
                std::thread::yield_now()
            }
            Ok::<_, String>(x * 3)
        })
        .unwrap();
    assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
}

#[test]
fn map_unordered_returns_every_index_once() {
    let items: Vec<u32> = (0..5000).collect();
    let mut out = Pool::new(2)
        .map_unordered(&items, |_, x| Ok::<_, String>(*x))
        .unwrap();
    out.sort();
    assert_eq!(out.len(), 5000);
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, &(j, v))| i == j && v as usize == i)
    );
}

#[test]
fn imap_never_has_more_than_max_active_tasks_in_flight() {
    let active = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let pulled = AtomicUsize::new(0);
    let seen = Mutex::new(Vec::new());
    let items = (0..200).inspect(|_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    });
    let errors = Pool::new(2).imap(
        items,
        3,
        |_, x: i32| {
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_micros(200));
            active.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(x)
        },
        |i, r| seen.lock().unwrap().push((i, r)),
    );
    assert!(errors.is_empty());
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 200);
    assert!(
        seen.iter()
            .enumerate()
            .all(|(i, &(j, r))| i == j && r == i as i32),
        "results in order"
    );
}

#[test]
fn init_runs_once_per_worker_and_states_come_back() {
    let inits = AtomicUsize::new(0);
    let items: Vec<u32> = (0..4000).collect();
    let (out, states, insights) = Pool::new(2)
        .map_with_state(
            &items,
            || {
                inits.fetch_add(1, Ordering::SeqCst);
                0usize
            },
            |count, _, x| {
                *count += 1;
                Ok::<_, String>(*x)
            },
        )
        .unwrap();
    assert_eq!(out.len(), 4000);
    let n = inits.load(Ordering::SeqCst);
    assert!((1..=2).contains(&n), "init ran {n} times for 2 workers");
    assert_eq!(
        states.iter().sum::<usize>(),
        4000,
        "every task saw its worker's state"
    );
    assert_eq!(
        insights.workers.iter().map(|w| w.tasks).sum::<usize>(),
        4000
    );
}

#[test]
fn imap_reports_errors_and_panics_at_their_position_in_the_whole_input() {
    let errors = Pool::new(2).imap(
        0..20,
        3,
        |i, x: i32| match x {
            7 => Err(format!("bad {i}")),
            13 => panic!("boom {i}"),
            _ => Ok(x),
        },
        |_, _| {},
    );
    let seen: Vec<(usize, String)> = errors
        .iter()
        .map(|e| (e.index, e.failure.to_string()))
        .collect();
    assert_eq!(
        seen,
        [(7, "bad 7".to_string()), (13, "boom 13".to_string())],
        "batches of 3: 7 and 13 are each the second of theirs (a panic once kept 1)"
    );
}

#[test]
fn a_panicking_task_is_reported_with_its_index_and_the_rest_run() {
    let ran = AtomicUsize::new(0);
    let items: Vec<u32> = (0..100).collect();
    let errors = Pool::new(2)
        .map(&items, |_, &x| {
            ran.fetch_add(1, Ordering::SeqCst);
            if x == 42 {
                panic!("item 42 exploded")
            }
            Ok::<_, String>(x)
        })
        .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].index, 42);
    assert!(
        matches!(&errors[0].failure, Failure::Panicked(m) if m.contains("exploded")),
        "{}",
        errors[0]
    );
    assert_eq!(
        ran.load(Ordering::SeqCst),
        100,
        "halt=never runs everything"
    );
}

#[test]
fn panics_and_errors_in_one_chunk_each_keep_their_own_index() {
    let ran = AtomicUsize::new(0);
    let items: Vec<u32> = (0..100).collect();
    let errors = Pool::new(2)
        .chunk_size(100)
        .map(&items, |i, &x| {
            ran.fetch_add(1, Ordering::SeqCst);
            match x {
                0 | 3 | 4 | 99 => panic!("boom at {i}"),
                7 => Err(format!("bad {i}")),
                _ => Ok(x),
            }
        })
        .unwrap_err();
    let seen: Vec<(usize, bool, String)> = errors
        .into_iter()
        .map(|e| {
            let panicked = matches!(e.failure, Failure::Panicked(_));
            (e.index, panicked, e.failure.to_string())
        })
        .collect();
    let expected = [(0, true), (3, true), (4, true), (7, false), (99, true)];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((index, panicked, message), (want, want_panic)) in seen.iter().zip(expected) {
        assert_eq!((*index, *panicked), (want, want_panic));
        assert!(message.ends_with(&format!(" {want}")), "{message}");
    }
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn a_chunk_runs_its_tasks_in_order_on_one_state() {
    let items: Vec<u32> = (0..50).collect();
    let pool = Pool::new(2).chunk_size(50);
    let (out, _, _) = pool
        .map_with_state(
            &items,
            || 0u32,
            |seen, _, &x| {
                *seen += 1;
                Ok::<_, String>((x, *seen))
            },
        )
        .unwrap();
    assert_eq!(out.iter().map(|p| p.0).collect::<Vec<_>>(), items);
    assert_eq!(
        out.last().unwrap().1,
        50,
        "one worker's state saw every task"
    );
}

#[test]
fn halt_on_first_error_stops_taking_tasks() {
    let ran = AtomicUsize::new(0);
    let items: Vec<u32> = (0..1000).collect();
    let pool = Pool::new(1).halt(Halt::OnFirstError);
    let errors = pool
        .map(&items, |_, &x| {
            ran.fetch_add(1, Ordering::SeqCst);
            if x == 10 {
                Err("bad".to_string())
            } else {
                Ok(x)
            }
        })
        .unwrap_err();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        11,
        "serial mode stops right after the error"
    );
    assert_eq!(errors[0].index, 10);
    assert!(errors[1..].iter().all(|e| e.failure == Failure::NotRun));
    assert_eq!(errors[1].to_string(), "task 11: not run: the pool halted");
    let counted: usize = pool.insights().workers.iter().map(|w| w.tasks).sum();
    assert_eq!(
        counted, 11,
        "insights count the tasks that ran, not the halted ones"
    );
}

#[test]
fn halt_after_n_errors() {
    let ran = AtomicUsize::new(0);
    let items: Vec<u32> = (0..1000).collect();
    let _ = Pool::new(1)
        .halt(Halt::AfterErrors(3))
        .map(&items, |_, &x| {
            ran.fetch_add(1, Ordering::SeqCst);
            if x % 10 == 0 { Err("bad") } else { Ok(x) }
        });
    assert_eq!(ran.load(Ordering::SeqCst), 21);
}

#[test]
fn slow_tasks_are_reported_as_timed_out() {
    let items = [0u64, 30, 0];
    let errors = Pool::new(1)
        .timeout(std::time::Duration::from_millis(10))
        .map(&items, |_, &ms| {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok::<_, String>(())
        })
        .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].index, 1);
    assert!(
        matches!(errors[0].failure, Failure::TimedOut { .. }),
        "{}",
        errors[0]
    );
    assert!(errors[0].to_string().contains(": timed out after 0.0"));
}

#[test]
fn nested_maps_use_the_same_threads() {
    let threads = Mutex::new(std::collections::HashSet::new());
    let pool = Pool::new(2);
    let outer: Vec<u32> = (0..8).collect();
    let sums = pool
        .map(&outer, |_, &x| {
            let inner: Vec<u32> = (0..100).collect();
            let v = pool
                .map(&inner, |_, &y| {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    Ok::<_, String>(x + y)
                })
                .unwrap();
            Ok::<_, String>(v.iter().sum::<u32>())
        })
        .unwrap();
    assert_eq!(sums[0], 4950);
    assert!(
        threads.into_inner().unwrap().len() <= 2,
        "nested map used extra threads"
    );
}

#[test]
fn serial_mode_runs_on_the_calling_thread() {
    let me = std::thread::current().id();
    let items = [1, 2, 3];
    let out = Pool::new(1)
        .map(&items, |_, x| {
            assert_eq!(std::thread::current().id(), me);
            Ok::<_, String>(x + 1)
        })
        .unwrap();
    assert_eq!(out, vec![2, 3, 4]);
}

#[test]
fn for_each_claimed_processes_each_item_once_across_two_pools() {
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        claim_core::Ledger::open(dir.path(), claim_core::LedgerOptions::default()).unwrap();
    let items: Vec<u32> = (0..500).collect();
    let count = AtomicUsize::new(0);
    let a = Pool::new(2);
    let b = Pool::new(2);
    let (x, y) = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            a.for_each_claimed(
                &ledger,
                &items,
                |i| format!("i{i}"),
                |_| {
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>(())
                },
            )
            .unwrap()
        });
        let hb = s.spawn(|| {
            b.for_each_claimed(
                &ledger,
                &items,
                |i| format!("i{i}"),
                |&i| {
                    if i == 7 {
                        Err("seven")
                    } else {
                        count.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                },
            )
            .unwrap()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(x + y, 500);
    let status = ledger.status().unwrap();
    assert_eq!(status.done + status.failed, 500);
}

/// Progress is reported per chunk (a per-task counter is a cache line every core fights over):
/// the counts rise by whole chunks, never repeat, and end at the total.
#[test]
fn progress_counts_every_task_up_to_the_total_chunk_by_chunk() {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let pool = Pool::new(2)
        .chunk_size(10)
        .on_progress(move |finished, total| {
            record.lock().unwrap().push((finished, total));
        });
    let items: Vec<u32> = (0..500).collect();
    pool.map(&items, |_, &x| Ok::<_, String>(x)).unwrap();
    let mut calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 50, "one call per chunk of 10");
    assert!(calls.iter().all(|&(_, total)| total == 500));
    calls.sort();
    let finished: Vec<usize> = calls.iter().map(|c| c.0).collect();
    assert_eq!(
        finished,
        (1..=50).map(|c| c * 10).collect::<Vec<_>>(),
        "each count once"
    );
}

#[test]
fn insights_add_up_over_maps_and_name_the_slowest_task() {
    let pool = Pool::new(2).task_times(true);
    let items: Vec<u64> = (0..40).collect();
    for _ in 0..2 {
        pool.map(&items, |i, _| {
            let pause = if i == 13 { 250 } else { 1 };
            std::thread::sleep(Duration::from_millis(pause));
            Ok::<_, String>(())
        })
        .unwrap();
    }
    let totals = pool.insights();
    assert_eq!(totals.workers.iter().map(|w| w.tasks).sum::<usize>(), 80);
    assert_eq!(totals.slowest[0].0, 13, "{:?}", totals.slowest);
    assert_eq!(totals.slowest[1].0, 13, "both maps' slow task");
    for w in &totals.workers {
        assert!(
            w.busy + w.idle + w.init <= totals.wall + Duration::from_millis(5),
            "{w:?}"
        );
    }
    let busy: Duration = totals.workers.iter().map(|w| w.busy).sum();
    assert!(
        busy >= Duration::from_millis(2 * (250 + 39)),
        "the tasks' time is busy time: {busy:?}"
    );
}

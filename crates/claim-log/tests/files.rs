//! The log files: nothing lost under load, retention bounded, lines found by item.

use claim_log::{LogConfig, Rotation, file_writer, lines_about, list_files};
use tracing_subscriber::prelude::*;

fn config(dir: &std::path::Path, keep: usize, prefix: &str) -> LogConfig {
    LogConfig {
        dir: dir.to_path_buf(),
        host: "h".into(),
        verbosity: 0,
        keep,
        rotation: Rotation::DAILY,
        prefix: Some(prefix.into()),
    }
}

#[test]
fn two_hundred_thousand_lines_logged_quickly_are_all_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _) = file_writer(&config(dir.path(), 3, "h.1.1")).unwrap();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer),
    );
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..200_000 {
            tracing::info!(key = ?format!("item-{}", i % 1000), "line {i}");
        }
    });
    let files = list_files(dir.path()).unwrap();
    let lines: usize = files.iter().map(|f| f.lines).sum();
    assert_eq!(lines, 200_000, "lines were dropped");
    let text = std::fs::read_to_string(&files[0].path).unwrap();
    assert!(text.contains("line 0 ") && text.contains("line 199999 "));
    let about = lines_about(dir.path(), "item-7").unwrap();
    assert_eq!(
        about.len(),
        200,
        "exactly the lines of item-7 (not item-70..79)"
    );
}

#[test]
fn rotation_keeps_at_most_n_files_of_an_instance() {
    let dir = tempfile::tempdir().unwrap();
    for day in 1..=9 {
        std::fs::write(
            dir.path().join(format!("h.2.2.2026-10-0{day}.log")),
            "old\n",
        )
        .unwrap();
    }
    let (writer, _) = file_writer(&config(dir.path(), 3, "h.2.2")).unwrap();
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(writer));
    tracing::subscriber::with_default(subscriber, || tracing::info!("new"));
    let count = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(count <= 3, "{count} files kept, expected at most 3");
    assert!(
        list_files(dir.path())
            .unwrap()
            .iter()
            .any(|f| f.lines == 1 && std::fs::read_to_string(&f.path).unwrap().contains("new"))
    );
}

#[test]
fn dotted_host_names_are_read_whole_from_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let name = "node01.cluster.local.4242.1700000000.2026-11-23.log";
    std::fs::write(dir.path().join(name), "2026-11-23T10:00:00Z INFO hello\n").unwrap();
    std::fs::write(dir.path().join("n2.77.1700000001.2026-11-23.log"), "x\n").unwrap();
    let files = list_files(dir.path()).unwrap();
    let found: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.host.as_str(), f.pid.as_str()))
        .collect();
    assert_eq!(found, [("n2", "77"), ("node01.cluster.local", "4242")]);
}

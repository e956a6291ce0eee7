//! The reference is the code's doc comments: every ```` ```rhai ```` example in them (and in
//! README.md) must pass `claimsh check`, and the watershed docs must quote the real defaults.

use super::reference::{self, Function};
use crate::script::{problems, reference_engine};
use rhai::Engine;

/// What `claimsh check` says about a script's text: its compile error, or each call no signature
/// fits; empty when it checks.
fn check_text(text: &str, engine: &Engine) -> Vec<String> {
    match engine.compile(text) {
        Err(e) => vec![e.to_string()],
        Ok(ast) => problems(&ast, engine)
            .into_iter()
            .map(|(pos, problem)| format!("{pos}: {problem}"))
            .collect(),
    }
}

fn every_function() -> Vec<(&'static str, Function)> {
    reference::by_domain()
        .into_iter()
        .flat_map(|(domain, functions)| functions.into_iter().map(move |f| (domain, f)))
        .collect()
}

#[test]
fn every_example_in_the_docs_passes_check() {
    let engine = reference_engine().unwrap();
    let mut failures = Vec::new();
    let mut examples = 0;
    for (domain, f) in every_function() {
        for example in f.examples() {
            examples += 1;
            for problem in check_text(&example, &engine) {
                failures.push(format!("{domain}: {}: {problem}\n{example}", f.signature()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(examples >= 40, "only {examples} examples in the docs");
}

#[test]
fn every_rhai_block_of_the_readme_passes_check() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let blocks = reference::rhai_blocks(&readme);
    assert!(!blocks.is_empty(), "README.md has no ```rhai blocks");
    let engine = reference_engine().unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let problems = check_text(block, &engine);
        assert!(
            problems.is_empty(),
            "README.md's rhai block {} does not check: {problems:?}\n{block}",
            i + 1
        );
    }
}

#[test]
fn every_function_has_a_doc_and_every_domain_a_function() {
    for (domain, functions) in reference::by_domain() {
        assert!(!functions.is_empty(), "domain {domain} has no functions");
        for f in functions {
            assert!(
                !f.summary().is_empty(),
                "{domain}: {} has no doc comment",
                f.signature()
            );
        }
    }
}

/// The JSON reference lists every function the engine registers beyond Rhai's own, with types.
#[test]
fn the_json_reference_covers_every_registered_function() {
    let engine = reference_engine().unwrap();
    let listed: Vec<String> = every_function().iter().map(|(_, f)| f.types()).collect();
    let registered = engine.collect_fn_metadata(None, Function::from_info, false);
    for f in &registered {
        assert!(
            listed.contains(&f.types()),
            "{} is not in the reference",
            f.types()
        );
    }
    assert_eq!(listed.len(), registered.len());
    let json = reference::json();
    let claim = json
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "claim" && f["params"].as_array().unwrap().len() == 2)
        .unwrap();
    assert_eq!(claim["params"][1]["name"], "output");
    assert_eq!(claim["params"][1]["type"], "String");
    assert_eq!(claim["returns"], "bool");
    assert!(claim["doc"].as_str().unwrap().contains("output file"));
}

/// The reference quotes the watershed defaults; they must be the ones the code uses.
#[test]
fn the_watershed_reference_quotes_the_real_defaults() {
    let about: String = every_function()
        .iter()
        .filter(|(_, f)| f.name == "watershed")
        .map(|(_, f)| f.doc.clone())
        .collect::<Vec<_>>()
        .join("\n");
    let shape = claim_image::WatershedOptions::default();
    let intensity = claim_image::WatershedOptions::by_intensity();
    for quoted in [
        format!(
            "sigma {}, min_distance {}, h {} px",
            shape.sigma, shape.min_distance, shape.h
        ),
        format!("default {} =", intensity.h),
        format!(
            "sigma {},\nmin_distance {}",
            intensity.sigma, intensity.min_distance
        ),
    ] {
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat(&about).contains(&flat(&quoted)),
            "{quoted:?} not in {about:?}"
        );
    }
}

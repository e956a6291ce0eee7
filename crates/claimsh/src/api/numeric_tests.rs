//! Tests of the numeric building blocks, through scripts: the statistics against numpy's values
//! (fixtures from `scripts/fixtures/numeric_fixtures.py`, compared bit for bit), the generator's
//! sequences pinned, `grid`'s order pinned, and errors for bad input.

use super::*;
use rhai::Scope;
use serde_json::Value;

fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.register_global_module(exported_module!(numeric_functions).into());
    engine
}

/// Evaluate `script` with `a` bound to `values`.
fn eval_with(engine: &Engine, values: &Array, script: &str) -> Dynamic {
    let mut scope = Scope::new();
    scope.push("a", values.clone());
    engine
        .eval_with_scope::<Dynamic>(&mut scope, script)
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Fixture text as a script value: ints stay ints (their repr has no `.` or `e`).
fn value(text: &Value) -> Dynamic {
    let text = text.as_str().expect("fixture numbers are strings");
    match text.parse::<INT>() {
        Ok(i) => i.into(),
        Err(_) => Dynamic::from_float(text.parse::<f64>().expect("a float")),
    }
}

fn float(text: &Value) -> f64 {
    value(text)
        .as_float()
        .or_else(|_| value(text).as_int().map(|i| i as f64))
        .unwrap()
}

fn as_f64(x: &Dynamic) -> f64 {
    x.as_float()
        .or_else(|_| x.as_int().map(|i| i as f64))
        .unwrap_or_else(|_| panic!("not a number: {x:?}"))
}

/// Same bits (numpy's answer to the last digit), reported with both values.
fn assert_same(what: &str, got: f64, want: f64) {
    assert!(
        got.to_bits() == want.to_bits(),
        "{what}: got {got:?}, numpy {want:?}"
    );
}

fn fixtures() -> Value {
    serde_json::from_str(include_str!("../../tests/fixtures/numeric.json")).unwrap()
}

#[test]
fn statistics_equal_numpys_to_the_bit() {
    let engine = engine();
    let fixtures = fixtures();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() > 15, "the fixture has its cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let values: Array = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(value)
            .collect();
        let got = |script: &str| as_f64(&eval_with(&engine, &values, script));
        assert_same(&format!("{name} sum"), got("sum(a)"), float(&case["sum"]));
        assert_same(
            &format!("{name} mean"),
            got("mean(a)"),
            float(&case["mean"]),
        );
        assert_same(&format!("{name} std"), got("std(a)"), float(&case["std"]));
        if !case["std1"].is_null() {
            assert_same(
                &format!("{name} std1"),
                got("std(a, 1)"),
                float(&case["std1"]),
            );
        }
        assert_same(
            &format!("{name} median"),
            got("median(a)"),
            float(&case["median"]),
        );
        assert_same(
            &format!("{name} min"),
            got("min_of(a)"),
            float(&case["min"]),
        );
        assert_same(
            &format!("{name} max"),
            got("max_of(a)"),
            float(&case["max"]),
        );
        for pair in case["quantiles"].as_array().unwrap() {
            let q = float(&pair[0]);
            assert_same(
                &format!("{name} quantile {q}"),
                got(&format!("quantile(a, {q:?})")),
                float(&pair[1]),
            );
        }
    }
}

#[test]
fn linspace_equals_numpys_to_the_bit() {
    let engine = engine();
    for case in fixtures()["linspace"].as_array().unwrap() {
        let (a, b, n) = (
            float(&case["a"]),
            float(&case["b"]),
            case["n"].as_i64().unwrap(),
        );
        let got: Array = engine
            .eval(&format!("linspace({a:?}, {b:?}, {n})"))
            .unwrap();
        let want: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(float)
            .collect();
        assert_eq!(got.len(), want.len(), "linspace({a}, {b}, {n})");
        for (g, w) in got.iter().zip(&want) {
            assert_same(&format!("linspace({a}, {b}, {n})"), as_f64(g), *w);
        }
    }
}

#[test]
fn sum_of_ints_is_an_int_and_overflow_is_an_error() {
    let engine = engine();
    assert_eq!(engine.eval::<INT>("sum([1, 2, 3, 4])").unwrap(), 10);
    let err = engine
        .eval::<Dynamic>(&format!("sum([{}, 1])", INT::MAX))
        .unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
}

/// The generator's outputs for fixed seeds. These are the ledger-independent promise "the same
/// seed gives the same numbers everywhere": a change of algorithm or crate version that moves
/// them must be deliberate (and noted for users, whose bootstrap results would change).
#[test]
fn rng_sequences_are_pinned() {
    let engine = engine();
    let floats: Array = engine
        .eval("let r = rng(42); [r.float(), r.float(), r.float()]")
        .unwrap();
    let floats: Vec<f64> = floats.iter().map(as_f64).collect();
    assert_eq!(floats, GOLDEN_FLOATS, "rng(42).float() x3");
    let ints: Array = engine
        .eval("let r = rng(7); let out = []; for i in 0..8 { out.push(r.int(0, 100)); } out")
        .unwrap();
    let ints: Vec<INT> = ints.iter().map(|x| x.as_int().unwrap()).collect();
    assert_eq!(ints, GOLDEN_INTS, "rng(7).int(0, 100) x8");
    let normal = as_f64(&engine.eval::<Dynamic>("rng(1).normal(10.0, 2.0)").unwrap());
    assert_eq!(normal, GOLDEN_NORMAL, "rng(1).normal(10, 2)");
    let sample: Array = engine
        .eval("resample([10, 20, 30, 40, 50], rng(3))")
        .unwrap();
    let sample: Vec<INT> = sample.iter().map(|x| x.as_int().unwrap()).collect();
    assert_eq!(sample, GOLDEN_RESAMPLE, "resample(.., rng(3))");
}

// Recorded from rand_chacha 0.9.0, rand 0.9.5, rand_distr 0.5.1 (Cargo.lock).
const GOLDEN_FLOATS: [f64; 3] = [0.6818961923066714, 0.950275407672484, 0.4275164028565197];
const GOLDEN_INTS: [INT; 8] = [15, 16, 70, 72, 60, 35, 8, 84];
const GOLDEN_NORMAL: f64 = 9.530305882888157;
const GOLDEN_RESAMPLE: [INT; 5] = [10, 40, 40, 10, 50];

#[test]
fn a_generator_is_shared_by_its_copies_and_independent_of_others() {
    let engine = engine();
    // resample(a, r) gets a copy of r, yet advances it: two calls give different samples.
    let two: Array = engine
        .eval("let r = rng(5); let d = [1, 2, 3, 4, 5, 6, 7, 8]; [resample(d, r), resample(d, r)]")
        .unwrap();
    assert_ne!(two[0].to_string(), two[1].to_string());
    // The same seed gives the same sequence in a fresh generator.
    let same: bool = engine
        .eval("let a = rng(11); let b = rng(11); a.float() == b.float() && a.int(0, 1000) == b.int(0, 1000)")
        .unwrap();
    assert!(same);
}

#[test]
fn draws_stay_in_their_ranges() {
    let engine = engine();
    let ok: bool = engine
        .eval(
            "let r = rng(8); let ok = true;
             for i in 0..2000 {
                 let f = r.float(); let k = r.int(-3, 4);
                 ok = ok && f >= 0.0 && f < 1.0 && k >= -3 && k < 4;
                 ok = ok && [7, 8, 9].contains(r.choice([7, 8, 9]));
             }
             ok",
        )
        .unwrap();
    assert!(ok);
    // 20 000 normal draws: mean and sd within 5 standard errors of the asked ones.
    let (m, s): (f64, f64) = {
        let a: Array = engine
            .eval("let r = rng(2); let x = []; for i in 0..20000 { x.push(r.normal(3.0, 0.5)); } [mean(x), std(x)]")
            .unwrap();
        (as_f64(&a[0]), as_f64(&a[1]))
    };
    assert!((m - 3.0).abs() < 5.0 * 0.5 / (20000f64).sqrt(), "mean {m}");
    assert!((s - 0.5).abs() < 0.02, "sd {s}");
}

#[test]
fn shuffle_permutes_in_place() {
    let engine = engine();
    let a: Array = engine
        .eval("let a = []; for i in 0..50 { a.push(i); } shuffle(a, rng(4)); a")
        .unwrap();
    let mut seen: Vec<INT> = a.iter().map(|x| x.as_int().unwrap()).collect();
    assert_ne!(seen, (0..50).collect::<Vec<INT>>(), "the order changed");
    seen.sort();
    assert_eq!(seen, (0..50).collect::<Vec<INT>>(), "the same elements");
}

/// The documented order: keys sorted, the last key varies fastest.
#[test]
fn grid_order_is_pinned() {
    let engine = engine();
    let g: Array = engine
        .eval("grid(#{growth: [0.1, 0.2], capacity: [50, 100, 200], a: [true]})")
        .unwrap();
    let got: Vec<String> = g.iter().map(|p| p.to_string()).collect();
    let mut want = Vec::new();
    for capacity in [50, 100, 200] {
        for growth in ["0.1", "0.2"] {
            want.push(format!(
                "#{{\"a\": true, \"capacity\": {capacity}, \"growth\": {growth}}}"
            ));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let engine = engine();
    for (script, says) in [
        ("mean([])", "empty"),
        ("sum([])", "empty"),
        ("std([])", "empty"),
        ("median([])", "empty"),
        ("quantile([], 0.5)", "empty"),
        ("min_of([])", "empty"),
        ("max_of([])", "empty"),
        ("mean([1, \"x\"])", "element 1 is string"),
        ("std([1.0], 1)", "ddof"),
        ("std([1.0, 2.0], -1)", "ddof"),
        ("quantile([1, 2], 1.5)", "not in [0, 1]"),
        ("quantile([1, 2], \"x\")", "expected a number"),
        ("linspace(0, 1, -1)", "negative"),
        ("linspace(0, 1, 100000000)", "limit"),
        ("rng(1).int(5, 5)", "empty"),
        ("rng(1).normal(0.0, -1.0)", "normal"),
        ("rng(1).choice([])", "empty"),
        ("resample([], rng(1))", "empty"),
        ("grid(#{})", "no axes"),
        ("grid(#{a: 1})", "must be an array"),
        ("grid(#{a: [], b: [1]})", "no values"),
        (
            "grid(#{a: linspace(0, 1, 5000), b: linspace(0, 1, 5000)})",
            "limit",
        ),
    ] {
        let err = engine.eval::<Dynamic>(script).unwrap_err().to_string();
        assert!(err.contains(says), "{script}: {err:?} should say {says:?}");
    }
}

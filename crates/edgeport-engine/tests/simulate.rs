//! The simulator through the engine: golden reports per fixture and device, and the properties
//! any latency model must have.
//!
//! Goldens live in tests/golden/simulate/<fixture>.txt; `UPDATE_GOLDEN=1 cargo test -p
//! edgeport-engine --test simulate` rewrites them (review the diff: a recalibration or a
//! profile edit shows up there).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;

use edgeport_engine::ConvertOptions;
use edgeport_engine::simulate::{SimPrecision, SimulateOptions, simulate};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const FIXTURES: &[&str] = &["mobilenetv2", "resnet", "transformer", "mlp_gelu", "ops_misc"];

fn golden_text(fixture: &str) -> String {
    let model = std::fs::read(repo().join(format!("tests/fixtures/{fixture}/model.onnx"))).expect("fixture exists");
    let mut out = String::new();
    for precision in [SimPrecision::Fp32, SimPrecision::Fp16, SimPrecision::Int8] {
        let opts = SimulateOptions { precision: Some(precision), no_placement: true, ..Default::default() };
        let r = simulate(&model, &ConvertOptions::default(), &opts).expect("simulates");
        let _ = writeln!(out, "# {fixture} {} ({} layers, {} FLOPs, {} params)", precision.name(), r.model.layers, r.model.flops, r.model.params);
        for x in &r.results {
            let _ = writeln!(
                out,
                "{:<24} {:<4} {:<16} {:<5} {:>10.4} ms {:>11} B peak {:>10} B model  unit {:>3} fallback {:>3} partitions {}{}",
                x.profile,
                x.unit.name(),
                x.path,
                x.executed_precision.name(),
                x.latency_ms,
                x.peak_memory_bytes,
                x.model_size_bytes,
                x.layers_on_unit,
                x.layers_on_fallback,
                x.partitions,
                if x.fallback_ops.is_empty() { String::new() } else { format!("  falls back: {:?}", x.fallback_ops) }
            );
        }
        for s in &r.skipped {
            let _ = writeln!(out, "{:<24} {:<4} skipped: {}", s.profile, s.unit.name(), s.reason);
        }
    }
    out
}

#[test]
fn reports_match_the_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for fixture in FIXTURES {
        let got = golden_text(fixture);
        let path = repo().join(format!("tests/golden/simulate/{fixture}.txt"));
        if update {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let first = got.lines().zip(want.lines()).find(|(g, w)| g != w);
            failures.push(format!("{fixture}: differs from {} (first: {first:?}); UPDATE_GOLDEN=1 rewrites it", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn same_model_same_report() {
    let model = std::fs::read(repo().join("tests/fixtures/resnet/model.onnx")).expect("fixture");
    let opts = SimulateOptions { profiles: vec!["pixel8".into(), "iphone15pro".into()], ..Default::default() };
    let a = serde_json::to_string(&simulate(&model, &ConvertOptions::default(), &opts).expect("ok")).expect("json");
    let b = serde_json::to_string(&simulate(&model, &ConvertOptions::default(), &opts).expect("ok")).expect("json");
    assert_eq!(a, b);
}

#[test]
fn unknown_profile_and_budget_are_option_errors() {
    let model = std::fs::read(repo().join("tests/fixtures/mlp_gelu/model.onnx")).expect("fixture");
    for opts in [
        SimulateOptions { profiles: vec!["nokia3310".into()], ..Default::default() },
        SimulateOptions { budget: Some("forever".into()), ..Default::default() },
    ] {
        let e = simulate(&model, &ConvertOptions::default(), &opts).expect_err("refused");
        assert_eq!(e.code(), "invalid_options", "{e}");
    }
}

#[test]
fn bad_model_is_an_invalid_model_error() {
    let e = simulate(b"\x89PNG\r\n\x1a\n", &ConvertOptions::default(), &SimulateOptions::default()).expect_err("refused");
    assert_eq!(e.code(), "invalid_model", "{e}");
}

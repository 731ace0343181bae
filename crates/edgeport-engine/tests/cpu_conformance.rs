//! The CPU runtime against onnxruntime's outputs (tests/fixtures/*/expected.npz, and the
//! PP-OCR references cached by `cargo xtask test`): max |got - ref| <= 1e-4 * max(1, max|ref|).
//! The oracle suite (tests/oracles/test_runtime.py) runs the same comparison through the CLI.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edgeport_engine::npz::read_npz;
use edgeport_engine::runtime::{self, RunOptions};

const TOLERANCE: f64 = 1e-4;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(name: &str, model: &Path, input: &Path, expected: &Path, input_shapes: BTreeMap<String, Vec<usize>>) {
    let bytes = std::fs::read(model).unwrap();
    let inputs = read_npz(&std::fs::read(input).unwrap()).unwrap();
    let expected = read_npz(&std::fs::read(expected).unwrap()).unwrap();
    let mut runner = runtime::load(&bytes, &RunOptions { input_shapes, ..RunOptions::default() }).unwrap();
    let got = runner.run(&inputs).unwrap();
    assert!(got.warnings.is_empty(), "{name}: {:?}", got.warnings);
    let agreement = runtime::agreement(&expected, &got.outputs);
    assert_eq!(agreement.len(), expected.len(), "{name}: outputs {:?}", got.outputs.keys().collect::<Vec<_>>());
    for a in agreement {
        let bound = TOLERANCE * a.reference_max_abs.max(1.0);
        println!("{name}/{}: max abs error {:.3e} (bound {bound:.1e})", a.output, a.max_abs_error);
        assert!(a.max_abs_error <= bound, "{name}/{}: max abs error {} > {bound}", a.output, a.max_abs_error);
    }
}

#[test]
fn fixtures_match_onnxruntime() {
    for name in ["mobilenetv2", "resnet", "mlp_gelu", "transformer", "ops_misc"] {
        let dir = repo().join("tests/fixtures").join(name);
        check(name, &dir.join("model.onnx"), &dir.join("input.npz"), &dir.join("expected.npz"), BTreeMap::new());
    }
}

/// The PP-OCR models when `cargo xtask test` has cached them (the oracle suite always runs
/// them through the CLI).
#[test]
fn ppocr_matches_onnxruntime() {
    let cache = std::env::var_os("EDGEPORT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/edgeport")))
        .unwrap_or_default()
        .join("ppocr");
    let models = [
        ("det", "ch_PP-OCRv4_det_infer.onnx"),
        ("rec", "ch_PP-OCRv4_rec_infer.onnx"),
        ("cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
    ];
    for (short, file) in models {
        let model = cache.join("models").join(file);
        let reference = cache.join("reference");
        if !model.exists() {
            eprintln!("skipping ppocr_{short}: {} not cached", model.display());
            continue;
        }
        let input = reference.join(format!("{short}_input.npz"));
        let inputs = read_npz(&std::fs::read(&input).unwrap()).unwrap();
        let shapes = inputs.iter().map(|(k, t)| (k.clone(), t.shape().to_vec())).collect();
        check(&format!("ppocr_{short}"), &model, &input, &reference.join(format!("{short}_expected.npz")), shapes);
    }
}

//! Import every committed fixture model (`tests/fixtures/*/model.onnx`) and, when they are in
//! the cache, the PP-OCR models: each must import with no unsupported op and validate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use edgeport_onnx::{import, ImportOptions, Imported};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(path: &Path, shapes: &[(&str, &[usize])]) -> Imported {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut opts = ImportOptions::default();
    for (name, dims) in shapes {
        opts.input_shapes.insert(name.to_string(), dims.to_vec());
    }
    let m = import(&bytes, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    m.graph.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!m.graph.nodes.is_empty());
    // Every node keeps a name and its source op; outputs keep their ONNX names.
    for n in &m.graph.nodes {
        assert!(!n.name.is_empty() && !n.source_op.is_empty(), "{}: unnamed node", path.display());
    }
    let names: Vec<String> = m.graph.outputs.iter().map(|&o| m.graph.value(o).name.clone()).collect();
    assert_eq!(names, onnx_output_names(&bytes), "{}", path.display());
    m
}

fn onnx_output_names(bytes: &[u8]) -> Vec<String> {
    use prost::Message;
    let m = edgeport_onnx::pb::ModelProto::decode(bytes).unwrap();
    m.graph.unwrap().output.into_iter().map(|o| o.name).collect()
}

/// Expected output shapes of one fixture.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a [usize])]);

#[test]
fn fixture_models_import() {
    let dir = workspace_root().join("tests/fixtures");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    entries.sort();
    for sub in entries {
        let model = sub.join("model.onnx");
        if model.is_file() {
            let m = check(&model, &[]);
            eprintln!("{}: {} nodes", model.display(), m.graph.nodes.len());
            seen += 1;
        }
    }
    eprintln!("{seen} fixture models imported");
}

#[test]
fn fixture_output_shapes() {
    let root = workspace_root().join("tests/fixtures");
    let expect: &[Expected] = &[
        ("mobilenetv2", &[("logits", &[1, 100])]),
        ("resnet", &[("logits", &[1, 10])]),
        ("mlp_gelu", &[("logits", &[1, 10])]),
        ("transformer", &[("encoded", &[1, 16, 64])]),
        ("ops_misc", &[("seg", &[1, 8, 16, 16]), ("density", &[1, 1, 16, 16]), ("vec", &[1, 1, 4])]),
    ];
    for (name, outputs) in expect {
        let path = root.join(name).join("model.onnx");
        if !path.is_file() {
            continue;
        }
        let m = check(&path, &[]);
        for (out, shape) in *outputs {
            let v = m.graph.outputs.iter().map(|&o| m.graph.value(o)).find(|v| v.name == *out);
            assert_eq!(v.map(|v| v.ty.shape.as_slice()), Some(*shape), "{name}: {out}");
        }
    }
}

fn ppocr_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("EDGEPORT_CACHE") {
        Some(c) => PathBuf::from(c).join("ppocr"),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/edgeport/ppocr"),
    };
    Some(dir)
}

#[test]
fn ppocr_models_import() {
    let Some(dir) = ppocr_dir() else { return };
    let cases: &[(&str, &[usize], &str, &[usize])] = &[
        ("ch_PP-OCRv4_det_infer.onnx", &[1, 3, 320, 320], "sigmoid_0.tmp_0", &[1, 1, 320, 320]),
        ("ch_PP-OCRv4_rec_infer.onnx", &[1, 3, 48, 320], "softmax_11.tmp_0", &[1, 40, 6625]),
        ("ch_ppocr_mobile_v2.0_cls_infer.onnx", &[1, 3, 48, 192], "save_infer_model/scale_0.tmp_1", &[1, 2]),
    ];
    for (file, shape, out, out_shape) in cases {
        // The wheel extracts to models/; a flat cache directory works too.
        let path = [dir.join("models").join(file), dir.join(file)].into_iter().find(|p| p.is_file());
        let Some(path) = path else {
            eprintln!("skipping {file}: not in {}", dir.display());
            continue;
        };
        let m = check(&path, &[("x", shape)]);
        let v = m.graph.outputs.iter().map(|&o| m.graph.value(o)).find(|v| v.name == *out);
        assert_eq!(v.map(|v| v.ty.shape.as_slice()), Some(*out_shape), "{file}");
        eprintln!("{file}: {} nodes", m.graph.nodes.len());
    }
}

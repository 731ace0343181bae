//! Tests: structure (read the bytes back with the generated reader) and numerics (run the real
//! LiteRT interpreter through tests/litert_check.py and compare with `reference`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod int8;
mod numeric;
mod reference;
mod structure;

use std::path::{Path, PathBuf};
use std::process::Command;

use edgeport_ir::{DType, Graph, Op, Tensor, TensorData, TensorType, ValueId};
use tract_tflite::tflite;

use crate::{ExportOptions, export};

/// Deterministic pseudo-random floats in [-1, 1).
pub fn det_data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Small graph-building helper.
pub struct G {
    pub g: Graph,
    seed: u64,
}

impl G {
    pub fn new(name: &str) -> G {
        G {
            g: Graph::new(name),
            seed: 1,
        }
    }

    pub fn input_t(&mut self, name: &str, dtype: DType, shape: &[usize]) -> ValueId {
        let v = self
            .g
            .add_value(name, TensorType::new(dtype, shape.to_vec()))
            .unwrap();
        self.g.inputs.push(v);
        v
    }

    pub fn input(&mut self, name: &str, shape: &[usize]) -> ValueId {
        self.input_t(name, DType::F32, shape)
    }

    /// A random float32 constant.
    pub fn weight(&mut self, name: &str, shape: &[usize]) -> ValueId {
        self.seed += 1;
        let n = shape.iter().product();
        let t = Tensor::from_f32(shape.to_vec(), det_data(n, self.seed)).unwrap();
        self.g.add_const(name, t)
    }

    pub fn konst(&mut self, name: &str, t: Tensor) -> ValueId {
        self.g.add_const(name, t)
    }

    pub fn node(&mut self, name: &str, op: Op, inputs: &[ValueId]) -> ValueId {
        self.g.add_node1(name, name, op, inputs.to_vec()).unwrap()
    }

    pub fn nodes(&mut self, name: &str, op: Op, inputs: &[ValueId]) -> Vec<ValueId> {
        self.g
            .add_node(name, name, op, inputs.to_vec(), &[])
            .unwrap()
    }

    pub fn output(&mut self, v: ValueId) {
        self.g.outputs.push(v);
    }

    pub fn finish(self) -> Graph {
        self.g.validate().unwrap();
        self.g
    }
}

pub fn export_ok(g: &Graph) -> Vec<u8> {
    match export(g, &ExportOptions::default()) {
        Ok(b) => b,
        Err(e) => panic!("export of '{}' failed: {e}", g.name),
    }
}

pub fn model(bytes: &[u8]) -> tflite::Model<'_> {
    assert!(
        tflite::model_buffer_has_identifier(bytes),
        "missing TFL3 identifier"
    );
    tflite::root_as_model(bytes).expect("valid flatbuffer")
}

/// Builtin operator names in operator order.
pub fn op_names(bytes: &[u8]) -> Vec<String> {
    let m = model(bytes);
    let codes = m.operator_codes().unwrap();
    let sg = m.subgraphs().unwrap().get(0);
    sg.operators()
        .unwrap()
        .iter()
        .map(|op| format!("{:?}", codes.get(op.opcode_index() as usize).builtin_code()))
        .collect()
}

/// Random inputs for a graph: floats in [-2, 2), integers small and non-negative.
pub fn random_inputs(g: &Graph, seed: u64) -> Vec<Tensor> {
    g.inputs
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let ty = g.ty(i);
            let n = ty.elements();
            let v = det_data(n, seed * 31 + k as u64);
            let data = match ty.dtype {
                DType::F32 => TensorData::F32(v.iter().map(|x| x * 2.0).collect()),
                DType::I32 => TensorData::I32(v.iter().map(|x| ((x + 1.0) * 2.0) as i32).collect()),
                DType::I64 => TensorData::I64(v.iter().map(|x| ((x + 1.0) * 2.0) as i64).collect()),
                DType::Bool => TensorData::Bool(v.iter().map(|x| *x > 0.0).collect()),
                d => panic!("no random data for {d}"),
            };
            Tensor::new(ty.shape.clone(), data).unwrap()
        })
        .collect()
}

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("EDGEPORT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    p.exists().then_some(p)
}

fn numpy_dtype(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F16 => "float16",
        DType::I64 => "int64",
        DType::I32 => "int32",
        DType::I8 => "int8",
        DType::U8 => "uint8",
        DType::Bool => "bool",
    }
}

fn from_bytes(dtype: &str, shape: Vec<usize>, bytes: &[u8]) -> Tensor {
    let data = match dtype {
        "float32" => TensorData::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        "int32" => TensorData::I32(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        "int64" => TensorData::I64(
            bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        "bool" => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        other => panic!("unexpected output dtype {other}"),
    };
    Tensor::new(shape, data).unwrap()
}

/// Run `bytes` with LiteRT (three kernel sets); None when the Python venv is missing.
pub fn litert(
    tag: &str,
    bytes: &[u8],
    g: &Graph,
    inputs: &[Tensor],
) -> Option<Vec<(String, Vec<Tensor>)>> {
    let Some(py) = python() else {
        eprintln!(
            "note: no LiteRT Python venv (set EDGEPORT_PYTHON or create .venv); skipping the numeric check of {tag}"
        );
        return None;
    };
    let dir = std::env::temp_dir().join(format!("edgeport-tflite-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.tflite"), bytes).unwrap();
    let mut manifest = String::new();
    for (k, (&i, t)) in g.inputs.iter().zip(inputs).enumerate() {
        let file = format!("in_{k}.bin");
        std::fs::write(dir.join(&file), t.to_le_bytes()).unwrap();
        let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
        manifest += &format!(
            "input\t{}\t{}\t{}\t{file}\n",
            g.value(i).name,
            numpy_dtype(t.dtype()),
            dims.join(",")
        );
    }
    for &o in &g.outputs {
        manifest += &format!("output\t{}\n", g.value(o).name);
    }
    std::fs::write(dir.join("manifest.tsv"), manifest).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/litert_check.py");
    let run = Command::new(py).arg(script).arg(&dir).output().unwrap();
    assert!(
        run.status.success(),
        "LiteRT failed on {tag} (files kept in {}):\n{}",
        dir.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    let result = std::fs::read_to_string(dir.join("result.tsv")).unwrap();
    let mut modes: Vec<(String, Vec<Tensor>)> = Vec::new();
    for line in result.lines() {
        let p: Vec<&str> = line.split('\t').collect();
        if p[0] == "skipped" {
            eprintln!("note: {tag}: LiteRT {} kernels skipped: {}", p[1], p[2]);
            continue;
        }
        let (mode, dtype, dims, file) = (p[1], p[3], p[4], p[5]);
        let shape: Vec<usize> = dims
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| d.parse().unwrap())
            .collect();
        let t = from_bytes(dtype, shape, &std::fs::read(dir.join(file)).unwrap());
        match modes.iter_mut().find(|(m, _)| m == mode) {
            Some((_, v)) => v.push(t),
            None => modes.push((mode.to_string(), vec![t])),
        }
    }
    if std::env::var_os("EDGEPORT_KEEP_TEST_FILES").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Some(modes)
}

/// Max abs error allowed: 1e-4 * max(1, max |ref|).
pub fn assert_close(tag: &str, what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{tag} {what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{tag} {what}: dtype");
    let (g, w) = (got.to_f32_vec(), want.to_f32_vec());
    let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let tol = 1e-4 * scale;
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let e = (a - b).abs();
        if e > worst || e.is_nan() {
            worst = if e.is_nan() { f32::INFINITY } else { e };
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{tag} {what}: max abs error {worst} > {tol} at {at} (got {}, want {})",
        g[at],
        w[at]
    );
}

/// Export `g`, run it with LiteRT on random inputs and compare with the reference
/// interpreter. Returns the model bytes for structural checks.
pub fn check(g: &Graph) -> Vec<u8> {
    let bytes = export_ok(g);
    let inputs = random_inputs(g, 7);
    let want = reference::run(g, &inputs);
    if let Some(modes) = litert(&g.name, &bytes, g, &inputs) {
        let names: Vec<&str> = modes.iter().map(|(m, _)| m.as_str()).collect();
        assert!(
            names.starts_with(&["xnnpack", "builtin"]),
            "{}: kernel sets run: {names:?}",
            g.name
        );
        for (mode, outs) in &modes {
            assert_eq!(outs.len(), want.len());
            for (k, (got, w)) in outs.iter().zip(&want).enumerate() {
                assert_close(&g.name, &format!("{mode} output {k}"), got, w);
            }
        }
    }
    bytes
}

//! Tests: structure (decode the package back with prost and the blob reader), determinism,
//! unsupported ops and targets, and one coremltools check (its protobuf loader and MIL
//! rebuilder, through tests/coremltools_check.py) over a graph per lowering rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod lowering;
mod precision;
mod structure;

use std::path::{Path, PathBuf};
use std::process::Command;

use edgeport_ir::{DType, Graph, Op, Tensor, TensorType, ValueId};

use crate::proto::{self, DataType};
use crate::{ExportOptions, Package, Precision, Target, export};

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
        self.g.add_const(
            name,
            Tensor::from_f32(shape.to_vec(), det_data(n, self.seed)).unwrap(),
        )
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

pub fn opts(target: Target, precision: Precision) -> ExportOptions {
    ExportOptions {
        target,
        precision,
        ..ExportOptions::default()
    }
}

pub fn export_ok(g: &Graph, o: &ExportOptions) -> Package {
    match export(g, o) {
        Ok(p) => p,
        Err(e) => panic!("export of '{}' failed: {e}", g.name),
    }
}

/// The operations of the program's main block.
pub fn block(m: &proto::Model) -> &proto::Block {
    let Some(proto::model::Type::MlProgram(p)) = &m.r#type else {
        panic!("not an ML Program")
    };
    let f = &p.functions["main"];
    &f.block_specializations[&f.opset]
}

/// Non-const op types in order.
pub fn op_types(p: &Package) -> Vec<String> {
    let m = p.model().unwrap();
    block(&m)
        .operations
        .iter()
        .filter(|o| o.r#type != "const")
        .map(|o| o.r#type.clone())
        .collect()
}

/// The output type (dtype, shape) of a named value.
pub fn value_type(m: &proto::Model, name: &str) -> (DataType, Vec<usize>) {
    for op in &block(m).operations {
        for o in &op.outputs {
            if o.name == name {
                let Some(proto::value_type::Type::TensorType(t)) =
                    o.r#type.as_ref().and_then(|t| t.r#type.as_ref())
                else {
                    panic!("{name} is not a tensor")
                };
                let dims = t
                    .dimensions
                    .iter()
                    .map(|d| match &d.dimension {
                        Some(proto::dimension::Dimension::Constant(c)) => c.size as usize,
                        _ => panic!("non-constant dim"),
                    })
                    .collect();
                return (DataType::try_from(t.data_type).unwrap(), dims);
            }
        }
    }
    panic!("no value {name}")
}

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("EDGEPORT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    p.exists().then_some(p)
}

/// Write packages under a temp dir and check them all with coremltools (spec load, MIL
/// rebuild with type checks, blob reads). Skips (with a note) when the venv or coremltools is
/// missing.
pub fn coremltools_check(tag: &str, packages: &[(String, Package)]) {
    let Some(py) = python() else {
        eprintln!(
            "note: no Python venv (set EDGEPORT_PYTHON or create .venv); skipping the coremltools check of {tag}"
        );
        return;
    };
    let probe = Command::new(&py)
        .args(["-c", "import coremltools"])
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!(
            "note: coremltools is not installed in {}; skipping the coremltools check of {tag}",
            py.display()
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("edgeport-coreml-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut paths = Vec::new();
    for (name, p) in packages {
        let root = dir.join(format!("{name}.mlpackage"));
        for f in &p.files {
            let path = root.join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &f.bytes).unwrap();
        }
        paths.push(root);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/coremltools_check.py");
    let run = Command::new(py).arg(script).args(&paths).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("ok")).collect();
    assert!(
        run.status.success() && failures.is_empty(),
        "coremltools rejected packages of {tag} (kept in {}):\n{}\n{}",
        dir.display(),
        failures.join("\n"),
        String::from_utf8_lossy(&run.stderr)
    );
    if std::env::var_os("EDGEPORT_KEEP_TEST_FILES").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

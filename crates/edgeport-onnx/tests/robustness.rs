//! Fuzz-ish robustness: corrupted and truncated models must give errors, never panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use edgeport_onnx::{import, ImportOptions};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A small model touching many importers (shape chains, conv, pooling, resize, slicing).
fn sample_model() -> Vec<u8> {
    Model::new(13)
        .input("x", F32, &[1, 3, 8, 8])
        .weight("w", &[4, 3, 3, 3])
        .weight("b", &[4])
        .init_i64("zero", &[], vec![0])
        .init_i64("ax", &[1], vec![0])
        .init_i64("minus1", &[1], vec![-1])
        .init_i64("ax2", &[1], vec![2])
        .init_i64("st", &[1], vec![1])
        .init_i64("en", &[1], vec![-1])
        .init_f32("sc", &[4], vec![1.0, 1.0, 2.0, 2.0])
        .init_f32("roi", &[0], vec![])
        .node(node("Conv", "conv", &["x", "w", "b"], &["c"], vec![ints("pads", &[1, 1, 1, 1])]))
        .node(node("Relu", "relu", &["c"], &["r"], vec![]))
        .node(node("MaxPool", "pool", &["r"], &["p"], vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2]), ai("ceil_mode", 1)]))
        .node(node("Resize", "resize", &["p", "roi", "sc"], &["u"], vec![s("mode", "nearest")]))
        .node(node("Slice", "slice", &["u", "st", "en", "ax2"], &["sl"], vec![]))
        .node(node("Shape", "shape", &["sl"], &["s"], vec![]))
        .node(node("Gather", "gather", &["s", "zero"], &["n"], vec![]))
        .node(node("Unsqueeze", "unsq", &["n", "ax"], &["n1"], vec![]))
        .node(node("Concat", "cat", &["n1", "minus1"], &["target"], vec![ai("axis", 0)]))
        .node(node("Reshape", "reshape", &["sl", "target"], &["flat"], vec![]))
        .node(node("Softmax", "softmax", &["flat"], &["y"], vec![ai("axis", -1)]))
        .output("y")
        .bytes()
}

/// Models to corrupt. `EDGEPORT_FUZZ_MODELS` adds more (a `:`-separated list of paths; paths
/// containing `ppocr` get input shape x=1,3,48,192).
fn corpus() -> Vec<(String, Vec<u8>, ImportOptions)> {
    let none = ImportOptions::default;
    let mut v = vec![("sample".to_string(), sample_model(), none())];
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    for name in ["ops_misc", "mlp_gelu"] {
        if let Ok(b) = std::fs::read(fixtures.join(name).join("model.onnx")) {
            v.push((name.to_string(), b, none()));
        }
    }
    if let Ok(extra) = std::env::var("EDGEPORT_FUZZ_MODELS") {
        for p in extra.split(':').filter(|p| !p.is_empty()) {
            if let Ok(b) = std::fs::read(p) {
                let mut opts = none();
                if p.contains("ppocr") {
                    opts.input_shapes.insert("x".into(), vec![1, 3, 48, 192]);
                }
                v.push((p.to_string(), b, opts));
            }
        }
    }
    v
}

/// Rounds per model; `EDGEPORT_FUZZ_ROUNDS` raises it for longer local runs.
fn rounds(len: usize) -> usize {
    match std::env::var("EDGEPORT_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()) {
        Some(n) => n,
        None if len > 50_000 => 150,
        None => 600,
    }
}

#[test]
fn sample_model_imports() {
    let m = import(&sample_model(), &ImportOptions::default()).unwrap();
    m.graph.validate().unwrap();
}

#[test]
fn flipped_and_truncated_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0usize, 0usize);
    for (name, bytes, opts) in corpus() {
        for round in 0..rounds(bytes.len()) {
            let mut b = bytes.clone();
            match round % 4 {
                // Flip a few random bits.
                0 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
                // Overwrite bytes with random values (lengths and varints go wild).
                1 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                }
                // Truncate.
                2 => b.truncate(rng.below(b.len())),
                // Small values in the structural part (dims, attributes) are most interesting.
                _ => {
                    let head = b.len().min(4096);
                    let i = b.len() - 1 - rng.below(head);
                    b[i] = [0u8, 1, 0x7f, 0x80, 0xff][rng.below(5)];
                }
            }
            let r = std::panic::catch_unwind(|| import(&b, &opts).map(|m| m.graph.validate()));
            match r {
                Ok(Ok(Ok(()))) => ok += 1,
                Ok(Ok(Err(e))) => panic!("{name} round {round}: imported graph does not validate: {e}"),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    assert!(!msg.contains('\n'), "{name} round {round}: multi-line error {msg:?}");
                    err += 1;
                }
                Err(_) => panic!("{name} round {round}: import panicked"),
            }
        }
    }
    eprintln!("{ok} corrupted models still imported, {err} rejected");
}

/// Values that break arithmetic: zero, negatives, extremes.
const NASTY: [i64; 12] = [0, 1, -1, 2, -2, 3, 7, 1 << 24, 1 << 31, -(1 << 40), i64::MAX, i64::MIN];

/// Structural mutations on the decoded model: attribute values, op types, wiring, dims,
/// constant data. These reach the op importers and shape inference, which byte flips rarely do.
fn mutate(m: &mut edgeport_onnx::pb::ModelProto, rng: &mut Rng) {
    let ops = edgeport_onnx::supported_ops();
    let Some(g) = m.graph.as_mut() else { return };
    let values: Vec<String> = g
        .node
        .iter()
        .flat_map(|n| n.output.clone())
        .chain(g.initializer.iter().map(|t| t.name.clone()))
        .chain(g.input.iter().map(|i| i.name.clone()))
        .collect();
    for _ in 0..1 + rng.below(3) {
        match rng.below(7) {
            0 | 1 => {
                // An attribute value.
                let n = rng.below(g.node.len());
                let Some(node) = g.node.get_mut(n) else { continue };
                let k = rng.below(node.attribute.len());
                if let Some(a) = node.attribute.get_mut(k) {
                    let v = NASTY[rng.below(NASTY.len())];
                    a.i = v;
                    a.f = [0.0, -1.0, f32::NAN, f32::INFINITY, 1e30, 0.5][rng.below(6)];
                    if !a.ints.is_empty() {
                        let j = rng.below(a.ints.len());
                        a.ints[j] = v;
                        if rng.below(4) == 0 {
                            a.ints.pop();
                        }
                    }
                    if !a.floats.is_empty() {
                        let j = rng.below(a.floats.len());
                        a.floats[j] = v as f32;
                    }
                    if rng.below(5) == 0 {
                        a.s = [&b"SAME_UPPER"[..], b"VALID", b"linear", b"reflect", b"x"][rng.below(5)].to_vec();
                    }
                }
            }
            2 => {
                // An op type.
                let n = rng.below(g.node.len());
                if let Some(node) = g.node.get_mut(n) {
                    node.op_type = ops[rng.below(ops.len())].to_string();
                }
            }
            3 => {
                // Rewire an input (or drop it).
                let n = rng.below(g.node.len());
                if let Some(node) = g.node.get_mut(n) {
                    let k = rng.below(node.input.len() + 1);
                    let v = if rng.below(4) == 0 { String::new() } else { values[rng.below(values.len())].clone() };
                    if k < node.input.len() {
                        node.input[k] = v;
                    } else {
                        node.input.push(v);
                    }
                }
            }
            4 => {
                // Constant integer data (shapes, axes, pads, indices).
                let ints: Vec<usize> = (0..g.initializer.len()).filter(|&i| !g.initializer[i].int64_data.is_empty()).collect();
                if let Some(&i) = ints.get(rng.below(ints.len())) {
                    let t = &mut g.initializer[i];
                    let j = rng.below(t.int64_data.len());
                    t.int64_data[j] = NASTY[rng.below(NASTY.len())];
                }
            }
            5 => {
                // Initializer dims.
                let i = rng.below(g.initializer.len());
                if let Some(t) = g.initializer.get_mut(i) {
                    let j = rng.below(t.dims.len() + 1);
                    let v = NASTY[rng.below(NASTY.len())];
                    if j < t.dims.len() {
                        t.dims[j] = v;
                    } else {
                        t.dims.push(v);
                    }
                }
            }
            _ => {
                // Drop a node's output or the node (dangling consumers).
                let n = rng.below(g.node.len());
                if rng.below(2) == 0 {
                    if n < g.node.len() {
                        g.node.remove(n);
                    }
                } else if let Some(node) = g.node.get_mut(n) {
                    node.output.push(values[rng.below(values.len())].clone());
                }
            }
        }
    }
}

#[test]
fn structural_mutations_never_panic() {
    use prost::Message;
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let (mut ok, mut err) = (0usize, 0usize);
    for (name, bytes, opts) in corpus() {
        let Ok(base) = edgeport_onnx::pb::ModelProto::decode(bytes.as_slice()) else { continue };
        for round in 0..rounds(bytes.len()) {
            let mut m = base.clone();
            mutate(&mut m, &mut rng);
            let b = m.encode_to_vec();
            let t0 = std::time::Instant::now();
            let r = std::panic::catch_unwind(|| import(&b, &opts).map(|m| m.graph.validate()));
            if std::env::var("EDGEPORT_FUZZ_SLOW").is_ok() && t0.elapsed().as_millis() > 500 {
                let path = format!("/tmp/slow_{round}.onnx");
                let _ = std::fs::write(&path, &b);
                eprintln!("{name} round {round}: {:?} ({path})", t0.elapsed());
            }
            match r {
                Ok(Ok(Ok(()))) => ok += 1,
                Ok(Ok(Err(e))) => panic!("{name} round {round}: imported graph does not validate: {e}"),
                Ok(Err(e)) => {
                    assert!(!e.to_string().contains('\n'), "{name} round {round}: multi-line error");
                    err += 1;
                }
                Err(_) => panic!("{name} round {round}: import panicked"),
            }
        }
    }
    eprintln!("{ok} mutated models still imported, {err} rejected");
}

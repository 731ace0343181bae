//! The ONNX exporter: every fixture survives import -> optimize -> export -> re-import with
//! the same outputs on the CPU runtime; hand-built graphs cover the IR ops the fixtures do not
//! reach; exports are deterministic; quantization is written as QDQ; errors name the node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::PathBuf;

use edgeport_ir::ops::{
    BinaryOp, Conv, CoordMode, LayerNorm, NearestMode, Pad, PadMode, Pool, PoolKind, Reduce,
    ReduceKind, Resize, ResizeMode, Slice, UnaryOp,
};
use edgeport_ir::{DType, Graph, Layout, Op, QuantParams, Tensor, TensorData, TensorType, ValueId};
use edgeport_onnx::pb::{ModelProto, NodeProto, TensorProto};
use edgeport_onnx::{ExportOptions, ImportOptions, export, import};
use prost::Message;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Every fixture: the folders of tests/fixtures with a model.onnx and an input.npz, sorted.
fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("model.onnx").is_file() && e.path().join("input.npz").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures not found: {names:?}");
    names
}

/// Arrays of an `.npz` (little-endian C-order float32/int64/int32/bool), keyed by name.
fn read_npz(bytes: &[u8]) -> BTreeMap<String, Tensor> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).unwrap();
        let name = member.name().unwrap().to_string();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        assert_eq!(&data[..6], b"\x93NUMPY");
        let (len, start) = match data[6] {
            1 => (u16::from_le_bytes([data[8], data[9]]) as usize, 10),
            _ => (
                u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize,
                12,
            ),
        };
        let header = std::str::from_utf8(&data[start..start + len]).unwrap();
        let dtype = [
            ("<f4", DType::F32),
            ("<i8", DType::I64),
            ("<i4", DType::I32),
            ("|b1", DType::Bool),
        ]
        .into_iter()
        .find(|(d, _)| header.contains(d))
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("unsupported npy header {header}"));
        let shape_text = &header[header.find("'shape': (").unwrap() + 10..];
        let shape: Vec<usize> = shape_text[..shape_text.find(')').unwrap()]
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let body = &data[start + len..];
        let t = Tensor::new(shape, TensorData::from_le_bytes(body, dtype)).unwrap();
        out.insert(name.trim_end_matches(".npy").to_string(), t);
    }
    out
}

/// Runs `g` on the CPU runtime with `inputs` by name; outputs by name.
fn run(g: &Graph, inputs: &BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    let mut s = edgeport_cpu::Session::new(g, &edgeport_cpu::SessionOptions::default()).unwrap();
    let feed: Vec<Tensor> = s.inputs().iter().map(|p| inputs[&p.name].clone()).collect();
    let names: Vec<String> = s.outputs().iter().map(|p| p.name.clone()).collect();
    names.into_iter().zip(s.run(&feed).unwrap()).collect()
}

/// Largest |a - b| relative to max(1, max|a|), over every output (which must all match).
fn max_rel_diff(want: &BTreeMap<String, Tensor>, got: &BTreeMap<String, Tensor>) -> f32 {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    let mut worst = 0f32;
    for (name, a) in want {
        let b = &got[name];
        assert_eq!(a.shape(), b.shape(), "{name}");
        let (a, b) = (a.to_f32_vec(), b.to_f32_vec());
        let scale = a.iter().fold(1f32, |m, x| m.max(x.abs()));
        let diff = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        worst = worst.max(if diff.is_nan() {
            f32::INFINITY
        } else {
            diff / scale
        });
    }
    worst
}

/// Export `g`, re-import the bytes, and check both graphs agree on `inputs` within 1e-5.
fn round_trip(label: &str, g: &Graph, inputs: &BTreeMap<String, Tensor>) -> ModelProto {
    let bytes = export(g, &ExportOptions::default()).unwrap_or_else(|e| panic!("{label}: {e}"));
    let back = import(&bytes, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{label}: re-import: {e}"))
        .graph;
    let ins = |g: &Graph| {
        g.inputs
            .iter()
            .map(|&i| (g.value(i).name.clone(), g.ty(i).clone()))
            .collect::<Vec<_>>()
    };
    let outs = |g: &Graph| {
        g.outputs
            .iter()
            .map(|&i| (g.value(i).name.clone(), g.ty(i).clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ins(g), ins(&back), "{label}: inputs");
    assert_eq!(outs(g), outs(&back), "{label}: outputs");
    let diff = max_rel_diff(&run(g, inputs), &run(&back, inputs));
    println!("{label}: max relative diff {diff:.3e}");
    assert!(diff <= 1e-5, "{label}: outputs differ by {diff} relative");
    ModelProto::decode(bytes.as_slice()).unwrap()
}

#[test]
fn fixtures_round_trip_with_the_same_outputs() {
    for name in fixtures() {
        let name = name.as_str();
        let dir = fixtures_dir().join(name);
        let model = std::fs::read(dir.join("model.onnx")).unwrap();
        let inputs = read_npz(&std::fs::read(dir.join("input.npz")).unwrap());
        let mut g = import(&model, &ImportOptions::default()).unwrap().graph;
        edgeport_passes::optimize(&mut g).unwrap();
        let m = round_trip(name, &g, &inputs);
        assert_eq!(
            (
                m.ir_version,
                m.opset_import[0].version,
                m.opset_import[0].domain.as_str()
            ),
            (10, 21, "")
        );
        let graph = m.graph.unwrap();
        // node names are the IR's, every intermediate has a value_info
        let ir_names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            ir_names,
            graph
                .node
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            "{name}"
        );
        let produced = graph.node.iter().flat_map(|n| n.output.iter()).count();
        assert_eq!(
            graph.value_info.len() + graph.output.len(),
            produced,
            "{name}"
        );
    }
}

#[test]
fn export_is_deterministic() {
    for name in ["ops_misc", "transformer"] {
        let model = std::fs::read(fixtures_dir().join(name).join("model.onnx")).unwrap();
        let mut g = import(&model, &ImportOptions::default()).unwrap().graph;
        edgeport_passes::optimize(&mut g).unwrap();
        let a = export(&g, &ExportOptions::default()).unwrap();
        let b = export(&g.clone(), &ExportOptions::default()).unwrap();
        assert!(a == b, "{name}: two exports differ");
    }
}

/// A graph with input `x` of `shape`; returns it and the input id.
fn graph_with_input(shape: &[usize]) -> (Graph, ValueId) {
    let mut g = Graph::new("hand");
    let x = g
        .add_value("x", TensorType::new(DType::F32, shape.to_vec()))
        .unwrap();
    g.inputs.push(x);
    (g, x)
}

fn lcg(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
        })
        .collect()
}

fn feed(g: &Graph, seed: u64) -> BTreeMap<String, Tensor> {
    g.inputs
        .iter()
        .map(|&i| {
            let ty = g.ty(i);
            (
                g.value(i).name.clone(),
                Tensor::from_f32(ty.shape.clone(), lcg(ty.elements(), seed)).unwrap(),
            )
        })
        .collect()
}

/// The IR ops and forms the fixtures do not produce, each as its own graph output.
#[test]
fn every_ir_op_round_trips() {
    let (mut g, x) = graph_with_input(&[1, 4, 6, 6]);
    // every node's output is a graph output
    let add = |g: &mut Graph, name: &str, op: Op, inputs: Vec<ValueId>| -> ValueId {
        let v = g.add_node1(name, name, op, inputs).unwrap();
        g.outputs.push(v);
        v
    };
    let pos = g
        .add_node1("abs", "Abs", Op::Unary(UnaryOp::Abs), vec![x])
        .unwrap();
    for u in [
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Erf,
        UnaryOp::Gelu,
        UnaryOp::GeluTanh,
        UnaryOp::HardSwish,
        UnaryOp::Neg,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Exp,
    ] {
        add(&mut g, u.name(), Op::Unary(u), vec![x]);
    }
    for u in [
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Reciprocal,
        UnaryOp::Log,
    ] {
        add(&mut g, u.name(), Op::Unary(u), vec![pos]);
    }
    let c = g.add_const(
        "c",
        Tensor::from_f32(vec![4, 1, 1], vec![0.5, 1.5, 2.0, 3.0]).unwrap(),
    );
    for b in [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Min,
        BinaryOp::Max,
    ] {
        add(&mut g, b.name(), Op::Binary(b), vec![x, c]);
    }
    add(&mut g, "pow", Op::Binary(BinaryOp::Pow), vec![pos, c]);
    add(&mut g, "prelu", Op::PRelu, vec![x, c]);
    add(
        &mut g,
        "clip",
        Op::Clip {
            min: -0.5,
            max: 1.0,
        },
        vec![x],
    );
    add(
        &mut g,
        "clip_max",
        Op::Clip {
            min: f32::NEG_INFINITY,
            max: 1.0,
        },
        vec![x],
    );
    add(
        &mut g,
        "clip_min",
        Op::Clip {
            min: 0.25,
            max: f32::INFINITY,
        },
        vec![x],
    );
    add(&mut g, "leaky", Op::LeakyRelu { alpha: 0.1 }, vec![x]);
    add(
        &mut g,
        "hsig",
        Op::HardSigmoid {
            alpha: 0.2,
            beta: 0.4,
        },
        vec![x],
    );
    let bias = g.add_const(
        "bias",
        Tensor::from_f32(vec![3], vec![0.1, -0.2, 0.3]).unwrap(),
    );
    let conv = Conv {
        strides: [2, 1],
        dilations: [1, 2],
        pads: [1, 0, 2, 1],
        group: 2,
        layout: Layout::Nchw,
    };
    let wg = g.add_const(
        "wg",
        Tensor::from_f32(vec![4, 2, 3, 3], lcg(72, 4)).unwrap(),
    );
    add(&mut g, "conv_grouped", Op::Conv(conv.clone()), vec![x, wg]);
    let w1 = g.add_const(
        "w1",
        Tensor::from_f32(vec![3, 4, 3, 3], lcg(108, 5)).unwrap(),
    );
    add(
        &mut g,
        "conv",
        Op::Conv(Conv { group: 1, ..conv }),
        vec![x, w1, bias],
    );
    for (name, kind, count) in [
        ("maxpool", PoolKind::Max, false),
        ("avgpool", PoolKind::Avg, false),
        ("avgpool_pad", PoolKind::Avg, true),
    ] {
        let p = Pool {
            kind,
            kernel: [3, 2],
            strides: [2, 2],
            pads: [1, 0, 1, 1],
            count_include_pad: count,
            layout: Layout::Nchw,
        };
        add(&mut g, name, Op::Pool(p), vec![x]);
    }
    for (name, mode, coord, size) in [
        (
            "resize_linear",
            ResizeMode::Linear,
            CoordMode::HalfPixel,
            [12, 9],
        ),
        (
            "resize_ac",
            ResizeMode::Linear,
            CoordMode::AlignCorners,
            [4, 11],
        ),
        (
            "resize_nearest",
            ResizeMode::Nearest(NearestMode::RoundPreferCeil),
            CoordMode::Asymmetric,
            [12, 12],
        ),
        (
            "resize_floor",
            ResizeMode::Nearest(NearestMode::Floor),
            CoordMode::PytorchHalfPixel,
            [3, 8],
        ),
    ] {
        add(
            &mut g,
            name,
            Op::Resize(Resize {
                mode,
                coord,
                size,
                layout: Layout::Nchw,
            }),
            vec![x],
        );
    }
    let t = add(
        &mut g,
        "transpose",
        Op::Transpose {
            perm: vec![0, 2, 3, 1],
        },
        vec![x],
    );
    add(
        &mut g,
        "reshape",
        Op::Reshape { shape: vec![6, 24] },
        vec![t],
    );
    add(&mut g, "concat", Op::Concat { axis: 1 }, vec![x, x]);
    let parts = g
        .add_node(
            "split",
            "Split",
            Op::Split {
                axis: 3,
                sizes: vec![1, 2, 3],
            },
            vec![x],
            &[],
        )
        .unwrap();
    g.outputs.extend(parts);
    let slice = Slice {
        axes: vec![3, 2],
        starts: vec![5, 1],
        ends: vec![-1, 6],
        steps: vec![-2, 2],
    };
    add(&mut g, "slice_back", Op::Slice(slice), vec![x]);
    let idx = g.add_const(
        "idx",
        Tensor::from_i64(vec![2, 2], vec![3, 0, 1, 1]).unwrap(),
    );
    add(&mut g, "gather", Op::Gather { axis: 2 }, vec![x, idx]);
    for (kind, keep) in [
        (ReduceKind::Mean, true),
        (ReduceKind::Sum, false),
        (ReduceKind::Max, true),
        (ReduceKind::Min, false),
        (ReduceKind::Prod, true),
    ] {
        let r = Reduce {
            kind,
            axes: vec![1, 3],
            keep_dims: keep,
        };
        add(&mut g, kind.name(), Op::Reduce(r), vec![x]);
    }
    add(&mut g, "softmax", Op::Softmax { axis: 1 }, vec![x]);
    let scale = g.add_const("ln_scale", Tensor::from_f32(vec![6], lcg(6, 9)).unwrap());
    let shift = g.add_const("ln_bias", Tensor::from_f32(vec![1, 1], vec![0.25]).unwrap());
    add(
        &mut g,
        "layernorm",
        Op::LayerNorm(LayerNorm {
            axis: 2,
            epsilon: 1e-3,
        }),
        vec![x, scale, shift],
    );
    for (name, mode) in [
        ("pad_const", PadMode::Constant(0.5)),
        ("pad_reflect", PadMode::Reflect),
        ("pad_edge", PadMode::Edge),
    ] {
        add(
            &mut g,
            name,
            Op::Pad(Pad {
                pads: vec![[0, 0], [1, 0], [2, 1], [0, 3]],
                mode,
            }),
            vec![x],
        );
    }
    let i = add(&mut g, "to_int", Op::Cast { to: DType::I64 }, vec![x]);
    add(&mut g, "to_float", Op::Cast { to: DType::F32 }, vec![i]);
    let m = g.add_const("m", Tensor::from_f32(vec![6, 5], lcg(30, 11)).unwrap());
    add(&mut g, "matmul", Op::MatMul, vec![x, m]);
    g.validate().unwrap();
    let model = round_trip("ops", &g, &feed(&g, 1));
    let graph = model.graph.unwrap();
    let ops: std::collections::BTreeSet<&str> =
        graph.node.iter().map(|n| n.op_type.as_str()).collect();
    for want in [
        "Gelu",
        "HardSwish",
        "Resize",
        "Split",
        "Slice",
        "Pad",
        "LayerNormalization",
        "Expand",
        "ReduceProd",
        "Cast",
    ] {
        assert!(ops.contains(want), "{want} missing from {ops:?}");
    }
}

#[test]
fn runtime_indices_and_a_constant_output() {
    let (mut g, x) = graph_with_input(&[5, 3]);
    let idx = g
        .add_value("idx", TensorType::new(DType::I64, vec![4]))
        .unwrap();
    g.inputs.push(idx);
    let y = g
        .add_node1("gather", "Gather", Op::Gather { axis: 0 }, vec![x, idx])
        .unwrap();
    let k = g.add_const("k", Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]).unwrap());
    let z = g
        .add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![y, k])
        .unwrap();
    g.outputs = vec![y, k, z];
    let mut inputs = feed(&g, 2);
    inputs.insert(
        "idx".into(),
        Tensor::from_i64(vec![4], vec![4, 0, 2, 2]).unwrap(),
    );
    round_trip("gather", &g, &inputs);
}

fn node<'a>(m: &'a ModelProto, op: &str) -> Vec<&'a NodeProto> {
    m.graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .filter(|n| n.op_type == op)
        .collect()
}

fn initializer<'a>(m: &'a ModelProto, name: &str) -> &'a TensorProto {
    m.graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer {name}"))
}

#[test]
fn quantized_activations_become_qdq_pairs() {
    let (mut g, x) = graph_with_input(&[1, 8]);
    let r = g
        .add_node1("relu", "Relu", Op::Unary(UnaryOp::Relu), vec![x])
        .unwrap();
    let c = g.add_const("c", Tensor::from_f32(vec![8], lcg(8, 1)).unwrap());
    let y = g
        .add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![r, c])
        .unwrap();
    let z = g
        .add_node1("tanh", "Tanh", Op::Unary(UnaryOp::Tanh), vec![y])
        .unwrap();
    g.rename_value(y, "y");
    g.outputs = vec![y, z];
    g.set_quant(x, Some(QuantParams::covering(-2.0, 2.0)));
    g.set_quant(r, Some(QuantParams::covering(0.0, 2.0)));
    g.set_quant(
        y,
        Some(QuantParams {
            scale: 0.03,
            zero_point: 5,
        }),
    );
    let bytes = export(&g, &ExportOptions::default()).unwrap();
    let m = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(node(&m, "QuantizeLinear").len(), 3);
    assert_eq!(node(&m, "DequantizeLinear").len(), 3);
    let graph = m.graph.as_ref().unwrap();
    // the input keeps its name and float type; relu reads its dequantized copy
    assert_eq!(graph.input[0].name, "x");
    let relu = &node(&m, "Relu")[0];
    assert_eq!(relu.input, ["x_dequantized"]);
    assert_eq!(node(&m, "Add")[0].input, ["relu_dequantized", "c"]);
    // the quantized graph output keeps its name on the DequantizeLinear; the producer writes a
    // renamed float tensor, and the other consumer reads the dequantized output
    assert_eq!(node(&m, "Add")[0].output, ["y_float"]);
    let dq_y = node(&m, "DequantizeLinear")
        .into_iter()
        .find(|n| n.output == ["y"])
        .unwrap();
    assert_eq!(dq_y.input[0], "y_quantized");
    assert_eq!(node(&m, "Tanh")[0].input, ["y"]);
    assert_eq!(
        graph
            .output
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["y", "tanh"]
    );
    let zp = initializer(&m, "y_zero_point");
    assert_eq!(
        (zp.data_type, zp.dims.len(), zp.raw_data.as_slice()),
        (3, 0, &[5u8][..])
    );
    let scale = initializer(&m, "y_scale");
    assert_eq!(scale.raw_data, 0.03f32.to_le_bytes());
    // the QDQ'd tensors are int8 in value_info
    let q = graph
        .value_info
        .iter()
        .find(|v| v.name == "relu_quantized")
        .unwrap();
    let edgeport_onnx::pb::type_proto::Value::TensorType(t) =
        q.r#type.as_ref().unwrap().value.as_ref().unwrap();
    assert_eq!(t.elem_type, 3);
}

#[test]
fn int8_weights_are_stored_as_int8_behind_dequantize_linear() {
    let (mut g, x) = graph_with_input(&[2, 64]);
    let w = g.add_const(
        "w",
        Tensor::from_f32(vec![64, 48], lcg(64 * 48, 7)).unwrap(),
    );
    let y = g
        .add_node1("matmul", "MatMul", Op::MatMul, vec![x, w])
        .unwrap();
    let (mut cg, cx) = graph_with_input(&[1, 16, 5, 5]);
    let cw = cg.add_const(
        "cw",
        Tensor::from_f32(vec![32, 16, 3, 3], lcg(32 * 16 * 9, 8)).unwrap(),
    );
    let conv = Conv {
        strides: [1, 1],
        dilations: [1, 1],
        pads: [1, 1, 1, 1],
        group: 1,
        layout: Layout::Nchw,
    };
    let cy = cg
        .add_node1("conv", "Conv", Op::Conv(conv), vec![cx, cw])
        .unwrap();
    g.outputs.push(y);
    cg.outputs.push(cy);
    for (mut g, wname, want_axis) in [(g, "w", 1i64), (cg, "cw", 0)] {
        let float = export(&g, &ExportOptions::default()).unwrap();
        let done = edgeport_quant::int8::quantize_weights(&mut g);
        assert_eq!(done.len(), 1);
        let bytes = export(&g, &ExportOptions::default()).unwrap();
        assert!(
            bytes.len() * 3 < float.len(),
            "{} vs float {}",
            bytes.len(),
            float.len()
        );
        let m = ModelProto::decode(bytes.as_slice()).unwrap();
        let dq = node(&m, "DequantizeLinear");
        assert_eq!(dq.len(), 1);
        assert_eq!(dq[0].output, [wname]);
        assert_eq!(dq[0].attribute[0].name, "axis");
        assert_eq!(dq[0].attribute[0].i, want_axis);
        let q = initializer(&m, &dq[0].input[0]);
        let scales = initializer(&m, &dq[0].input[1]);
        let zp = initializer(&m, &dq[0].input[2]);
        assert_eq!((q.data_type, zp.data_type, scales.data_type), (3, 3, 1));
        assert!(zp.raw_data.iter().all(|&b| b == 0));
        // ONNX's dequantization gives the IR's weight bit for bit
        let scales: Vec<f32> = scales
            .raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let shape: Vec<usize> = q.dims.iter().map(|&d| d as usize).collect();
        let inner: usize = shape[want_axis as usize + 1..].iter().product();
        let decoded: Vec<f32> = q
            .raw_data
            .iter()
            .enumerate()
            .map(|(i, &b)| f32::from(b as i8) * scales[(i / inner) % scales.len()])
            .collect();
        let wid = g.value_ids().find(|&v| g.value(v).name == wname).unwrap();
        let want = g.constant(wid).unwrap().as_f32().unwrap();
        assert!(
            decoded
                .iter()
                .zip(want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}

#[test]
fn an_op_without_onnx_form_names_the_node() {
    let (mut g, x) = graph_with_input(&[1, 6, 6, 4]);
    let w = g.add_const(
        "w",
        Tensor::from_f32(vec![2, 4, 1, 1], vec![0.5; 8]).unwrap(),
    );
    let conv = Conv {
        strides: [1, 1],
        dilations: [1, 1],
        pads: [0; 4],
        group: 1,
        layout: Layout::Nhwc,
    };
    let y = g
        .add_node1("stem/conv", "Conv", Op::Conv(conv), vec![x, w])
        .unwrap();
    g.outputs.push(y);
    let e = export(&g, &ExportOptions::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("'stem/conv'") && text.contains("Conv") && text.contains("NHWC"),
        "{text}"
    );

    let (mut g, x) = graph_with_input(&[2, 2]);
    let i = g
        .add_node1("to_int", "Cast", Op::Cast { to: DType::I32 }, vec![x])
        .unwrap();
    g.outputs.push(i);
    g.set_quant(
        i,
        Some(QuantParams {
            scale: 1.0,
            zero_point: 0,
        }),
    );
    let text = export(&g, &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("'to_int'") && text.contains("int32"),
        "{text}"
    );
}

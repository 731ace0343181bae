//! The full-integer plan: what runs in int8, which values carry parameters, which constants are
//! put on their grids, and the exported tensors.

use std::collections::BTreeMap;

use edgeport_ir::ops::{BinaryOp, UnaryOp};
use edgeport_ir::{Op, QuantParams, ValueId};
use tract_tflite::tflite;

use super::{G, export_ok, model};
use crate::int8::{Int8Options, plan};

/// x [1, 8] -> MatMul(w) -> Add(b) -> Relu -> Reshape [2, 4] -> Reshape [1, 8] -> Sigmoid,
/// and a Div (no int8 kernel) on the side.
fn graph() -> (edgeport_ir::Graph, BTreeMap<ValueId, (f32, f32)>) {
    let mut b = G::new("int8");
    let x = b.input("x", &[1, 8]);
    let w = b.weight("w", &[8, 8]);
    let bias = b.weight("b", &[8]);
    let mm = b.node("fc", Op::MatMul, &[x, w]);
    let add = b.node("fc_bias", Op::Binary(BinaryOp::Add), &[mm, bias]);
    let relu = b.node("relu", Op::Unary(UnaryOp::Relu), &[add]);
    let r1 = b.node("r1", Op::Reshape { shape: vec![2, 4] }, &[relu]);
    let r2 = b.node("r2", Op::Reshape { shape: vec![1, 8] }, &[r1]);
    let sig = b.node("sig", Op::Unary(UnaryOp::Sigmoid), &[r2]);
    let div = b.node("div", Op::Binary(BinaryOp::Div), &[sig, r2]);
    b.output(sig);
    b.output(div);
    let g = b.finish();
    let mut ranges = BTreeMap::new();
    for (v, r) in [(x, (-1.0, 1.0)), (mm, (-3.0, 3.0)), (add, (-3.0, 3.0)), (relu, (0.0, 3.0)), (r1, (0.0, 3.0)), (sig, (0.5, 0.95)), (div, (0.1, 9.0))] {
        ranges.insert(v, r);
    }
    (g, ranges)
}

#[test]
fn plan_marks_int8_nodes_fused_values_and_fixed_grids() {
    let (mut g, ranges) = graph();
    let p = plan(&mut g, &ranges, &Int8Options::default());
    let node = |n: &str| g.nodes.iter().find(|x| x.name == n).unwrap();
    let value = |n: &str| node(n).outputs[0];
    for n in ["fc", "fc_bias", "relu", "r1", "r2", "sig"] {
        assert!(node(n).int8, "{n} should run in int8");
    }
    assert!(!node("div").int8);
    assert_eq!(p.float_nodes.len(), 1);
    assert_eq!(p.float_nodes[0].name, "div");
    // fused into FULLY_CONNECTED: the matmul and bias-add results have no int8 tensor
    assert!(g.value(value("fc")).quant.is_none() && g.value(value("fc_bias")).quant.is_none());
    // the relu's range, tied through both reshapes
    let q = g.value(value("relu")).quant.unwrap();
    assert_eq!(q, QuantParams::covering(0.0, 3.0));
    assert_eq!(g.value(value("r1")).quant, Some(q));
    assert_eq!(g.value(value("r2")).quant, Some(q));
    assert_eq!(g.value(value("sig")).quant, Some(QuantParams { scale: 1.0 / 256.0, zero_point: -128 }));
    // the float Div's output is nobody's int8 input
    assert!(g.value(value("div")).quant.is_none());
    // weights per output column on an int8 grid, bias on input scale x weight scale
    let fc = node("fc");
    let w = g.constant(fc.inputs[1]).unwrap().to_f32_vec();
    let qw = edgeport_quant::int8::quantize(&w, &[8, 8], 1);
    assert_eq!(edgeport_quant::int8::dequantize(&qw, &[8, 8]), w);
    let s_in = g.value(fc.inputs[0]).quant.unwrap().scale;
    let bias = g.constant(node("fc_bias").inputs[1]).unwrap().to_f32_vec();
    for (c, &b) in bias.iter().enumerate() {
        let s = s_in * qw.scales[c];
        assert_eq!((b / s).round() * s, b, "bias {c} is not on its int32 grid");
    }
}

#[test]
fn export_writes_int8_tensors_and_float_edges() {
    let (mut g, ranges) = graph();
    plan(&mut g, &ranges, &Int8Options::default());
    let bytes = export_ok(&g);
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let tensors = sg.tensors().unwrap();
    let by_name = |n: &str| tensors.iter().find(|t| t.name() == Some(n)).unwrap();
    // float32 interface, int8 inside
    assert_eq!(by_name("x").type_(), tflite::TensorType::FLOAT32);
    assert_eq!(by_name("x_int8").type_(), tflite::TensorType::INT8);
    assert_eq!(by_name("fc/weights").type_(), tflite::TensorType::INT8);
    assert_eq!(by_name("fc/bias").type_(), tflite::TensorType::INT32);
    let codes: Vec<String> = super::op_names(&bytes);
    for want in ["QUANTIZE", "FULLY_CONNECTED", "LOGISTIC", "DEQUANTIZE", "DIV"] {
        assert!(codes.iter().any(|c| c == want), "{want} missing from {codes:?}");
    }
    // the Div reads float: its inputs come from DEQUANTIZE ops
    assert!(codes.iter().filter(|c| *c == "DEQUANTIZE").count() >= 2, "{codes:?}");
    // interface int8: no QUANTIZE at the input
    let int8_io = crate::export(&g, &crate::ExportOptions { int8_interface: true, ..Default::default() }).unwrap();
    let m = model(&int8_io);
    let sg = m.subgraphs().unwrap().get(0);
    let input = sg.tensors().unwrap().get(sg.inputs().unwrap().get(0) as usize);
    assert_eq!(input.type_(), tflite::TensorType::INT8);
}

#[test]
fn keep_float_by_name_and_int8_node_without_params_is_an_error() {
    let (mut g, ranges) = graph();
    let keep = Int8Options { keep_float: [("relu".to_string(), "by hand".to_string())].into() };
    let p = plan(&mut g, &ranges, &keep);
    assert!(p.float_nodes.iter().any(|f| f.name == "relu" && f.reason == "by hand"));
    export_ok(&g);
    // a node marked int8 whose input has no parameters cannot be exported
    let (mut g, ranges) = graph();
    plan(&mut g, &ranges, &Int8Options::default());
    let x = g.inputs[0];
    g.set_quant(x, None);
    let err = crate::export(&g, &crate::ExportOptions::default()).unwrap_err().to_string();
    assert!(err.contains("fc") && err.contains("int8 parameters"), "{err}");
}

/// x [2, 64] -> MatMul(w 64x64, int8 grid) -> MatMul(small 64x4, float): the first is a hybrid
/// FULLY_CONNECTED (int8 weights, float32 bias-free input, asymmetric row quantization), the
/// second keeps float weights (below the weight threshold, not on a grid).
#[test]
fn int8_weights_export_hybrid_fully_connected() {
    let mut b = G::new("hybrid");
    let x = b.input("x", &[2, 64]);
    let w = b.weight("w", &[64, 64]);
    let small = b.weight("small", &[64, 4]);
    let h = b.node("fc", Op::MatMul, &[x, w]);
    let y = b.node("head", Op::MatMul, &[h, small]);
    b.output(y);
    let mut g = b.finish();
    let done = edgeport_quant::int8::quantize_weights(&mut g);
    assert_eq!(done.len(), 1, "only the 4096-value weight is quantized");
    let fc = g.nodes.iter().find(|n| n.name == "fc").unwrap();
    let head = g.nodes.iter().find(|n| n.name == "head").unwrap();
    assert_eq!(crate::hybrid::dynamic_input(&g, fc), Some(edgeport_ir::DynamicQuant { row: 64, symmetric: false }));
    assert_eq!(crate::hybrid::dynamic_input(&g, head), None);

    let bytes = crate::export(&g, &crate::ExportOptions { int8_weights: true, ..Default::default() }).unwrap();
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let tensors = sg.tensors().unwrap();
    let by_name = |n: &str| tensors.iter().find(|t| t.name() == Some(n)).unwrap();
    let wq = by_name("fc/weights");
    assert_eq!(wq.type_(), tflite::TensorType::INT8);
    let q = wq.quantization().unwrap();
    assert_eq!(q.scale().unwrap().len(), 64);
    assert_eq!(q.quantized_dimension(), 0);
    assert_eq!(by_name("head/weights").type_(), tflite::TensorType::FLOAT32);
    assert!(!super::op_names(&bytes).iter().any(|c| c == "DEQUANTIZE" || c == "QUANTIZE"));
    let ops = sg.operators().unwrap();
    let hybrid = ops.iter().filter(|op| op.builtin_options_as_fully_connected_options().is_some_and(|o| o.asymmetric_quantize_inputs())).count();
    assert_eq!(hybrid, 1);
    // without the option the same graph stays float
    let plain = export_ok(&g);
    let m = model(&plain);
    let t = m.subgraphs().unwrap().get(0).tensors().unwrap();
    assert!(t.iter().all(|t| t.type_() == tflite::TensorType::FLOAT32));
}

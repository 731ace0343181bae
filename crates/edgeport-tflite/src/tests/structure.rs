//! Structural checks: read the exported bytes back and look at ops, options, tensors, tables.

use edgeport_ir::ops::{
    BinaryOp, Conv, CoordMode, NearestMode, ReduceKind, Resize, ResizeMode, UnaryOp,
};
use edgeport_ir::{DType, Layout, Op, Tensor};
use tract_tflite::tflite;

use super::{G, export_ok, model, op_names};
use crate::{ExportOptions, TfliteError, export};

pub fn conv_op(pads: [usize; 4], strides: [usize; 2], dilations: [usize; 2], group: usize) -> Op {
    Op::Conv(Conv {
        strides,
        dilations,
        pads,
        group,
        layout: Layout::Nhwc,
    })
}

fn tensor_by_name<'a>(m: &tflite::Model<'a>, name: &str) -> tflite::Tensor<'a> {
    let sg = m.subgraphs().unwrap().get(0);
    sg.tensors()
        .unwrap()
        .iter()
        .find(|t| t.name() == Some(name))
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

fn shape_of(t: &tflite::Tensor) -> Vec<i32> {
    t.shape().unwrap().iter().collect()
}

fn op(m: &tflite::Model<'_>, i: usize) -> (tflite::BuiltinOperator, i32) {
    let codes = m.operator_codes().unwrap();
    let o = m.subgraphs().unwrap().get(0).operators().unwrap().get(i);
    let c = codes.get(o.opcode_index() as usize);
    (c.builtin_code(), c.version())
}

#[test]
fn model_header_signature_and_names() {
    let mut b = G::new("tiny_net");
    let x = b.input("pixel_values", &[1, 4]);
    let w = b.weight("w", &[4, 3]);
    let y = b.node("fc", Op::MatMul, &[x, w]);
    let z = b.node("act", Op::Unary(UnaryOp::Tanh), &[y]);
    b.output(z);
    let g = b.finish();
    let bytes = export_ok(&g);
    let m = model(&bytes);
    assert_eq!(m.version(), 3);
    assert_eq!(m.description(), Some("edgeport"));
    let buffers = m.buffers().unwrap();
    assert!(
        buffers.get(0).data().is_none_or(|d| d.is_empty()),
        "buffer 0 must be empty"
    );
    let sg = m.subgraphs().unwrap().get(0);
    assert_eq!(sg.name(), Some("tiny_net"));
    let tensors = sg.tensors().unwrap();
    let ins: Vec<_> = sg
        .inputs()
        .unwrap()
        .iter()
        .map(|i| tensors.get(i as usize).name().unwrap())
        .collect();
    let outs: Vec<_> = sg
        .outputs()
        .unwrap()
        .iter()
        .map(|i| tensors.get(i as usize).name().unwrap())
        .collect();
    assert_eq!(ins, ["pixel_values"]);
    assert_eq!(outs, ["act"]);
    let sigs = m.signature_defs().unwrap();
    assert_eq!(sigs.len(), 1);
    let sig = sigs.get(0);
    assert_eq!(sig.signature_key(), Some("serving_default"));
    assert_eq!(sig.subgraph_index(), 0);
    let si = sig.inputs().unwrap().get(0);
    assert_eq!(si.name(), Some("pixel_values"));
    assert_eq!(
        tensors.get(si.tensor_index() as usize).name(),
        Some("pixel_values")
    );
    let so = sig.outputs().unwrap().get(0);
    assert_eq!(so.name(), Some("act"));
    assert_eq!(tensors.get(so.tensor_index() as usize).name(), Some("act"));
    assert_eq!(op_names(&bytes), ["FULLY_CONNECTED", "TANH"]);
}

#[test]
fn export_is_deterministic() {
    let build = || {
        let mut b = G::new("det");
        let x = b.input("x", &[1, 8, 8, 3]);
        let w = b.weight("w", &[4, 3, 3, 3]);
        let bias = b.weight("bias", &[4]);
        let y = b.node(
            "conv",
            conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1),
            &[x, w, bias],
        );
        let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
        let s = b.node("sm", Op::Softmax { axis: 3 }, &[r]);
        b.output(s);
        b.finish()
    };
    let (g1, g2) = (build(), build());
    let a = export_ok(&g1);
    assert_eq!(a, export_ok(&g1));
    assert_eq!(a, export_ok(&g2));
    assert_eq!(a, export_ok(&g1.clone()));
}

#[test]
fn conv_same_filter_layout_and_fused_relu() {
    let mut b = G::new("conv_relu");
    let x = b.input("x", &[1, 6, 6, 3]);
    let w = b.weight("w", &[5, 3, 3, 3]);
    let bias = b.weight("bias", &[5]);
    let y = b.node(
        "conv",
        conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1),
        &[x, w, bias],
    );
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    b.output(r);
    let g = b.finish();
    let bytes = export_ok(&g);
    assert_eq!(op_names(&bytes), ["CONV_2D"]);
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let o = sg.operators().unwrap().get(0);
    let opts = o.builtin_options_as_conv_2_doptions().unwrap();
    assert_eq!(opts.padding(), tflite::Padding::SAME);
    assert_eq!(
        opts.fused_activation_function(),
        tflite::ActivationFunctionType::RELU
    );
    let tensors = sg.tensors().unwrap();
    let ins: Vec<i32> = o.inputs().unwrap().iter().collect();
    assert_eq!(shape_of(&tensors.get(ins[1] as usize)), [5, 3, 3, 3]);
    // OIHW [5,3,3,3] -> OHWI: filter[o, y, x, i] = w[o, i, y, x].
    let wdata = g.constant(w).unwrap().to_f32_vec();
    let ft = tensors.get(ins[1] as usize);
    let fbytes = m
        .buffers()
        .unwrap()
        .get(ft.buffer() as usize)
        .data()
        .unwrap()
        .bytes()
        .to_vec();
    let f: Vec<f32> = fbytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let (o_, i_, y_, x_) = (4, 2, 1, 0);
    assert_eq!(
        f[((o_ * 3 + y_) * 3 + x_) * 3 + i_],
        wdata[((o_ * 3 + i_) * 3 + y_) * 3 + x_]
    );
    // the conv writes the relu's value directly
    assert_eq!(
        tensors.get(o.outputs().unwrap().get(0) as usize).name(),
        Some("relu")
    );
}

#[test]
fn asymmetric_pads_become_explicit_pad() {
    let mut b = G::new("conv_pad");
    let x = b.input("x", &[1, 6, 6, 2]);
    let w = b.weight("w", &[2, 2, 3, 3]);
    let y = b.node("conv", conv_op([0, 2, 1, 0], [1, 1], [1, 1], 1), &[x, w]);
    b.output(y);
    let bytes = export_ok(&b.finish());
    assert_eq!(op_names(&bytes), ["PAD", "CONV_2D"]);
    let m = model(&bytes);
    let o = m.subgraphs().unwrap().get(0).operators().unwrap().get(1);
    assert_eq!(
        o.builtin_options_as_conv_2_doptions().unwrap().padding(),
        tflite::Padding::VALID
    );
}

#[test]
fn depthwise_filter_and_multiplier() {
    let mut b = G::new("dw");
    let x = b.input("x", &[1, 5, 5, 3]);
    let w = b.weight("w", &[6, 1, 3, 3]);
    let y = b.node("dw", conv_op([2, 2, 2, 2], [1, 1], [2, 2], 3), &[x, w]);
    b.output(y);
    let bytes = export_ok(&b.finish());
    assert_eq!(op_names(&bytes), ["DEPTHWISE_CONV_2D"]);
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let o = sg.operators().unwrap().get(0);
    let opts = o.builtin_options_as_depthwise_conv_2_doptions().unwrap();
    assert_eq!(opts.depth_multiplier(), 2);
    assert_eq!(opts.dilation_h_factor(), 2);
    assert_eq!(opts.padding(), tflite::Padding::SAME);
    let f = sg
        .tensors()
        .unwrap()
        .get(o.inputs().unwrap().get(1) as usize);
    assert_eq!(shape_of(&f), [1, 3, 3, 6]);
    assert_eq!(op(&m, 0).1, 2, "dilated depthwise needs version 2");
}

#[test]
fn grouped_conv_splits() {
    let mut b = G::new("grouped");
    let x = b.input("x", &[1, 5, 5, 4]);
    let w = b.weight("w", &[6, 2, 3, 3]);
    let y = b.node("conv", conv_op([0; 4], [1, 1], [1, 1], 2), &[x, w]);
    let r = b.node("relu6", Op::Clip { min: 0.0, max: 6.0 }, &[y]);
    b.output(r);
    let bytes = export_ok(&b.finish());
    assert_eq!(
        op_names(&bytes),
        ["SPLIT", "CONV_2D", "CONV_2D", "CONCATENATION"]
    );
    let m = model(&bytes);
    let ops = m.subgraphs().unwrap().get(0).operators().unwrap();
    let c = ops.get(1).builtin_options_as_conv_2_doptions().unwrap();
    assert_eq!(
        c.fused_activation_function(),
        tflite::ActivationFunctionType::RELU6
    );
}

#[test]
fn nchw_conv_is_invalid() {
    let mut b = G::new("nchw");
    let x = b.input("x", &[1, 3, 8, 8]);
    let w = b.weight("w", &[4, 3, 3, 3]);
    let op = Op::Conv(Conv {
        strides: [1, 1],
        dilations: [1, 1],
        pads: [0; 4],
        group: 1,
        layout: Layout::Nchw,
    });
    let y = b.node("stem_conv", op, &[x, w]);
    b.output(y);
    match export(&b.finish(), &ExportOptions::default()) {
        Err(TfliteError::Invalid(msg)) => assert!(msg.contains("stem_conv"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn every_unsupported_node_is_listed() {
    let mut b = G::new("unsup");
    let x = b.input("x", &[1, 4, 4, 2]);
    // asymmetric + ceil has no TFLite equivalent for 4 -> 6
    let r = Resize {
        mode: ResizeMode::Nearest(NearestMode::Ceil),
        coord: CoordMode::Asymmetric,
        size: [6, 6],
        layout: Layout::Nhwc,
    };
    let y = b.node("up", Op::Resize(r), &[x]);
    let i = b.input_t("ids", DType::I64, &[3]);
    let k = b.konst("k", Tensor::vec_i64(vec![2, 2, 2]));
    let d = b.node("int_div", Op::Binary(BinaryOp::Div), &[i, k]);
    let xi = b.input_t("xi", DType::I32, &[2, 2]);
    let m = b.node(
        "int_mean",
        Op::Reduce(edgeport_ir::ops::Reduce {
            kind: ReduceKind::Mean,
            axes: vec![1],
            keep_dims: false,
        }),
        &[xi],
    );
    let ok = b.node("fine", Op::Unary(UnaryOp::Relu), &[y]);
    b.output(ok);
    b.output(d);
    b.output(m);
    match export(&b.finish(), &ExportOptions::default()) {
        Err(TfliteError::Unsupported { nodes }) => {
            let names: Vec<&str> = nodes.iter().map(|n| n.0.as_str()).collect();
            assert_eq!(names, ["up", "int_div", "int_mean"]);
            assert_eq!(nodes[0].1, "Resize");
            assert!(nodes[0].2.contains("exactly"), "{}", nodes[0].2);
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn fc_fuses_bias_and_relu() {
    let mut b = G::new("fc");
    let x = b.input("x", &[2, 3, 8]);
    let w = b.weight("w", &[8, 5]);
    let bias = b.weight("b", &[5]);
    let y = b.node("mm", Op::MatMul, &[x, w]);
    let z = b.node("add", Op::Binary(BinaryOp::Add), &[y, bias]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[z]);
    b.output(r);
    let bytes = export_ok(&b.finish());
    assert_eq!(op_names(&bytes), ["FULLY_CONNECTED"]);
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let o = sg.operators().unwrap().get(0);
    let opts = o.builtin_options_as_fully_connected_options().unwrap();
    assert_eq!(
        opts.fused_activation_function(),
        tflite::ActivationFunctionType::RELU
    );
    assert!(opts.keep_num_dims());
    assert_eq!(op(&m, 0).1, 5, "keep_num_dims needs version 5");
    let tensors = sg.tensors().unwrap();
    let ins: Vec<i32> = o.inputs().unwrap().iter().collect();
    assert_eq!(shape_of(&tensors.get(ins[1] as usize)), [5, 8]);
    assert_eq!(shape_of(&tensors.get(ins[2] as usize)), [5]);
    assert_eq!(
        tensors.get(o.outputs().unwrap().get(0) as usize).name(),
        Some("relu")
    );
}

#[test]
fn no_fusion_into_graph_outputs_or_shared_values() {
    // The producer's value is a graph output: the relu stays.
    let mut b = G::new("keep1");
    let x = b.input("x", &[4]);
    let c = b.weight("c", &[4]);
    let y = b.node("add", Op::Binary(BinaryOp::Add), &[x, c]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    b.output(y);
    b.output(r);
    assert_eq!(op_names(&export_ok(&b.finish())), ["ADD", "RELU"]);
    // Two consumers: no fusion either.
    let mut b = G::new("keep2");
    let x = b.input("x", &[4]);
    let c = b.weight("c", &[4]);
    let y = b.node("add", Op::Binary(BinaryOp::Add), &[x, c]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    let t = b.node("tanh", Op::Unary(UnaryOp::Tanh), &[y]);
    b.output(r);
    b.output(t);
    assert_eq!(op_names(&export_ok(&b.finish())), ["ADD", "RELU", "TANH"]);
    // Clip(0,6) after MUL fuses as RELU6; Clip(0,1) does not fuse and becomes RELU_0_TO_1.
    let mut b = G::new("fuse");
    let x = b.input("x", &[4]);
    let c = b.weight("c", &[4]);
    let y = b.node("mul", Op::Binary(BinaryOp::Mul), &[x, c]);
    let r = b.node("clip6", Op::Clip { min: 0.0, max: 6.0 }, &[y]);
    let z = b.node("sub", Op::Binary(BinaryOp::Sub), &[r, c]);
    let q = b.node("clip01", Op::Clip { min: 0.0, max: 1.0 }, &[z]);
    b.output(q);
    let bytes = export_ok(&b.finish());
    assert_eq!(op_names(&bytes), ["MUL", "SUB", "RELU_0_TO_1"]);
    let m = model(&bytes);
    let mo = m
        .subgraphs()
        .unwrap()
        .get(0)
        .operators()
        .unwrap()
        .get(0)
        .builtin_options_as_mul_options()
        .unwrap();
    assert_eq!(
        mo.fused_activation_function(),
        tflite::ActivationFunctionType::RELU6
    );
}

#[test]
fn identical_constants_share_one_buffer() {
    let mut b = G::new("dedup");
    let x = b.input("x", &[3]);
    let c1 = b.konst(
        "c1",
        Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]).unwrap(),
    );
    let c2 = b.konst(
        "c2",
        Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]).unwrap(),
    );
    let y = b.node("a", Op::Binary(BinaryOp::Add), &[x, c1]);
    let z = b.node("b", Op::Binary(BinaryOp::Mul), &[y, c2]);
    b.output(z);
    let bytes = export_ok(&b.finish());
    let m = model(&bytes);
    let t1 = tensor_by_name(&m, "c1");
    let t2 = tensor_by_name(&m, "c2");
    assert_ne!(t1.buffer(), 0);
    assert_eq!(t1.buffer(), t2.buffer());
    assert_eq!(m.buffers().unwrap().len(), 2);
}

#[test]
fn buffers_are_aligned_and_opcodes_carry_both_codes() {
    let mut b = G::new("codes");
    let x = b.input("x", &[1, 3]);
    let c = b.konst("c", Tensor::from_f32(vec![1], vec![0.5]).unwrap());
    let y = b.node("add", Op::Binary(BinaryOp::Add), &[x, c]);
    let w = b.weight("w", &[3, 7]);
    let z = b.node("mm", Op::MatMul, &[y, w]);
    let gl = b.node("gelu", Op::Unary(UnaryOp::Gelu), &[z]);
    b.output(gl);
    let bytes = export_ok(&b.finish());
    let m = model(&bytes);
    for buf in m.buffers().unwrap().iter() {
        if let Some(d) = buf.data() {
            let off = d.bytes().as_ptr() as usize - bytes.as_ptr() as usize;
            assert_eq!(off % 16, 0, "buffer data at offset {off} is not 16-aligned");
        }
    }
    let codes: Vec<(i8, i32)> = m
        .operator_codes()
        .unwrap()
        .iter()
        .map(|c| (c.deprecated_builtin_code(), c.builtin_code().0))
        .collect();
    assert_eq!(codes, [(0, 0), (9, 9), (127, 150)]);
}

#[test]
fn int64_gather_indices_become_int32() {
    let mut b = G::new("gather");
    let x = b.input("x", &[5, 3]);
    let idx = b.konst(
        "idx",
        Tensor::from_i64(vec![2, 2], vec![0, -1, 3, 1]).unwrap(),
    );
    let y = b.node("g", Op::Gather { axis: 0 }, &[x, idx]);
    b.output(y);
    let bytes = export_ok(&b.finish());
    let m = model(&bytes);
    let sg = m.subgraphs().unwrap().get(0);
    let o = sg.operators().unwrap().get(0);
    let it = sg
        .tensors()
        .unwrap()
        .get(o.inputs().unwrap().get(1) as usize);
    assert_eq!(it.type_(), tflite::TensorType::INT32);
    let data = m
        .buffers()
        .unwrap()
        .get(it.buffer() as usize)
        .data()
        .unwrap()
        .bytes()
        .to_vec();
    let v: Vec<i32> = data
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(v, [0, 4, 3, 1]);
}

#[test]
fn op_versions_follow_features() {
    let mut b = G::new("versions");
    let x = b.input("x", &[1, 4, 4, 2]);
    let r = Resize {
        mode: ResizeMode::Linear,
        coord: CoordMode::HalfPixel,
        size: [8, 8],
        layout: Layout::Nhwc,
    };
    let y = b.node("up", Op::Resize(r), &[x]);
    let t = b.node(
        "tr",
        Op::Transpose {
            perm: vec![0, 3, 1, 2],
        },
        &[y],
    );
    b.output(t);
    let bytes = export_ok(&b.finish());
    let m = model(&bytes);
    assert_eq!(op(&m, 0), (tflite::BuiltinOperator::RESIZE_BILINEAR, 3));
    assert_eq!(op(&m, 1), (tflite::BuiltinOperator::TRANSPOSE, 1));
}

#[test]
fn many_unnamed_nodes_export_quickly() {
    // 3000 erf nodes, all named "", each creating ~20 helper tensors with the same base names.
    let mut b = G::new("unnamed");
    let mut x = b.input("x", &[4]);
    for _ in 0..3000 {
        x =
            b.g.add_node1("", "Erf", Op::Unary(UnaryOp::Erf), vec![x])
                .unwrap();
    }
    b.output(x);
    let g = b.finish();
    let t = std::time::Instant::now();
    let bytes = export_ok(&g);
    assert!(
        t.elapsed().as_secs_f32() < 20.0,
        "export took {:?}",
        t.elapsed()
    );
    let m = model(&bytes);
    let tensors = m.subgraphs().unwrap().get(0).tensors().unwrap();
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name().unwrap()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "tensor names must be unique");
}

//! Unsupported ops, ops a target cannot express, broken preconditions.

use edgeport_ir::ops::{BinaryOp, ConvTranspose, CoordMode, Resize, ResizeMode, UnaryOp};
use edgeport_ir::{DType, Layout, Op, Tensor};

use super::structure::conv_op;
use super::{G, export_ok, opts};
use crate::{CoremlError, ExportOptions, Precision, Target, export};

fn unsupported(e: CoremlError) -> Vec<(String, String, String)> {
    match e {
        CoremlError::Unsupported { nodes } => nodes,
        other => panic!("expected Unsupported, got {other}"),
    }
}

#[test]
fn every_unsupported_node_is_listed_once() {
    let mut b = G::new("intdiv");
    let x = b.input_t("x", DType::I32, &[4]);
    let two = b.konst("two", Tensor::vec_i32(vec![2]));
    let d1 = b.node("div1", Op::Binary(BinaryOp::Div), &[x, two]);
    let d2 = b.node("div2", Op::Binary(BinaryOp::Div), &[d1, two]); // downstream: not reported again
    let d3 = b.node("div3", Op::Binary(BinaryOp::Div), &[x, two]);
    let s = b.node("sum", Op::Binary(BinaryOp::Add), &[d2, d3]);
    b.output(s);
    let nodes = unsupported(export(&b.finish(), &ExportOptions::default()).unwrap_err());
    let names: Vec<&str> = nodes.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(names, ["div1", "div3"]);
    assert_eq!(nodes[0].1, "Div");
    assert!(nodes[0].2.contains("integer Div"), "{}", nodes[0].2);
}

#[test]
fn ops_beyond_the_target_name_the_op_and_the_minimum_target() {
    let mut b = G::new("bytes");
    let x = b.input("x", &[1, 8]);
    let q = b.node("to_u8", Op::Cast { to: DType::U8 }, &[x]);
    let y = b.node("back", Op::Cast { to: DType::F32 }, &[q]);
    b.output(y);
    let g = b.finish();
    for target in [Target::Ios15, Target::Ios16] {
        let e = export(&g, &opts(target, Precision::Fp32)).unwrap_err();
        let msg = e.to_string();
        let nodes = unsupported(e);
        assert_eq!(nodes.len(), 1, "{msg}");
        assert_eq!(
            (nodes[0].0.as_str(), nodes[0].1.as_str()),
            ("to_u8", "Cast")
        );
        assert!(
            msg.contains("`cast`") && msg.contains("iOS17") && msg.contains(target.name()),
            "{msg}"
        );
    }
    for target in [Target::Ios17, Target::Ios18] {
        export_ok(&g, &opts(target, Precision::Fp32));
    }
}

#[test]
fn float16_interface_needs_ios16() {
    let mut b = G::new("half_io");
    let x = b.input_t("x", DType::F16, &[1, 8]);
    let y = b.node("r", Op::Unary(UnaryOp::Relu), &[x]);
    b.output(y);
    let g = b.finish();
    let e = export(&g, &opts(Target::Ios15, Precision::Fp16)).unwrap_err();
    let msg = e.to_string();
    let nodes = unsupported(e);
    // The input and the output are reported; the relu in between is skipped.
    let kinds: Vec<&str> = nodes.iter().map(|n| n.1.as_str()).collect();
    assert_eq!(kinds, ["input", "output"], "{msg}");
    assert!(msg.contains("iOS16"), "{msg}");
    export_ok(&g, &opts(Target::Ios16, Precision::Fp16));
}

#[test]
fn bool_and_scalar_interfaces_are_refused() {
    let mut b = G::new("bools");
    let x = b.input_t("mask", DType::Bool, &[4]);
    let y = b.node("as_f", Op::Cast { to: DType::F32 }, &[x]);
    let s = b.input("scalar", &[]);
    let z = b.node("t", Op::Unary(UnaryOp::Tanh), &[s]);
    b.output(y);
    b.output(z);
    let e = export(&b.finish(), &ExportOptions::default()).unwrap_err();
    let nodes = unsupported(e);
    let names: Vec<&str> = nodes.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(names, ["mask", "scalar", "t"]);
    assert!(nodes[0].2.contains("bool"));
    assert!(nodes[1].2.contains("scalar"));
}

#[test]
fn nhwc_graphs_are_rejected() {
    let mut b = G::new("nhwc");
    let x = b.input("x", &[1, 8, 8, 4]);
    let w = b.weight("w", &[6, 4, 3, 3]);
    let op = Op::Conv(edgeport_ir::ops::Conv {
        strides: [1, 1],
        dilations: [1, 1],
        pads: [0; 4],
        group: 1,
        layout: Layout::Nhwc,
    });
    let y = b.node("conv", op, &[x, w]);
    b.output(y);
    match export(&b.finish(), &ExportOptions::default()) {
        Err(CoremlError::Invalid(m)) => assert!(m.contains("NHWC"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn unsupported_features_have_reasons() {
    let mut b = G::new("misc");
    let x = b.input("x", &[1, 4, 6, 6]);
    // Empty split output.
    let parts = b.nodes(
        "split",
        Op::Split {
            axis: 1,
            sizes: vec![4, 0],
        },
        &[x],
    );
    // Transposed convolution with runtime weights.
    let w = b.input("w", &[4, 2, 3, 3]);
    let ct = ConvTranspose {
        strides: [1, 1],
        dilations: [1, 1],
        pads: [0; 4],
        output_padding: [0, 0],
        group: 1,
        layout: Layout::Nchw,
    };
    let y = b.node("deconv", Op::ConvTranspose(ct), &[x, w]);
    // Linear resize to a single row with align_corners has no MIL sampling mode.
    let r = Resize {
        mode: ResizeMode::Linear,
        coord: CoordMode::AlignCorners,
        size: [1, 12],
        layout: Layout::Nchw,
    };
    let z = b.node("resize", Op::Resize(r), &[x]);
    // An int64 constant beyond int32.
    let xi = b.input_t("ids", DType::I64, &[2]);
    let big = b.konst("big", Tensor::from_i64(vec![1], vec![1 << 40]).unwrap());
    let s = b.node("shift", Op::Binary(BinaryOp::Add), &[xi, big]);
    b.output(parts[0]);
    b.output(y);
    b.output(z);
    b.output(s);
    let nodes = unsupported(export(&b.finish(), &ExportOptions::default()).unwrap_err());
    let got: Vec<(&str, &str)> = nodes.iter().map(|n| (n.0.as_str(), n.1.as_str())).collect();
    assert_eq!(
        got,
        [
            ("split", "Split"),
            ("deconv", "ConvTranspose"),
            ("resize", "Resize"),
            ("shift", "Add")
        ]
    );
    assert!(nodes[0].2.contains("zero-sized"));
    assert!(nodes[1].2.contains("constant weights"));
    assert!(nodes[2].2.contains("sampling mode"));
    assert!(nodes[3].2.contains("int32"));
}

#[test]
fn dilated_conv_with_runtime_weights_is_refused() {
    let mut b = G::new("dyn_conv");
    let x = b.input("x", &[1, 2, 8, 8]);
    let w = b.input("w", &[3, 2, 3, 3]);
    let y = b.node("conv", conv_op([0; 4], [1, 1], [2, 2], 1), &[x, w]);
    let z = b.node("conv_plain", conv_op([0; 4], [1, 1], [1, 1], 1), &[x, w]);
    b.output(y);
    b.output(z);
    let nodes = unsupported(export(&b.finish(), &ExportOptions::default()).unwrap_err());
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].0, "conv");
}

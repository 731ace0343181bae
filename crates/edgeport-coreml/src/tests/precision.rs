//! Mixed precision: which ops the fp16 program keeps in float32, and the casts between them.

use edgeport_ir::ops::UnaryOp;
use edgeport_ir::{Graph, Op, Tensor};

use super::structure::conv_op;
use super::{G, coremltools_check, export_ok, op_types, opts, value_type};
use crate::proto::DataType;
use crate::{CoremlError, ExportOptions, Fp32Ops, LARGE_WEIGHT, Precision, Target, export};

/// image -> conv "amp" (one weight of LARGE_WEIGHT) -> relu -> conv "tail" (small) -> output.
/// The rule keeps "amp" and its upstream (here only the input) in fp32.
fn amplifying_net() -> Graph {
    let mut b = G::new("amp");
    let x = b.input("image", &[1, 2, 6, 6]);
    let mut wv = super::det_data(4 * 2 * 9, 7);
    wv[5] = LARGE_WEIGHT;
    let w = b.konst(
        "amp.weight",
        Tensor::from_f32(vec![4, 2, 3, 3], wv).unwrap(),
    );
    let y = b.node("amp", conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1), &[x, w]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    let w2 = b.weight("tail.weight", &[3, 4, 1, 1]);
    let z = b.node("tail", conv_op([0, 0, 0, 0], [1, 1], [1, 1], 1), &[r, w2]);
    b.output(z);
    b.finish()
}

fn with_fp32_ops(fp32_ops: Fp32Ops) -> ExportOptions {
    ExportOptions {
        fp32_ops,
        ..opts(Target::Ios16, Precision::Fp16)
    }
}

#[test]
fn large_weights_and_everything_upstream_stay_fp32() {
    let g = amplifying_net();
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp16));
    let m = p.model().unwrap();
    // No cast after the input (its only consumer computes in fp32); the ops after the
    // amplifying conv are fp16 again.
    assert_eq!(op_types(&p), ["conv", "cast", "relu", "conv", "cast"]);
    assert_eq!(value_type(&m, "amp").0, DataType::Float32);
    assert_eq!(value_type(&m, "amp_weight_fp32").0, DataType::Float32);
    assert_eq!(value_type(&m, "relu").0, DataType::Float16);
    assert_eq!(value_type(&m, "tail_weight").0, DataType::Float16);
    coremltools_check("mixed", &[("amp".into(), p)]);
}

#[test]
fn pure_fp16_and_named_nodes_override_the_rule() {
    let g = amplifying_net();
    let pure = export_ok(&g, &with_fp32_ops(Fp32Ops::none()));
    assert_eq!(op_types(&pure), ["cast", "conv", "relu", "conv", "cast"]);
    assert_eq!(
        value_type(&pure.model().unwrap(), "amp").0,
        DataType::Float16
    );

    let named = Fp32Ops {
        auto: false,
        nodes: ["tail".to_string()].into(),
    };
    let p = export_ok(&g, &with_fp32_ops(named));
    let m = p.model().unwrap();
    assert_eq!(value_type(&m, "amp").0, DataType::Float16);
    assert_eq!(value_type(&m, "tail_weight_fp32").0, DataType::Float32);
    coremltools_check("named", &[("named".into(), p)]);
}

#[test]
fn unknown_node_names_are_an_option_error() {
    let named = Fp32Ops {
        auto: true,
        nodes: ["nope".to_string()].into(),
    };
    match export(&amplifying_net(), &with_fp32_ops(named)) {
        Err(CoremlError::BadOption(m)) => assert!(m.contains("'nope'"), "{m}"),
        other => panic!("expected an option error, got {other:?}"),
    }
}

#[test]
fn fp32_precision_ignores_the_selection() {
    let g = amplifying_net();
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp32));
    assert_eq!(op_types(&p), ["conv", "relu", "conv"]);
}

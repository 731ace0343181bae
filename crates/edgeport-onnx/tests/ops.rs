//! One or more small models per op family, checking the imported IR (shapes, ops, folding).
//! Expected shapes are onnxruntime's (checked with scripts/ort_shapes.py on the dumped models).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeport_ir::ops::{CoordMode, NearestMode, PoolKind, ResizeMode};
use edgeport_ir::{DType, Op};

// ----- convolution ----------------------------------------------------------------------------

#[test]
fn conv_pads_strides_dilations() {
    let m = unary_model(13, &[1, 3, 17, 17], op("Conv", &["x", "w", "b"], vec![ints("pads", &[1, 2, 1, 0]), ints("strides", &[2, 2]), ints("dilations", &[2, 1])]))
        .weight("w", &[8, 3, 3, 3])
        .weight("b", &[8])
        .ok("conv_pads");
    // H: (17 + 2 - 5) / 2 + 1 = 8; W: (17 + 2 - 3) / 2 + 1 = 9
    assert_eq!(y_shape(&m), [1, 8, 8, 9]);
    let Op::Conv(c) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!(c.pads, [1, 2, 1, 0]);
    assert_eq!(m.graph.nodes[0].name, "Conv");
    assert_eq!(m.graph.nodes[0].source_op, "Conv");
}

#[test]
fn conv_depthwise_and_auto_pad() {
    for (mode, pads) in [("SAME_UPPER", [0, 0, 1, 1]), ("SAME_LOWER", [1, 1, 0, 0]), ("VALID", [0, 0, 0, 0])] {
        let m = unary_model(11, &[1, 4, 8, 8], op("Conv", &["x", "w"], vec![s("auto_pad", mode), ai("group", 4), ints("strides", &[2, 2]), ints("kernel_shape", &[3, 3])]))
            .weight("w", &[4, 1, 3, 3])
            .ok(&format!("conv_auto_pad_{mode}"));
        let Op::Conv(c) = &m.graph.nodes[0].op else { panic!() };
        assert_eq!(c.pads, pads, "{mode}");
        assert_eq!(c.group, 4);
        let want = if mode == "VALID" { [1, 4, 3, 3] } else { [1, 4, 4, 4] };
        assert_eq!(y_shape(&m), want, "{mode}");
    }
}

#[test]
fn conv_1d_is_imported_as_2d() {
    let m = unary_model(13, &[1, 4, 10], op("Conv", &["x", "w"], vec![ints("pads", &[1, 1])])).weight("w", &[6, 4, 3]).ok("conv_1d");
    assert_eq!(y_shape(&m), [1, 6, 10]);
    assert_eq!(ops(&m), ["Reshape", "Conv", "Reshape"]);
}

#[test]
fn conv_needs_constant_weights() {
    let (_, e) = Model::new(13)
        .input("x", F32, &[1, 3, 8, 8])
        .input("w", F32, &[4, 3, 3, 3])
        .node(node("Conv", "c1", &["x", "w"], &["y"], vec![]))
        .output("y")
        .err();
    assert_eq!(e, "1 unsupported ONNX op: c1 (Conv: the weight input must be constant)");
}

#[test]
fn conv_transpose_output_padding_and_shape() {
    let m = unary_model(13, &[1, 4, 5, 5], op("ConvTranspose", &["x", "w"], vec![ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1]), ints("output_padding", &[1, 1])]))
        .weight("w", &[4, 2, 3, 3])
        .ok("convtranspose_output_padding");
    // 2 * 4 + 1 + 3 - 2 = 10
    assert_eq!(y_shape(&m), [1, 2, 10, 10]);

    let m = unary_model(13, &[1, 4, 5, 5], op("ConvTranspose", &["x", "w"], vec![ints("strides", &[2, 2]), ints("output_shape", &[10, 9])]))
        .weight("w", &[4, 2, 3, 3])
        .ok("convtranspose_output_shape");
    assert_eq!(y_shape(&m), [1, 2, 10, 9]);
    let Op::ConvTranspose(c) = &m.graph.nodes[0].op else { panic!() };
    // full = 11: total 1 -> (1, 0) on H; total 2 -> (1, 1) on W
    assert_eq!(c.pads, [1, 1, 0, 1]);

    let m = unary_model(13, &[1, 4, 5, 5], op("ConvTranspose", &["x", "w"], vec![ints("strides", &[2, 2]), s("auto_pad", "SAME_UPPER"), ai("group", 2)]))
        .weight("w", &[4, 1, 3, 3])
        .ok("convtranspose_same_upper");
    assert_eq!(y_shape(&m), [1, 2, 10, 10]);
}

#[test]
fn batch_norm_becomes_mul_add_with_channel_constants() {
    let m = unary_model(15, &[1, 3, 4, 4], op("BatchNormalization", &["x", "s", "b", "m", "v"], vec![af("epsilon", 0.0)]))
        .init_f32("s", &[3], vec![1.0, 2.0, 3.0])
        .init_f32("b", &[3], vec![0.5, 0.5, 0.5])
        .init_f32("m", &[3], vec![1.0, 1.0, 1.0])
        .init_f32("v", &[3], vec![1.0, 4.0, 9.0])
        .ok("batchnorm");
    assert_eq!(ops(&m), ["Mul", "Add"]);
    let g = &m.graph;
    let scale = g.constant(g.nodes[0].inputs[1]).unwrap();
    assert_eq!(scale.shape(), [3, 1, 1]);
    assert_eq!(scale.as_f32().unwrap(), [1.0, 1.0, 1.0]);
    let shift = g.constant(g.nodes[1].inputs[1]).unwrap();
    assert_eq!(shift.as_f32().unwrap(), [-0.5, -0.5, -0.5]);
    assert_eq!(g.nodes[0].name, "BatchNormalization");
    assert_eq!(g.nodes[1].name, "BatchNormalization/add");
    assert_eq!(y_shape(&m), [1, 3, 4, 4]);
}

// ----- activations and elementwise -------------------------------------------------------------

#[test]
fn unary_activations() {
    for (onnx, ir) in [
        ("Relu", "Relu"),
        ("Sigmoid", "Sigmoid"),
        ("Tanh", "Tanh"),
        ("Erf", "Erf"),
        ("Sqrt", "Sqrt"),
        ("Reciprocal", "Reciprocal"),
        ("Exp", "Exp"),
        ("Log", "Log"),
        ("Neg", "Neg"),
        ("Abs", "Abs"),
        ("Floor", "Floor"),
        ("Ceil", "Ceil"),
    ] {
        let m = unary_model(13, &[2, 3], op(onnx, &["x"], vec![])).ok(&format!("unary_{onnx}"));
        assert_eq!(ops(&m), [ir], "{onnx}");
        assert_eq!(y_shape(&m), [2, 3]);
    }
    let m = unary_model(14, &[2, 3], op("HardSwish", &["x"], vec![])).ok("hardswish");
    assert_eq!(ops(&m), ["HardSwish"]);
    let m = unary_model(20, &[2, 3], op("Gelu", &["x"], vec![s("approximate", "tanh")])).ok("gelu_tanh");
    assert_eq!(ops(&m), ["GeluTanh"]);
    let m = unary_model(20, &[2, 3], op("Gelu", &["x"], vec![])).ok("gelu");
    assert_eq!(ops(&m), ["Gelu"]);
}

#[test]
fn parametric_activations() {
    let m = unary_model(13, &[1, 2], op("LeakyRelu", &["x"], vec![af("alpha", 0.2)])).ok("leakyrelu");
    assert_eq!(m.graph.nodes[0].op, Op::LeakyRelu { alpha: 0.2 });
    let m = unary_model(13, &[1, 2], op("HardSigmoid", &["x"], vec![])).ok("hardsigmoid");
    assert_eq!(m.graph.nodes[0].op, Op::HardSigmoid { alpha: 0.2, beta: 0.5 });
    let m = unary_model(13, &[1, 3, 2, 2], op("PRelu", &["x", "slope"], vec![])).weight("slope", &[3, 1, 1]).ok("prelu");
    assert_eq!(ops(&m), ["PRelu"]);
}

#[test]
fn clip_attrs_and_inputs() {
    let m = unary_model(9, &[4], op("Clip", &["x"], vec![af("min", 0.0), af("max", 6.0)])).ok("clip_attrs");
    assert_eq!(m.graph.nodes[0].op, Op::Clip { min: 0.0, max: 6.0 });
    let m = unary_model(12, &[4], op("Clip", &["x", "lo", "hi"], vec![]))
        .init_f32("lo", &[], vec![-1.0])
        .init_f32("hi", &[], vec![1.0])
        .ok("clip_inputs");
    assert_eq!(m.graph.nodes[0].op, Op::Clip { min: -1.0, max: 1.0 });
    let m = unary_model(12, &[4], op("Clip", &["x", "", "hi"], vec![])).init_f32("hi", &[], vec![1.0]).ok("clip_max_only");
    assert_eq!(m.graph.nodes[0].op, Op::Clip { min: f32::NEG_INFINITY, max: 1.0 });
    let m = unary_model(12, &[4], op("Clip", &["x"], vec![])).ok("clip_none");
    assert_eq!(m.graph.nodes[0].op, Op::Clip { min: f32::NEG_INFINITY, max: f32::INFINITY });
}

#[test]
fn binary_ops_broadcast() {
    for name in ["Add", "Sub", "Mul", "Div", "Pow"] {
        let m = Model::new(13)
            .input("a", F32, &[2, 1, 4])
            .input("b", F32, &[3, 1])
            .node(op(name, &["a", "b"], vec![]))
            .output("y")
            .ok(&format!("binary_{name}"));
        assert_eq!(y_shape(&m), [2, 3, 4], "{name}");
        assert_eq!(ops(&m), [name]);
    }
}

#[test]
fn variadic_ops_chain() {
    for (name, ir) in [("Sum", ["Add", "Add"]), ("Min", ["Min", "Min"]), ("Max", ["Max", "Max"])] {
        let m = Model::new(13)
            .input("a", F32, &[2, 3])
            .input("b", F32, &[3])
            .input("c", F32, &[2, 1])
            .node(op(name, &["a", "b", "c"], vec![]))
            .output("y")
            .ok(&format!("variadic_{name}"));
        assert_eq!(ops(&m), ir);
        assert_eq!(y_shape(&m), [2, 3]);
        assert_eq!(m.graph.nodes[1].name, name);
    }
    let m = Model::new(13)
        .input("a", F32, &[2, 3])
        .input("b", F32, &[2, 3])
        .node(op("Mean", &["a", "b"], vec![]))
        .output("y")
        .ok("mean");
    assert_eq!(ops(&m), ["Add", "Div"]);
}

#[test]
fn integer_activations_are_kept() {
    // int64 data flowing as activations: Add, Mul, Neg.
    let m = Model::new(13)
        .input("a", I64, &[4])
        .init_i64("k", &[1], vec![3])
        .node(node("Mul", "mul", &["a", "k"], &["t"], vec![]))
        .node(node("Neg", "neg", &["t"], &["y"], vec![]))
        .output("y")
        .ok("int_activations");
    assert_eq!(out(&m, "y").dtype, DType::I64);
    assert_eq!(ops(&m), ["Mul", "Sub"]);
}

// ----- folding-only ops -------------------------------------------------------------------------

#[test]
fn folding_only_ops_fold_constants() {
    // Range(0, 6, 2) -> [0, 2, 4]; Equal with [0, 0, 4] -> [T, F, T]; Not; Where picks.
    let m = Model::new(13)
        .input("x", F32, &[3])
        .init_i64("start", &[], vec![0])
        .init_i64("limit", &[], vec![6])
        .init_i64("delta", &[], vec![2])
        .init_i64("other", &[3], vec![0, 0, 4])
        .init_f32("ones", &[3], vec![1.0, 1.0, 1.0])
        .init_f32("zeros", &[3], vec![0.0, 0.0, 0.0])
        .node(node("Range", "range", &["start", "limit", "delta"], &["r"], vec![]))
        .node(node("Equal", "eq", &["r", "other"], &["e"], vec![]))
        .node(node("Not", "not", &["e"], &["ne"], vec![]))
        .node(node("Where", "where", &["ne", "ones", "zeros"], &["w"], vec![]))
        .node(node("NonZero", "nz", &["w"], &["nzi"], vec![]))
        .node(node("Cast", "cast", &["nzi"], &["nzf"], vec![ai("to", F32 as i64)]))
        .node(node("Expand", "expand", &["w", "shape"], &["ex"], vec![]))
        .init_i64("shape", &[2], vec![2, 3])
        .node(node("Mul", "mul", &["x", "w"], &["y"], vec![]))
        .node(node("Add", "add", &["ex", "x"], &["y2"], vec![]))
        .node(node("Add", "add2", &["nzf", "x"], &["y3"], vec![]))
        .output("y")
        .output("y2")
        .output("y3")
        .ok("folding_only");
    assert_eq!(ops(&m), ["Mul", "Add", "Add"]);
    let g = &m.graph;
    let w = g.constant(g.nodes[0].inputs[1]).unwrap();
    assert_eq!(w.as_f32().unwrap(), [0.0, 1.0, 0.0]);
    assert_eq!(out(&m, "y2").shape, [2, 3]);
    // NonZero of [0, 1, 0] -> [[1]] as float, broadcast with [3].
    assert_eq!(out(&m, "y3").shape, [1, 3]);
}

#[test]
fn folding_only_ops_are_unsupported_on_runtime_values() {
    let (kind, e) = Model::new(13)
        .input("x", F32, &[3])
        .input("z", F32, &[3])
        .node(node("Equal", "eq", &["x", "z"], &["e"], vec![]))
        .node(node("NonZero", "nz", &["x"], &["n"], vec![]))
        .node(node("Cast", "c", &["n"], &["nf"], vec![ai("to", 1)]))
        .node(node("Where", "wh", &["e", "x", "nf"], &["y"], vec![]))
        .output("y")
        .err();
    assert_eq!(kind, edgeport_onnx::ErrorKind::Unsupported);
    assert_eq!(
        e,
        "2 unsupported ONNX ops: eq (Equal: only supported when all inputs are constant, but input #0 is computed at run time), \
         nz (NonZero: only supported when all inputs are constant, but input #0 is computed at run time)"
    );
}

#[test]
fn expand_runtime_value_with_constant_shape() {
    let m = unary_model(13, &[3, 1], op("Expand", &["x", "shape"], vec![])).init_i64("shape", &[3], vec![2, 1, 4]).ok("expand_runtime");
    assert_eq!(y_shape(&m), [2, 3, 4]);
    assert_eq!(ops(&m), ["Reshape", "Concat", "Concat"]);
}

// ----- matmul and gemm --------------------------------------------------------------------------

#[test]
fn matmul_broadcasts() {
    let m = Model::new(13)
        .input("a", F32, &[2, 1, 3, 4])
        .input("b", F32, &[5, 4, 6])
        .node(op("MatMul", &["a", "b"], vec![]))
        .output("y")
        .ok("matmul");
    assert_eq!(y_shape(&m), [2, 5, 3, 6]);
}

#[test]
fn gemm_lowers_to_matmul_add() {
    let m = unary_model(13, &[2, 4], op("Gemm", &["x", "w", "c"], vec![ai("transB", 1), af("alpha", 2.0), af("beta", 0.5)]))
        .weight("w", &[3, 4])
        .init_f32("c", &[3], vec![2.0, 4.0, 6.0])
        .ok("gemm");
    assert_eq!(ops(&m), ["MatMul", "Add"]);
    let g = &m.graph;
    let b = g.constant(g.nodes[0].inputs[1]).unwrap();
    assert_eq!(b.shape(), [4, 3]);
    // w[0][1] = 0.01 -> transposed at [1][0], times alpha 2
    assert!((b.as_f32().unwrap()[3] - 0.02).abs() < 1e-6);
    let c = g.constant(g.nodes[1].inputs[1]).unwrap();
    assert_eq!(c.as_f32().unwrap(), [1.0, 2.0, 3.0]);
    assert_eq!(g.nodes[1].name, "Gemm");
    assert_eq!(y_shape(&m), [2, 3]);

    let m = unary_model(13, &[4, 2], op("Gemm", &["x", "w"], vec![ai("transA", 1)])).weight("w", &[4, 3]).ok("gemm_trans_a");
    assert_eq!(ops(&m), ["Transpose", "MatMul"]);
    assert_eq!(y_shape(&m), [2, 3]);
}

// ----- pooling ----------------------------------------------------------------------------------

#[test]
fn global_pools_reduce_spatial_axes() {
    let m = unary_model(13, &[1, 8, 5, 7], op("GlobalAveragePool", &["x"], vec![])).ok("gap");
    let Op::Reduce(r) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((r.axes.as_slice(), r.keep_dims), (&[2, 3][..], true));
    assert_eq!(y_shape(&m), [1, 8, 1, 1]);
    let m = unary_model(13, &[1, 8, 5, 7], op("GlobalMaxPool", &["x"], vec![])).ok("gmp");
    assert_eq!(ops(&m), ["ReduceMax"]);
}

#[test]
fn pools_ceil_mode_matches_onnx_sizes() {
    // 112 -> k3 s2 p1 ceil: ceil(111/2)+1 = 57, last window starts at 112 >= 112+1? no -> 57
    let m = unary_model(13, &[1, 2, 112, 112], op("MaxPool", &["x"], vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1]), ai("ceil_mode", 1)]))
        .ok("maxpool_ceil");
    assert_eq!(y_shape(&m), [1, 2, 57, 57]);
    // 6 -> k2 s2 ceil, no pads: 3 (no extra); 7 -> 4 with one extra bottom/right row
    let m = unary_model(13, &[1, 2, 7, 6], op("AveragePool", &["x"], vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2]), ai("ceil_mode", 1)]))
        .ok("avgpool_ceil");
    assert_eq!(y_shape(&m), [1, 2, 4, 3]);
    let Op::Pool(p) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((p.kind, p.pads), (PoolKind::Avg, [0, 0, 1, 0]));
    // The last window would start inside the end padding: dropped (4 + 1 pad, k2 s2 -> 2, not 3).
    let m = unary_model(13, &[1, 1, 4, 4], op("AveragePool", &["x"], vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2]), ints("pads", &[0, 0, 1, 1]), ai("ceil_mode", 1)]))
        .ok("avgpool_ceil_drop");
    assert_eq!(y_shape(&m), [1, 1, 2, 2]);
    // count_include_pad: the extra ceil padding counts like explicit padding (onnxruntime divides
    // the 8x8, k3 s2 corner window by 9), so the flag is kept as it is.
    let m = unary_model(13, &[1, 1, 8, 8], op("AveragePool", &["x"], vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), ai("ceil_mode", 1), ai("count_include_pad", 1)]))
        .ok("avgpool_ceil_count_pad_extra");
    assert_eq!(y_shape(&m), [1, 1, 4, 4]);
    let Op::Pool(p) = &m.graph.nodes[0].op else { panic!() };
    assert!(p.count_include_pad);
    assert_eq!(p.pads, [0, 0, 1, 1]);
    let m = unary_model(13, &[1, 1, 8, 8], op("AveragePool", &["x"], vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1]), ai("ceil_mode", 1), ai("count_include_pad", 1)]))
        .ok("avgpool_ceil_count_pad_real_and_extra");
    assert_eq!(y_shape(&m), [1, 1, 5, 5]);
}

#[test]
fn maxpool_indices_output_is_unsupported() {
    let (_, e) = Model::new(13)
        .input("x", F32, &[1, 1, 4, 4])
        .node(node("MaxPool", "mp", &["x"], &["y", "idx"], vec![ints("kernel_shape", &[2, 2])]))
        .output("y")
        .output("idx")
        .err();
    assert_eq!(e, "1 unsupported ONNX op: mp (MaxPool: the Indices output is not supported)");
    // Unused indices output: fine.
    let m = Model::new(13)
        .input("x", F32, &[1, 1, 4, 4])
        .node(node("MaxPool", "mp", &["x"], &["y", "idx"], vec![ints("kernel_shape", &[2, 2]), s("auto_pad", "SAME_UPPER")]))
        .output("y")
        .ok("maxpool_same");
    assert_eq!(y_shape(&m), [1, 1, 4, 4]);
}

// ----- shape ops --------------------------------------------------------------------------------

#[test]
fn flatten_reshape_transpose() {
    let m = unary_model(13, &[2, 3, 4, 5], op("Flatten", &["x"], vec![ai("axis", -2)])).ok("flatten");
    assert_eq!(y_shape(&m), [6, 20]);
    let m = unary_model(13, &[2, 3, 4], op("Reshape", &["x", "s"], vec![])).init_i64("s", &[3], vec![0, -1, 2]).ok("reshape");
    assert_eq!(y_shape(&m), [2, 6, 2]);
    let m = unary_model(14, &[2, 0, 4], op("Reshape", &["x", "s"], vec![ai("allowzero", 1)])).init_i64("s", &[2], vec![0, 4]).ok("reshape_allowzero");
    assert_eq!(y_shape(&m), [0, 4]);
    let m = unary_model(13, &[2, 3, 4], op("Transpose", &["x"], vec![])).ok("transpose_default");
    assert_eq!(y_shape(&m), [4, 3, 2]);
    let m = unary_model(13, &[2, 3, 4], op("Transpose", &["x"], vec![ints("perm", &[0, 2, 1])])).ok("transpose");
    assert_eq!(y_shape(&m), [2, 4, 3]);
}

#[test]
fn shape_chain_folds_into_reshape_target() {
    // Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape: the flatten of torch exports.
    let m = Model::new(13)
        .input("x", F32, &[2, 3, 4])
        .node(node("Shape", "shape", &["x"], &["s"], vec![]))
        .init_i64("zero", &[], vec![0])
        .init_i64("ax", &[1], vec![0])
        .init_i64("minus1", &[1], vec![-1])
        .node(node("Gather", "gather", &["s", "zero"], &["n"], vec![]))
        .node(node("Unsqueeze", "unsq", &["n", "ax"], &["n1"], vec![]))
        .node(node("Concat", "cat", &["n1", "minus1"], &["target"], vec![ai("axis", 0)]))
        .node(node("Reshape", "reshape", &["x", "target"], &["y"], vec![]))
        .output("y")
        .ok("shape_chain");
    assert_eq!(ops(&m), ["Reshape"]);
    assert_eq!(m.graph.nodes[0].op, Op::Reshape { shape: vec![2, 12] });
    assert_eq!(m.graph.nodes[0].name, "reshape");
}

#[test]
fn shape_start_end_and_size() {
    let m = Model::new(15)
        .input("x", F32, &[2, 3, 4, 5])
        .node(node("Shape", "shape", &["x"], &["s"], vec![ai("start", 1), ai("end", -1)]))
        .node(node("Size", "size", &["x"], &["n"], vec![]))
        .output("s")
        .output("n")
        .ok("shape_start_end");
    let g = &m.graph;
    // Constant outputs become identity Reshape nodes so they are real node outputs.
    assert_eq!(ops(&m), ["Reshape", "Reshape"]);
    assert_eq!(g.constant(g.nodes[0].inputs[0]).unwrap().to_i64_vec(), [3, 4]);
    assert_eq!(g.constant(g.nodes[1].inputs[0]).unwrap().to_i64_vec(), [120]);
    assert_eq!(out(&m, "n").shape, Vec::<usize>::new());
}

#[test]
fn concat_and_split() {
    let m = Model::new(13)
        .input("a", F32, &[1, 2, 4])
        .input("b", F32, &[1, 3, 4])
        .node(op("Concat", &["a", "b"], vec![ai("axis", -2)]))
        .output("y")
        .ok("concat");
    assert_eq!(y_shape(&m), [1, 5, 4]);

    let split = |opset: i64, inputs: &[&str], attrs| {
        Model::new(opset).input("x", F32, &[2, 10]).node(node("Split", "split", inputs, &["p", "q"], attrs)).output("p").output("q")
    };
    let m = split(11, &["x"], vec![ai("axis", 1), ints("split", &[3, 7])]).ok("split_attr");
    assert_eq!((out(&m, "p").shape, out(&m, "q").shape), (vec![2, 3], vec![2, 7]));
    let m = split(13, &["x", "sizes"], vec![ai("axis", -1)]).init_i64("sizes", &[2], vec![6, 4]).ok("split_input");
    assert_eq!((out(&m, "p").shape, out(&m, "q").shape), (vec![2, 6], vec![2, 4]));
    let m = split(13, &["x"], vec![ai("axis", 1)]).ok("split_even");
    assert_eq!(out(&m, "q").shape, [2, 5]);
    let m = Model::new(18)
        .input("x", F32, &[2, 10])
        .node(node("Split", "split", &["x"], &["p", "q", "r"], vec![ai("axis", 1), ai("num_outputs", 3)]))
        .output("p")
        .output("r")
        .ok("split_num_outputs");
    assert_eq!((out(&m, "p").shape, out(&m, "r").shape), (vec![2, 4], vec![2, 2]));
}

#[test]
fn slice_clamps_and_negative_steps() {
    let m = unary_model(9, &[10, 8], op("Slice", &["x"], vec![ints("starts", &[1, -3]), ints("ends", &[1000, -1]), ints("axes", &[0, 1])])).ok("slice_attrs");
    assert_eq!(y_shape(&m), [9, 2]);
    let big = i64::MAX;
    let m = unary_model(13, &[10, 8], op("Slice", &["x", "st", "en", "ax", "sp"], vec![]))
        .init_i64("st", &[2], vec![-1, 0])
        .init_i64("en", &[2], vec![-big, big])
        .init_i64("ax", &[2], vec![0, -1])
        .init_i64("sp", &[2], vec![-3, 3])
        .ok("slice_steps");
    // axis 0: 9, 6, 3, 0 -> 4; axis 1: 0, 3, 6 -> 3
    assert_eq!(y_shape(&m), [4, 3]);
    let Op::Slice(sl) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((sl.starts.as_slice(), sl.ends.as_slice()), (&[9, 0][..], &[-1, 8][..]));
    // A whole-axis slice disappears.
    let m = unary_model(13, &[4], op("Slice", &["x", "st", "en"], vec![])).init_i64("st", &[1], vec![0]).init_i64("en", &[1], vec![big]).ok("slice_noop");
    assert_eq!(ops(&m), ["Reshape"]);
    // Steps beyond the axis and empty results.
    let m = unary_model(13, &[4, 5], op("Slice", &["x", "st", "en", "ax", "sp"], vec![]))
        .init_i64("st", &[2], vec![1, 3])
        .init_i64("en", &[2], vec![4, 1])
        .init_i64("ax", &[2], vec![0, 1])
        .init_i64("sp", &[2], vec![big, 1])
        .ok("slice_big_step");
    assert_eq!(y_shape(&m), [1, 0]);
}

#[test]
fn gather_constant_and_runtime_indices() {
    let m = unary_model(13, &[5, 3], op("Gather", &["x", "i"], vec![ai("axis", 0)])).init_i64("i", &[2, 2], vec![0, -1, 2, -5]).ok("gather_const");
    assert_eq!(y_shape(&m), [2, 2, 3]);
    let g = &m.graph;
    assert_eq!(g.constant(g.nodes[0].inputs[1]).unwrap().to_i64_vec(), [0, 4, 2, 0]);
    let m = Model::new(13)
        .input("ids", I64, &[1, 7])
        .weight("emb", &[10, 4])
        .node(op("Gather", &["emb", "ids"], vec![]))
        .output("y")
        .ok("gather_runtime");
    assert_eq!(y_shape(&m), [1, 7, 4]);
    let (_, e) = unary_model(13, &[5, 3], op("Gather", &["x", "i"], vec![ai("axis", 1)])).init_i64("i", &[1], vec![3]).err();
    assert_eq!(e, "node 'Gather' (Gather): index 3 is out of range for axis 1 of [5, 3]");
}

#[test]
fn squeeze_unsqueeze_by_opset() {
    let m = unary_model(11, &[1, 3, 1, 2], op("Squeeze", &["x"], vec![ints("axes", &[-2])])).ok("squeeze_attr");
    assert_eq!(y_shape(&m), [1, 3, 2]);
    let m = unary_model(13, &[1, 3, 1, 2], op("Squeeze", &["x"], vec![])).ok("squeeze_all");
    assert_eq!(y_shape(&m), [3, 2]);
    let m = unary_model(13, &[1, 3, 1, 2], op("Squeeze", &["x", "a"], vec![])).init_i64("a", &[1], vec![0]).ok("squeeze_input");
    assert_eq!(y_shape(&m), [3, 1, 2]);
    let m = unary_model(11, &[3, 2], op("Unsqueeze", &["x"], vec![ints("axes", &[0, -1])])).ok("unsqueeze_attr");
    assert_eq!(y_shape(&m), [1, 3, 2, 1]);
    let m = unary_model(13, &[3, 2], op("Unsqueeze", &["x", "a"], vec![])).init_i64("a", &[2], vec![1, 3]).ok("unsqueeze_input");
    assert_eq!(y_shape(&m), [3, 1, 2, 1]);
    assert_eq!(ops(&m), ["Reshape"]);
}

// ----- reductions, softmax, normalization -------------------------------------------------------

#[test]
fn reductions_by_opset() {
    let m = unary_model(13, &[2, 3, 4], op("ReduceMean", &["x"], vec![ints("axes", &[-1]), ai("keepdims", 0)])).ok("reducemean_attr");
    assert_eq!(y_shape(&m), [2, 3]);
    let m = unary_model(13, &[2, 3, 4], op("ReduceSum", &["x", "a"], vec![])).init_i64("a", &[2], vec![0, 2]).ok("reducesum_input");
    assert_eq!(y_shape(&m), [1, 3, 1]);
    let m = unary_model(13, &[2, 3, 4], op("ReduceSum", &["x"], vec![ai("keepdims", 0)])).ok("reducesum_all");
    assert_eq!(y_shape(&m), Vec::<usize>::new());
    let m = unary_model(13, &[2, 3, 4], op("ReduceSum", &["x"], vec![ai("noop_with_empty_axes", 1)])).ok("reducesum_noop");
    assert_eq!(ops(&m), ["Reshape"]);
    for (name, ir) in [("ReduceMax", "ReduceMax"), ("ReduceMin", "ReduceMin"), ("ReduceProd", "ReduceProd"), ("ReduceMean", "ReduceMean")] {
        let m = unary_model(18, &[2, 3, 4], op(name, &["x", "a"], vec![])).init_i64("a", &[1], vec![1]).ok(&format!("reduce18_{name}"));
        assert_eq!((ops(&m), y_shape(&m)), (vec![ir], vec![2, 1, 4]));
    }
}

#[test]
fn softmax_by_opset() {
    let m = unary_model(13, &[2, 3, 4], op("Softmax", &["x"], vec![ai("axis", 1)])).ok("softmax13");
    assert_eq!(m.graph.nodes[0].op, Op::Softmax { axis: 1 });
    let m = unary_model(11, &[2, 3, 4], op("Softmax", &["x"], vec![ai("axis", -1)])).ok("softmax11_last");
    assert_eq!(m.graph.nodes[0].op, Op::Softmax { axis: 2 });
    // Opset < 13, axis 1 of rank 3: coerced to 2-D [2, 12].
    let m = unary_model(11, &[2, 3, 4], op("Softmax", &["x"], vec![])).ok("softmax11_coerce");
    assert_eq!(ops(&m), ["Reshape", "Softmax", "Reshape"]);
    assert_eq!(m.graph.nodes[0].op, Op::Reshape { shape: vec![2, 12] });
    assert_eq!(y_shape(&m), [2, 3, 4]);
}

#[test]
fn layer_normalization() {
    let m = unary_model(17, &[2, 5, 8], op("LayerNormalization", &["x", "g", "b"], vec![af("epsilon", 1e-6)])).weight("g", &[8]).weight("b", &[8]).ok("layernorm");
    let Op::LayerNorm(l) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((l.axis, l.epsilon), (2, 1e-6));
}

// ----- resize -------------------------------------------------------------------------------

#[test]
fn resize_scales_and_sizes() {
    let m = unary_model(11, &[1, 2, 4, 5], op("Resize", &["x", "roi", "sc"], vec![s("mode", "nearest"), s("coordinate_transformation_mode", "asymmetric"), s("nearest_mode", "floor")]))
        .init_f32("roi", &[0], vec![])
        .init_f32("sc", &[4], vec![1.0, 1.0, 2.0, 2.0])
        .ok("resize_scales");
    assert_eq!(y_shape(&m), [1, 2, 8, 10]);
    let Op::Resize(r) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((r.mode, r.coord), (ResizeMode::Nearest(NearestMode::Floor), CoordMode::Asymmetric));

    let m = unary_model(13, &[1, 2, 4, 5], op("Resize", &["x", "", "", "sz"], vec![s("mode", "linear"), s("coordinate_transformation_mode", "align_corners")]))
        .init_i64("sz", &[4], vec![1, 2, 7, 3])
        .ok("resize_sizes");
    assert_eq!(y_shape(&m), [1, 2, 7, 3]);
    let Op::Resize(r) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((r.mode, r.coord), (ResizeMode::Linear, CoordMode::AlignCorners));

    // Opset 10: scales input, asymmetric.
    let m = unary_model(10, &[1, 2, 4, 5], op("Resize", &["x", "sc"], vec![])).init_f32("sc", &[4], vec![1.0, 1.0, 2.0, 3.0]).ok("resize10");
    assert_eq!(y_shape(&m), [1, 2, 8, 15]);
    // Opset 18 axes.
    let m = unary_model(18, &[1, 2, 4, 5], op("Resize", &["x", "", "sc"], vec![ints("axes", &[2, 3]), s("mode", "linear")]))
        .init_f32("sc", &[2], vec![0.5, 2.0])
        .ok("resize18_axes");
    assert_eq!(y_shape(&m), [1, 2, 2, 10]);
}

#[test]
fn resize_unsupported_reasons() {
    let cubic = unary_model(13, &[1, 2, 4, 4], op("Resize", &["x", "", "sc"], vec![s("mode", "cubic")])).init_f32("sc", &[4], vec![1.0, 1.0, 2.0, 2.0]).err();
    assert_eq!(cubic.1, "1 unsupported ONNX op: Resize (Resize: mode 'cubic' is not supported)");
    let channels = unary_model(13, &[1, 2, 4, 4], op("Resize", &["x", "", "sc"], vec![])).init_f32("sc", &[4], vec![1.0, 2.0, 2.0, 2.0]).err();
    assert!(channels.1.contains("only H and W can be resized"), "{}", channels.1);
    let frac = unary_model(13, &[1, 2, 5, 4], op("Resize", &["x", "", "sc"], vec![])).init_f32("sc", &[4], vec![1.0, 1.0, 1.5, 2.0]).err();
    assert!(frac.1.contains("fractional output size 7.5"), "{}", frac.1);
    let rank3 = unary_model(13, &[2, 4, 4], op("Resize", &["x", "", "sc"], vec![])).init_f32("sc", &[3], vec![1.0, 2.0, 2.0]).err();
    assert!(rank3.1.contains("only 4-D inputs"), "{}", rank3.1);
}

#[test]
fn upsample_is_asymmetric_resize() {
    let m = unary_model(9, &[1, 2, 3, 3], op("Upsample", &["x", "sc"], vec![])).init_f32("sc", &[4], vec![1.0, 1.0, 2.0, 2.0]).ok("upsample9");
    assert_eq!(y_shape(&m), [1, 2, 6, 6]);
    let Op::Resize(r) = &m.graph.nodes[0].op else { panic!() };
    assert_eq!((r.mode, r.coord), (ResizeMode::Nearest(NearestMode::Floor), CoordMode::Asymmetric));
    let m = unary_model(7, &[1, 2, 3, 3], op("Upsample", &["x"], vec![floats("scales", &[1.0, 1.0, 2.0, 3.0]), s("mode", "linear")])).ok("upsample7");
    assert_eq!(y_shape(&m), [1, 2, 6, 9]);
}

// ----- pad, cast, constants ---------------------------------------------------------------------

#[test]
fn pad_modes_and_negative_pads() {
    let m = unary_model(10, &[1, 2, 4, 4], op("Pad", &["x"], vec![ints("pads", &[0, 0, 1, 2, 0, 0, 3, 3]), s("mode", "reflect")])).ok("pad_attrs");
    assert_eq!(y_shape(&m), [1, 2, 8, 9]);
    let m = unary_model(13, &[1, 2, 4, 4], op("Pad", &["x", "p", "v"], vec![s("mode", "constant")]))
        .init_i64("p", &[8], vec![0, 0, -1, 2, 0, 0, 1, -2])
        .init_f32("v", &[], vec![1.5])
        .ok("pad_negative");
    assert_eq!(ops(&m), ["Slice", "Pad"]);
    assert_eq!(y_shape(&m), [1, 2, 4, 4]);
    assert_eq!(m.graph.nodes[1].name, "Pad");
    let m = unary_model(18, &[1, 2, 4, 4], op("Pad", &["x", "p", "", "ax"], vec![s("mode", "edge")]))
        .init_i64("p", &[4], vec![1, 1, 1, 1])
        .init_i64("ax", &[2], vec![-2, -1])
        .ok("pad_axes");
    assert_eq!(y_shape(&m), [1, 2, 6, 6]);
}

#[test]
fn cast_and_constants() {
    let m = Model::new(13)
        .input("x", F32, &[2])
        .node(node("Constant", "c1", &[], &["k"], vec![at("value", tensor_f32("", &[2], vec![1.0, 2.0]))]))
        .node(node("Constant", "c2", &[], &["one"], vec![af("value_float", 1.0)]))
        .node(node("Constant", "c3", &[], &["ints"], vec![ints("value_ints", &[2])]))
        .node(node("ConstantOfShape", "cos", &["ints"], &["z"], vec![at("value", tensor_f32("", &[1], vec![3.0]))]))
        .node(node("Cast", "cast", &["x"], &["xi"], vec![ai("to", I32 as i64)]))
        .node(node("Cast", "cast_back", &["xi"], &["xf"], vec![ai("to", F32 as i64)]))
        .node(node("Add", "add", &["xf", "k"], &["a"], vec![]))
        .node(node("Mul", "mul", &["a", "one"], &["b"], vec![]))
        .node(node("Add", "add2", &["b", "z"], &["y"], vec![]))
        .output("y")
        .ok("cast_constants");
    assert_eq!(ops(&m), ["Cast", "Cast", "Add", "Mul", "Add"]);
    let g = &m.graph;
    assert_eq!(g.constant(g.nodes[4].inputs[1]).unwrap().as_f32().unwrap(), [3.0, 3.0]);
    assert_eq!(m.info.params, 3);
    assert_eq!(m.info.param_bytes, 12);
    assert_eq!(m.info.op_histogram.get("Constant"), Some(&3));
}

#[test]
fn identity_and_dropout_are_removed() {
    let m = unary_model(13, &[2, 2], op("Relu", &["x"], vec![]))
        .node(node("Identity", "id", &["y"], &["z"], vec![]))
        .node(node("Dropout", "drop", &["z"], &["w"], vec![]))
        .node(node("Sigmoid", "sig", &["w"], &["out"], vec![]))
        .output("out")
        .ok("identity_dropout");
    assert_eq!(ops(&m), ["Relu", "Sigmoid"]);
}

// ----- graph-level behaviour ------------------------------------------------------------------

#[test]
fn nodes_in_any_order_and_generated_names() {
    let m = Model::new(13)
        .input("x", F32, &[2])
        .node(node("Sigmoid", "", &["t"], &["y"], vec![]))
        .node(node("Relu", "", &["x"], &["t"], vec![]))
        .output("y")
        .ok("unordered");
    assert_eq!(ops(&m), ["Relu", "Sigmoid"]);
    let names: Vec<&str> = m.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Relu_1", "Sigmoid_0"]);
}

#[test]
fn outputs_that_are_inputs_or_constants_get_nodes() {
    let m = Model::new(13)
        .input("x", F32, &[2])
        .weight("w", &[3])
        .node(node("Identity", "id", &["x"], &["y"], vec![]))
        .node(node("Identity", "id2", &["w"], &["z"], vec![]))
        .node(node("Identity", "id3", &["y"], &["y2"], vec![]))
        .output("y")
        .output("z")
        .output("y2")
        .ok("output_aliases");
    assert_eq!(ops(&m), ["Reshape", "Reshape", "Reshape"]);
    let names: Vec<&str> = m.graph.outputs.iter().map(|&o| m.graph.value(o).name.as_str()).collect();
    assert_eq!(names, ["y", "z", "y2"]);
}

#[test]
fn input_shape_override_applies_first() {
    let model = Model::new(13)
        .input_dims("x", F32, Some(&[Dim::P("N"), Dim::N(3), Dim::Unknown, Dim::N(-1)]))
        .node(op("Relu", &["x"], vec![]))
        .output("y");
    let mut opts = edgeport_onnx::ImportOptions::default();
    opts.input_shapes.insert("x".into(), vec![2, 3, 5, 7]);
    let m = model.import_with(&opts).unwrap();
    assert_eq!(y_shape(&m), [2, 3, 5, 7]);
}

#[test]
fn model_info_is_filled() {
    let m = unary_model(13, &[1, 3, 4, 4], op("Conv", &["x", "w"], vec![])).weight("w", &[2, 3, 1, 1]).ok("info");
    assert_eq!(m.info.ir_version, 8);
    assert_eq!(m.info.opsets.get("ai.onnx"), Some(&13));
    assert_eq!(m.info.producer, "edgeport-tests 1");
    assert_eq!(m.info.params, 6);
    assert_eq!(m.info.param_bytes, 24);
    assert_eq!(m.info.op_histogram.get("Conv"), Some(&1));
}

#[test]
fn every_listed_op_has_an_importer() {
    let ops = edgeport_onnx::supported_ops();
    for name in [
        "Conv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "HardSigmoid", "HardSwish",
        "Sigmoid", "Tanh", "Erf", "Gelu", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Neg",
        "Abs", "Floor", "Ceil", "Min", "Max", "Equal", "Where", "Not", "Range", "Expand", "NonZero", "MatMul", "Gemm",
        "GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool", "Flatten", "Reshape", "Transpose", "Concat",
        "Split", "Slice", "Gather", "Squeeze", "Unsqueeze", "Shape", "Size", "ReduceMean", "ReduceSum", "ReduceMax",
        "ReduceMin", "ReduceProd", "Softmax", "LayerNormalization", "Resize", "Upsample", "Pad", "Cast", "Constant",
        "ConstantOfShape", "Identity", "Dropout", "Sum", "Mean",
    ] {
        assert!(ops.contains(&name), "{name}");
    }
}

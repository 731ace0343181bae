//! Numeric checks against the real LiteRT interpreter (skipped with a note without the venv).

use edgeport_ir::ops::{
    BinaryOp, ConvTranspose, CoordMode, LayerNorm, NearestMode, Pad, PadMode, Pool, PoolKind,
    Reduce, ReduceKind, Resize, ResizeMode, Slice, UnaryOp,
};
use edgeport_ir::{DType, Layout, Op, Tensor};

use super::structure::conv_op;
use super::{G, check, op_names};

/// `conv` is (pads, strides, dilations, group).
fn conv_case(
    name: &str,
    x: &[usize],
    w: &[usize],
    conv: ([usize; 4], [usize; 2], [usize; 2], usize),
    bias: bool,
) -> Vec<u8> {
    let (pads, strides, dil, group) = conv;
    let mut b = G::new(name);
    let xi = b.input("x", x);
    let wi = b.weight("w", w);
    let mut ins = vec![xi, wi];
    if bias {
        ins.push(b.weight("bias", &[w[0]]));
    }
    let y = b.node("conv", conv_op(pads, strides, dil, group), &ins);
    b.output(y);
    check(&b.finish())
}

#[test]
fn conv_same() {
    let bytes = conv_case(
        "conv_same",
        &[1, 7, 6, 3],
        &[4, 3, 3, 3],
        ([1, 1, 1, 1], [1, 1], [1, 1], 1),
        true,
    );
    assert_eq!(op_names(&bytes), ["CONV_2D"]);
}

#[test]
fn conv_valid_no_bias() {
    let bytes = conv_case(
        "conv_valid",
        &[2, 6, 6, 2],
        &[3, 2, 3, 2],
        ([0; 4], [1, 1], [1, 1], 1),
        false,
    );
    assert_eq!(op_names(&bytes), ["CONV_2D"]);
}

#[test]
fn conv_asymmetric_pads() {
    let bytes = conv_case(
        "conv_asym",
        &[1, 6, 7, 2],
        &[3, 2, 3, 3],
        ([0, 2, 1, 0], [1, 1], [1, 1], 1),
        true,
    );
    assert_eq!(op_names(&bytes), ["PAD", "CONV_2D"]);
}

#[test]
fn conv_stride2_same_and_symmetric() {
    // even input, stride 2, k3: SAME pads are (0, 1); ONNX-style (1, 1) needs an explicit PAD.
    let same = conv_case(
        "conv_s2_same",
        &[1, 8, 8, 3],
        &[4, 3, 3, 3],
        ([0, 0, 1, 1], [2, 2], [1, 1], 1),
        true,
    );
    assert_eq!(op_names(&same), ["CONV_2D"]);
    let sym = conv_case(
        "conv_s2_sym",
        &[1, 8, 8, 3],
        &[4, 3, 3, 3],
        ([1, 1, 1, 1], [2, 2], [1, 1], 1),
        true,
    );
    assert_eq!(op_names(&sym), ["PAD", "CONV_2D"]);
}

#[test]
fn conv_dilation2() {
    let bytes = conv_case(
        "conv_dil2",
        &[1, 9, 9, 2],
        &[3, 2, 3, 3],
        ([2, 2, 2, 2], [1, 1], [2, 2], 1),
        true,
    );
    assert_eq!(op_names(&bytes), ["CONV_2D"]);
}

#[test]
fn depthwise_multiplier() {
    let bytes = conv_case(
        "dw_mult",
        &[1, 6, 6, 3],
        &[6, 1, 3, 3],
        ([1, 1, 1, 1], [1, 1], [1, 1], 3),
        true,
    );
    assert_eq!(op_names(&bytes), ["DEPTHWISE_CONV_2D"]);
    let bytes = conv_case(
        "dw_s2",
        &[1, 7, 7, 4],
        &[4, 1, 3, 3],
        ([1, 1, 1, 1], [2, 2], [1, 1], 4),
        true,
    );
    assert_eq!(op_names(&bytes), ["DEPTHWISE_CONV_2D"]);
}

#[test]
fn grouped_conv() {
    let bytes = conv_case(
        "grouped",
        &[1, 6, 6, 6],
        &[4, 3, 3, 3],
        ([1, 1, 1, 1], [1, 1], [1, 1], 2),
        true,
    );
    assert_eq!(
        op_names(&bytes),
        ["SPLIT", "CONV_2D", "CONV_2D", "CONCATENATION"]
    );
}

#[test]
fn conv_relu_fused() {
    let mut b = G::new("conv_relu_num");
    let x = b.input("x", &[1, 5, 5, 2]);
    let w = b.weight("w", &[3, 2, 3, 3]);
    let y = b.node("conv", conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1), &[x, w]);
    let r = b.node("relu6", Op::Clip { min: 0.0, max: 6.0 }, &[y]);
    b.output(r);
    assert_eq!(op_names(&check(&b.finish())), ["CONV_2D"]);
}

fn tconv_case(
    name: &str,
    x: &[usize],
    w: &[usize],
    c: ConvTranspose,
    bias: bool,
    relu: bool,
) -> Vec<u8> {
    let mut b = G::new(name);
    let xi = b.input("x", x);
    let wi = b.weight("w", w);
    let mut ins = vec![xi, wi];
    if bias {
        ins.push(b.weight("bias", &[w[1] * c.group]));
    }
    let mut y = b.node("tconv", Op::ConvTranspose(c), &ins);
    if relu {
        y = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    }
    b.output(y);
    check(&b.finish())
}

fn tconv(
    strides: [usize; 2],
    pads: [usize; 4],
    output_padding: [usize; 2],
    group: usize,
    dil: [usize; 2],
) -> ConvTranspose {
    ConvTranspose {
        strides,
        dilations: dil,
        pads,
        output_padding,
        group,
        layout: Layout::Nhwc,
    }
}

#[test]
fn transpose_conv_k2s2() {
    let bytes = tconv_case(
        "tconv_k2s2",
        &[1, 4, 5, 3],
        &[3, 2, 2, 2],
        tconv([2, 2], [0; 4], [0, 0], 1, [1, 1]),
        true,
        true,
    );
    assert_eq!(op_names(&bytes), ["TRANSPOSE_CONV"]);
}

#[test]
fn transpose_conv_padded_variants() {
    // k3 s2 p1 op1 (PyTorch's usual 2x upsampling): TFLite's SAME puts the odd padding row
    // at the bottom, PyTorch at the top, so this one needs the crop.
    let b1 = tconv_case(
        "tconv_k3s2p1",
        &[1, 4, 4, 2],
        &[2, 3, 3, 3],
        tconv([2, 2], [1, 1, 1, 1], [1, 1], 1, [1, 1]),
        true,
        false,
    );
    assert_eq!(op_names(&b1), ["TRANSPOSE_CONV", "SLICE"]);
    // k4 s2 p1 is exactly TFLite's SAME.
    let b3 = tconv_case(
        "tconv_same",
        &[1, 4, 4, 2],
        &[2, 3, 4, 4],
        tconv([2, 2], [1, 1, 1, 1], [0, 0], 1, [1, 1]),
        true,
        true,
    );
    assert_eq!(op_names(&b3), ["TRANSPOSE_CONV"]);
    // k3 s1 p2: a crop beyond what SAME pads.
    let b2 = tconv_case(
        "tconv_k3s1p2",
        &[1, 5, 6, 2],
        &[2, 2, 3, 3],
        tconv([1, 1], [2, 2, 2, 2], [0, 0], 1, [1, 1]),
        false,
        false,
    );
    assert_eq!(op_names(&b2), ["TRANSPOSE_CONV", "SLICE"]);
    // output padding past the natural size (bias after the pad, relu fused into the ADD)
    let b4 = tconv_case(
        "tconv_outpad",
        &[1, 3, 3, 2],
        &[2, 2, 2, 2],
        tconv([2, 2], [0; 4], [1, 1], 1, [1, 1]),
        true,
        true,
    );
    assert_eq!(op_names(&b4), ["TRANSPOSE_CONV", "PAD", "ADD"]);
    // grouped and dilated
    tconv_case(
        "tconv_group",
        &[1, 3, 3, 4],
        &[4, 1, 3, 3],
        tconv([1, 1], [0; 4], [0, 0], 2, [2, 2]),
        true,
        true,
    );
}

fn pool_case(
    name: &str,
    kind: PoolKind,
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
    cip: bool,
) -> Vec<u8> {
    let mut b = G::new(name);
    let x = b.input("x", &[1, 7, 8, 3]);
    let p = Pool {
        kind,
        kernel,
        strides,
        pads,
        count_include_pad: cip,
        layout: Layout::Nhwc,
    };
    let y = b.node("pool", Op::Pool(p), &[x]);
    b.output(y);
    check(&b.finish())
}

#[test]
fn pools() {
    assert_eq!(
        op_names(&pool_case(
            "max_valid",
            PoolKind::Max,
            [2, 2],
            [2, 2],
            [0; 4],
            false
        )),
        ["MAX_POOL_2D"]
    );
    assert_eq!(
        op_names(&pool_case(
            "max_same",
            PoolKind::Max,
            [3, 3],
            [1, 1],
            [1, 1, 1, 1],
            false
        )),
        ["MAX_POOL_2D"]
    );
    assert_eq!(
        op_names(&pool_case(
            "max_pads",
            PoolKind::Max,
            [3, 3],
            [2, 2],
            [1, 1, 1, 1],
            false
        )),
        ["PADV2", "MAX_POOL_2D"]
    );
    assert_eq!(
        op_names(&pool_case(
            "avg_same",
            PoolKind::Avg,
            [3, 3],
            [1, 1],
            [1, 1, 1, 1],
            false
        )),
        ["AVERAGE_POOL_2D"]
    );
    assert_eq!(
        op_names(&pool_case(
            "avg_incl",
            PoolKind::Avg,
            [3, 3],
            [1, 1],
            [1, 1, 1, 1],
            true
        )),
        ["PAD", "AVERAGE_POOL_2D"]
    );
    assert_eq!(
        op_names(&pool_case(
            "avg_excl",
            PoolKind::Avg,
            [3, 3],
            [2, 2],
            [1, 1, 1, 1],
            false
        )),
        ["PAD", "AVERAGE_POOL_2D", "MUL"]
    );
    pool_case("avg_global", PoolKind::Avg, [7, 8], [1, 1], [0; 4], false);
}

fn resize_case(
    name: &str,
    mode: ResizeMode,
    coord: CoordMode,
    input: [usize; 2],
    size: [usize; 2],
) -> Vec<u8> {
    let mut b = G::new(name);
    let x = b.input("x", &[1, input[0], input[1], 2]);
    let y = b.node(
        "resize",
        Op::Resize(Resize {
            mode,
            coord,
            size,
            layout: Layout::Nhwc,
        }),
        &[x],
    );
    b.output(y);
    check(&b.finish())
}

#[test]
fn resize_linear_modes() {
    for (i, coord) in [
        CoordMode::HalfPixel,
        CoordMode::AlignCorners,
        CoordMode::Asymmetric,
        CoordMode::PytorchHalfPixel,
    ]
    .into_iter()
    .enumerate()
    {
        let up = resize_case(
            &format!("bilinear_up_{i}"),
            ResizeMode::Linear,
            coord,
            [4, 5],
            [8, 9],
        );
        assert_eq!(op_names(&up), ["RESIZE_BILINEAR"]);
        resize_case(
            &format!("bilinear_down_{i}"),
            ResizeMode::Linear,
            coord,
            [8, 9],
            [3, 4],
        );
    }
}

#[test]
fn resize_nearest_modes() {
    use NearestMode::*;
    let cases = [
        (CoordMode::Asymmetric, Floor, [4, 5], [8, 10]),
        (CoordMode::Asymmetric, Floor, [6, 6], [4, 9]),
        (CoordMode::HalfPixel, RoundPreferFloor, [4, 4], [8, 12]),
        (CoordMode::HalfPixel, RoundPreferCeil, [8, 6], [4, 3]),
        (CoordMode::HalfPixel, RoundPreferFloor, [8, 8], [4, 4]),
        (CoordMode::AlignCorners, RoundPreferCeil, [3, 4], [7, 9]),
        (CoordMode::Asymmetric, RoundPreferFloor, [4, 4], [8, 8]),
        (CoordMode::PytorchHalfPixel, RoundPreferCeil, [5, 4], [9, 8]),
    ];
    for (i, (coord, m, input, size)) in cases.into_iter().enumerate() {
        let bytes = resize_case(
            &format!("nearest_{i}"),
            ResizeMode::Nearest(m),
            coord,
            input,
            size,
        );
        assert_eq!(op_names(&bytes), ["RESIZE_NEAREST_NEIGHBOR"]);
    }
}

#[test]
fn fully_connected_bias_relu() {
    let mut b = G::new("fc_num");
    let x = b.input("x", &[2, 3, 8]);
    let w = b.weight("w", &[8, 5]);
    let bias = b.weight("b", &[5]);
    let y = b.node("mm", Op::MatMul, &[x, w]);
    let z = b.node("add", Op::Binary(BinaryOp::Add), &[bias, y]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[z]);
    b.output(r);
    assert_eq!(op_names(&check(&b.finish())), ["FULLY_CONNECTED"]);

    let mut b = G::new("fc_rank2_and_vec");
    let x = b.input("x", &[3, 6]);
    let w = b.weight("w", &[6, 4]);
    let y = b.node("mm", Op::MatMul, &[x, w]);
    let v = b.input("v", &[4]);
    let w2 = b.weight("w2", &[4, 2]);
    let z = b.node("mv", Op::MatMul, &[v, w2]);
    b.output(y);
    b.output(z);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["FULLY_CONNECTED", "FULLY_CONNECTED", "RESHAPE"]
    );
}

#[test]
fn batch_matmul() {
    let mut b = G::new("bmm");
    let q = b.input("q", &[2, 3, 4, 5]);
    let k = b.input("k", &[2, 3, 5, 6]);
    let y = b.node("qk", Op::MatMul, &[q, k]);
    let c = b.weight("c", &[3, 6, 2]);
    let z = b.node("bc", Op::MatMul, &[y, c]);
    b.output(z);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["BATCH_MATMUL", "BATCH_MATMUL"]
    );
}

#[test]
fn layer_norm() {
    let mut b = G::new("ln");
    let x = b.input("x", &[2, 5, 16]);
    let s = b.weight("scale", &[16]);
    let bias = b.weight("bias", &[16]);
    let y = b.node(
        "ln",
        Op::LayerNorm(LayerNorm {
            axis: 2,
            epsilon: 1e-5,
        }),
        &[x, s, bias],
    );
    b.output(y);
    check(&b.finish());

    let mut b = G::new("ln_rank5_two_axes");
    let x = b.input("x", &[2, 2, 3, 4, 5]);
    let s = b.weight("scale", &[4, 5]);
    let y = b.node(
        "ln",
        Op::LayerNorm(LayerNorm {
            axis: 3,
            epsilon: 1e-3,
        }),
        &[x, s],
    );
    b.output(y);
    check(&b.finish());
}

fn unary_case(name: &str, op: Op, shape: &[usize]) -> Vec<u8> {
    let mut b = G::new(name);
    let x = b.input("x", shape);
    let y = b.node("op", op, &[x]);
    b.output(y);
    check(&b.finish())
}

#[test]
fn erf_and_gelu() {
    let bytes = unary_case("erf", Op::Unary(UnaryOp::Erf), &[3, 50]);
    assert!(op_names(&bytes).contains(&"SIGN".to_string()));
    assert_eq!(
        op_names(&unary_case("gelu", Op::Unary(UnaryOp::Gelu), &[2, 40])),
        ["GELU"]
    );
    assert_eq!(
        op_names(&unary_case(
            "gelu_tanh",
            Op::Unary(UnaryOp::GeluTanh),
            &[2, 40]
        )),
        ["GELU"]
    );
}

#[test]
fn unary_ops() {
    let shape = [2, 3, 5];
    for u in [
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::HardSwish,
        UnaryOp::Exp,
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Floor,
        UnaryOp::Ceil,
    ] {
        unary_case(&format!("unary_{}", u.name()), Op::Unary(u), &shape);
    }
    // Ops needing positive input: x -> |x| + 0.5 first.
    for u in [
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Log,
        UnaryOp::Reciprocal,
    ] {
        let mut b = G::new(&format!("unary_{}", u.name()));
        let x = b.input("x", &shape);
        let a = b.node("abs", Op::Unary(UnaryOp::Abs), &[x]);
        let h = b.konst("half", Tensor::scalar_f32(0.5));
        let p = b.node("pos", Op::Binary(BinaryOp::Add), &[a, h]);
        let y = b.node("op", Op::Unary(u), &[p]);
        b.output(y);
        check(&b.finish());
    }
}

#[test]
fn clip_and_activations() {
    let s = [4, 6];
    // x * 4 so that clips bite.
    for (i, (min, max)) in [
        (0.0, 6.0),
        (-1.0, 1.0),
        (0.0, 1.0),
        (-0.5, 2.5),
        (f32::NEG_INFINITY, 0.3),
        (0.2, f32::INFINITY),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = G::new(&format!("clip_{i}"));
        let x = b.input("x", &s);
        let k = b.konst("four", Tensor::scalar_f32(4.0));
        let y = b.node("scale", Op::Binary(BinaryOp::Mul), &[x, k]);
        let c = b.node("clip", Op::Clip { min, max }, &[y]);
        let z = b.node("tanh", Op::Unary(UnaryOp::Tanh), &[c]);
        b.output(z);
        check(&b.finish());
    }
    unary_case("leaky", Op::LeakyRelu { alpha: 0.1 }, &s);
    assert_eq!(
        op_names(&unary_case(
            "hard_sigmoid",
            Op::HardSigmoid {
                alpha: 0.2,
                beta: 0.5
            },
            &[4, 20]
        )),
        ["MUL", "ADD", "RELU_0_TO_1"]
    );
    let mut b = G::new("prelu");
    let x = b.input("x", &[1, 4, 4, 3]);
    let a = b.weight("slope", &[1, 1, 3]);
    let y = b.node("prelu", Op::PRelu, &[x, a]);
    b.output(y);
    assert_eq!(op_names(&check(&b.finish())), ["PRELU"]);
}

#[test]
fn binary_broadcasting() {
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Min,
        BinaryOp::Max,
    ];
    for op in ops {
        let mut b = G::new(&format!("bin_{}", op.name()));
        let x = b.input("x", &[2, 3, 4]);
        let y = b.input("y", &[3, 1]);
        let c = b.weight("c", &[4]);
        let one = b.konst("bump", Tensor::scalar_f32(3.0));
        // keep divisors away from zero
        let yp = b.node("y_pos", Op::Binary(BinaryOp::Add), &[y, one]);
        let z = b.node("op", Op::Binary(op), &[x, yp]);
        let w = b.node("op_c", Op::Binary(op), &[z, c]);
        b.output(w);
        check(&b.finish());
    }
    // Pow: integer exponent constant (cast), square (MUL), sqrt, general.
    let mut b = G::new("pow");
    let x = b.input("x", &[3, 4]);
    let a = b.node("abs", Op::Unary(UnaryOp::Abs), &[x]);
    let e3 = b.konst("e3", Tensor::vec_i64(vec![3]));
    let p3 = b.node("p3", Op::Binary(BinaryOp::Pow), &[a, e3]);
    let e2 = b.konst("e2", Tensor::scalar_f32(2.0));
    let p2 = b.node("p2", Op::Binary(BinaryOp::Pow), &[x, e2]);
    let eh = b.konst("eh", Tensor::scalar_f32(0.5));
    let ph = b.node("ph", Op::Binary(BinaryOp::Pow), &[a, eh]);
    let eg = b.weight("eg", &[4]);
    let pg = b.node("pg", Op::Binary(BinaryOp::Pow), &[a, eg]);
    b.output(p3);
    b.output(p2);
    b.output(ph);
    b.output(pg);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["ABS", "POW", "MUL", "SQRT", "POW"]
    );
    // Integer arithmetic.
    let mut b = G::new("int_add");
    let x = b.input_t("x", DType::I32, &[2, 3]);
    let c = b.konst("c", Tensor::vec_i32(vec![1, 2, 3]));
    let y = b.node("add", Op::Binary(BinaryOp::Add), &[x, c]);
    let z = b.node("mul", Op::Binary(BinaryOp::Mul), &[y, y]);
    b.output(z);
    check(&b.finish());
}

#[test]
fn softmax_axes() {
    assert_eq!(
        op_names(&unary_case(
            "softmax_last",
            Op::Softmax { axis: 2 },
            &[2, 3, 7]
        )),
        ["SOFTMAX"]
    );
    assert_eq!(
        op_names(&unary_case(
            "softmax_mid",
            Op::Softmax { axis: 1 },
            &[2, 5, 3, 4]
        )),
        ["TRANSPOSE", "SOFTMAX", "TRANSPOSE"]
    );
    unary_case("softmax_rank5", Op::Softmax { axis: 4 }, &[2, 2, 2, 3, 6]);
}

#[test]
fn slices() {
    let mut b = G::new("slice_unit");
    let x = b.input("x", &[4, 6, 5]);
    let s = Slice {
        axes: vec![1, 2],
        starts: vec![1, 0],
        ends: vec![5, 3],
        steps: vec![1, 1],
    };
    let y = b.node("s", Op::Slice(s), &[x]);
    b.output(y);
    assert_eq!(op_names(&check(&b.finish())), ["SLICE"]);

    let mut b = G::new("slice_neg_step");
    let x = b.input("x", &[4, 7, 5]);
    // reverse axis 1 fully, every second element of axis 2 backwards from 4 to 1 exclusive
    let s = Slice {
        axes: vec![1, 2],
        starts: vec![6, 4],
        ends: vec![-1, 1],
        steps: vec![-1, -2],
    };
    let y = b.node("s", Op::Slice(s), &[x]);
    let s2 = Slice {
        axes: vec![0],
        starts: vec![0],
        ends: vec![4],
        steps: vec![3],
    };
    let z = b.node("s2", Op::Slice(s2), &[y]);
    b.output(z);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["STRIDED_SLICE", "STRIDED_SLICE"]
    );
}

#[test]
fn gather_split_concat_transpose_reshape() {
    let mut b = G::new("gather_num");
    let x = b.input("x", &[5, 4, 3]);
    let idx = b.konst(
        "idx",
        Tensor::from_i64(vec![2, 2], vec![3, -1, 0, 2]).unwrap(),
    );
    let y = b.node("g", Op::Gather { axis: 1 }, &[x, idx]);
    let i = b.input_t("ids", DType::I64, &[3]);
    let z = b.node("g2", Op::Gather { axis: 0 }, &[x, i]);
    let sc = b.konst(
        "scalar_idx",
        Tensor::new(vec![], edgeport_ir::TensorData::I64(vec![1])).unwrap(),
    );
    let w = b.node("g3", Op::Gather { axis: 2 }, &[x, sc]);
    b.output(y);
    b.output(z);
    b.output(w);
    check(&b.finish());

    let mut b = G::new("split_concat");
    let x = b.input("x", &[2, 9, 3]);
    let parts = b.nodes(
        "split",
        Op::Split {
            axis: 1,
            sizes: vec![2, 3, 4],
        },
        &[x],
    );
    let t = b.node("tanh", Op::Unary(UnaryOp::Tanh), &[parts[1]]);
    let c = b.node("cat", Op::Concat { axis: 1 }, &[parts[2], t, parts[0]]);
    let r = b.node("relu", Op::Unary(UnaryOp::Relu), &[c]);
    b.output(r);
    b.output(parts[1]);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["SPLIT_V", "TANH", "CONCATENATION", "RELU"]
    );

    let mut b = G::new("transposes");
    let x = b.input("x", &[2, 3, 4, 5]);
    let t = b.node(
        "t",
        Op::Transpose {
            perm: vec![0, 2, 3, 1],
        },
        &[x],
    );
    let r = b.node(
        "r",
        Op::Reshape {
            shape: vec![2, 20, 3],
        },
        &[t],
    );
    let t2 = b.node(
        "t2",
        Op::Transpose {
            perm: vec![2, 0, 1],
        },
        &[r],
    );
    let r5 = b.node(
        "r5",
        Op::Reshape {
            shape: vec![3, 2, 2, 5, 2],
        },
        &[t2],
    );
    let t5 = b.node(
        "t5",
        Op::Transpose {
            perm: vec![4, 3, 2, 1, 0],
        },
        &[r5],
    );
    b.output(t5);
    check(&b.finish());
}

#[test]
fn reductions() {
    for (i, kind) in [
        ReduceKind::Mean,
        ReduceKind::Sum,
        ReduceKind::Max,
        ReduceKind::Min,
        ReduceKind::Prod,
    ]
    .into_iter()
    .enumerate()
    {
        for keep in [false, true] {
            let mut b = G::new(&format!("reduce_{i}_{keep}"));
            let x = b.input("x", &[2, 3, 4, 5]);
            let y = b.node(
                "r",
                Op::Reduce(Reduce {
                    kind,
                    axes: vec![1, 3],
                    keep_dims: keep,
                }),
                &[x],
            );
            b.output(y);
            check(&b.finish());
        }
    }
}

#[test]
fn pad_modes() {
    let cases = [
        (PadMode::Constant(0.0), "PAD"),
        (PadMode::Constant(-1.5), "PADV2"),
        (PadMode::Reflect, "MIRROR_PAD"),
        (PadMode::Edge, "GATHER"),
    ];
    for (i, (mode, first)) in cases.into_iter().enumerate() {
        let mut b = G::new(&format!("pad_{i}"));
        let x = b.input("x", &[1, 4, 5, 2]);
        let y = b.node(
            "pad",
            Op::Pad(Pad {
                pads: vec![[0, 0], [1, 2], [3, 0], [0, 0]],
                mode,
            }),
            &[x],
        );
        b.output(y);
        assert_eq!(op_names(&check(&b.finish()))[0], first);
    }
}

#[test]
fn casts() {
    let mut b = G::new("casts");
    let x = b.input("x", &[2, 5]);
    let k = b.konst("k", Tensor::scalar_f32(3.0));
    let y = b.node("scale", Op::Binary(BinaryOp::Mul), &[x, k]);
    let i = b.node("to_int", Op::Cast { to: DType::I32 }, &[y]);
    let f = b.node("to_float", Op::Cast { to: DType::F32 }, &[i]);
    let h = b.konst(
        "half_w",
        Tensor::from_f32(vec![5], vec![0.5, -1.0, 2.0, 0.25, 3.0])
            .unwrap()
            .cast(DType::F16),
    );
    let hf = b.node("dequant", Op::Cast { to: DType::F32 }, &[h]);
    let z = b.node("mul", Op::Binary(BinaryOp::Mul), &[f, hf]);
    b.output(z);
    b.output(i);
    assert_eq!(
        op_names(&check(&b.finish())),
        ["MUL", "CAST", "CAST", "DEQUANTIZE", "MUL"]
    );
}

#[test]
fn small_cnn_end_to_end() {
    let mut b = G::new("small_cnn");
    let x = b.input("image", &[1, 16, 16, 3]);
    let w1 = b.weight("w1", &[8, 3, 3, 3]);
    let b1 = b.weight("b1", &[8]);
    let c1 = b.node("c1", conv_op([0, 0, 1, 1], [2, 2], [1, 1], 1), &[x, w1, b1]);
    let r1 = b.node("r1", Op::Clip { min: 0.0, max: 6.0 }, &[c1]);
    let w2 = b.weight("w2", &[8, 1, 3, 3]);
    let c2 = b.node("c2", conv_op([1, 1, 1, 1], [1, 1], [1, 1], 8), &[r1, w2]);
    let r2 = b.node("r2", Op::Unary(UnaryOp::HardSwish), &[c2]);
    let p = Pool {
        kind: PoolKind::Avg,
        kernel: [8, 8],
        strides: [1, 1],
        pads: [0; 4],
        count_include_pad: false,
        layout: Layout::Nhwc,
    };
    let gp = b.node("gap", Op::Pool(p), &[r2]);
    let fl = b.node("flat", Op::Reshape { shape: vec![1, 8] }, &[gp]);
    let wf = b.weight("wf", &[8, 10]);
    let bf = b.weight("bf", &[10]);
    let mm = b.node("fc", Op::MatMul, &[fl, wf]);
    let ad = b.node("fc_bias", Op::Binary(BinaryOp::Add), &[mm, bf]);
    let sm = b.node("probs", Op::Softmax { axis: 1 }, &[ad]);
    b.output(sm);
    assert_eq!(
        op_names(&check(&b.finish())),
        [
            "CONV_2D",
            "DEPTHWISE_CONV_2D",
            "HARD_SWISH",
            "AVERAGE_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX"
        ]
    );
}

#[test]
fn scalars_and_rank5_broadcasts() {
    let mut b = G::new("scalars");
    let s = b.input("s", &[]);
    let v = b.input("v", &[3]);
    let y = b.node("add", Op::Binary(BinaryOp::Add), &[v, s]);
    let r = b.node(
        "sum",
        Op::Reduce(Reduce {
            kind: ReduceKind::Sum,
            axes: vec![0],
            keep_dims: false,
        }),
        &[y],
    );
    let m = b.node("mul", Op::Binary(BinaryOp::Mul), &[r, s]);
    let back = b.node("to_vec", Op::Reshape { shape: vec![1] }, &[m]);
    let scalar = b.node("to_scalar", Op::Reshape { shape: vec![] }, &[back]);
    b.output(scalar);
    b.output(y);
    check(&b.finish());

    for op in [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
    ] {
        let mut b = G::new(&format!("rank5_{}", op.name()));
        let x = b.input("x", &[2, 1, 3, 1, 4]);
        let y = b.input("y", &[1, 2, 1, 5, 1]);
        let k = b.konst("k", Tensor::scalar_f32(3.0));
        let yp = b.node("y_pos", Op::Binary(BinaryOp::Add), &[y, k]);
        let z = b.node("op", Op::Binary(op), &[x, yp]);
        b.output(z);
        check(&b.finish());
    }
}

#[test]
fn runtime_weights_and_vectors() {
    // Conv weights fed at run time become a TRANSPOSE into OHWI.
    let mut b = G::new("conv_runtime_w");
    let x = b.input("x", &[1, 5, 5, 3]);
    let w = b.input("w", &[4, 3, 3, 3]);
    let y = b.node("conv", conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1), &[x, w]);
    b.output(y);
    assert_eq!(op_names(&check(&b.finish())), ["TRANSPOSE", "CONV_2D"]);

    // matrix x runtime vector, and a rank-1 lhs
    let mut b = G::new("matvec");
    let a = b.input("a", &[2, 3, 4]);
    let v = b.input("v", &[4]);
    let y = b.node("mv", Op::MatMul, &[a, v]);
    let m = b.input("m", &[4, 2]);
    let z = b.node("vm", Op::MatMul, &[v, m]);
    b.output(y);
    b.output(z);
    check(&b.finish());

    // layer norm with a runtime scale
    let mut b = G::new("ln_runtime_scale");
    let x = b.input("x", &[3, 8]);
    let s = b.input("scale", &[8]);
    let y = b.node(
        "ln",
        Op::LayerNorm(LayerNorm {
            axis: 1,
            epsilon: 1e-5,
        }),
        &[x, s],
    );
    b.output(y);
    check(&b.finish());
}

#[test]
fn erf_wide_range() {
    let mut b = G::new("erf_wide");
    let x = b.input("x", &[4, 64]);
    let k = b.konst("k", Tensor::scalar_f32(2.5));
    let y = b.node("scale", Op::Binary(BinaryOp::Mul), &[x, k]);
    let e = b.node("erf", Op::Unary(UnaryOp::Erf), &[y]);
    let g = b.node("gelu", Op::Unary(UnaryOp::Gelu), &[y]);
    b.output(e);
    b.output(g);
    check(&b.finish());
}

#[test]
fn integer_and_bool_data() {
    let mut b = G::new("int_data");
    let x = b.input_t("x", DType::I64, &[4, 3]);
    let idx = b.konst("idx", Tensor::vec_i64(vec![3, 0]));
    let g = b.node("gather", Op::Gather { axis: 0 }, &[x, idx]);
    let c = b.node("cat", Op::Concat { axis: 0 }, &[g, x]);
    let t = b.node("t", Op::Transpose { perm: vec![1, 0] }, &[c]);
    let f = b.node("f", Op::Cast { to: DType::F32 }, &[t]);
    let bl = b.node("nonzero", Op::Cast { to: DType::Bool }, &[f]);
    b.output(t);
    b.output(f);
    b.output(bl);
    check(&b.finish());
}

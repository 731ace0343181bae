//! One small graph per lowering rule: the MIL ops chosen, and the whole set checked by
//! coremltools (protobuf load, MIL rebuild with type inference of every op, blob reads) at
//! both precisions and the oldest and newest targets.

use edgeport_ir::ops::{
    BinaryOp, ConvTranspose, CoordMode, LayerNorm, NearestMode, Pad, PadMode, Pool, PoolKind,
    Reduce, ReduceKind, Resize, ResizeMode, Slice, UnaryOp,
};
use edgeport_ir::{DType, Graph, Layout, Op, Tensor};

use super::structure::conv_op;
use super::{G, coremltools_check, export_ok, op_types, opts, value_type};
use crate::proto::DataType;
use crate::{Precision, Target};

/// (graph, the non-const MIL ops expected at fp32)
fn cases() -> Vec<(Graph, Vec<&'static str>)> {
    let mut out: Vec<(Graph, Vec<&'static str>)> = Vec::new();
    let mut add = |g: Graph, ops: &[&'static str]| out.push((g, ops.to_vec()));

    // Convolutions: asymmetric pads, strides, dilations, groups, depthwise, runtime weights.
    {
        let mut b = G::new("conv_variants");
        let x = b.input("x", &[1, 4, 11, 10]);
        let w = b.weight("w", &[6, 4, 3, 3]);
        let bias = b.weight("bias", &[6]);
        let y = b.node(
            "c1",
            conv_op([1, 0, 2, 1], [2, 1], [1, 2], 1),
            &[x, w, bias],
        );
        let wg = b.weight("wg", &[8, 2, 3, 3]);
        let g2 = b.node(
            "grouped",
            conv_op([1, 1, 1, 1], [1, 1], [1, 1], 2),
            &[x, wg],
        );
        let wd = b.weight("wd", &[4, 1, 3, 3]);
        let dw = b.node(
            "depthwise",
            conv_op([1, 1, 1, 1], [1, 1], [1, 1], 4),
            &[x, wd],
        );
        let rw = b.input("runtime_w", &[5, 4, 1, 1]);
        let rc = b.node("runtime", conv_op([0; 4], [1, 1], [1, 1], 1), &[x, rw]);
        for v in [y, g2, dw, rc] {
            b.output(v);
        }
        add(b.finish(), &["conv", "conv", "conv", "conv"]);
    }
    // Transposed convolutions: plain, output_padding inside the end padding, beyond it.
    {
        let mut b = G::new("conv_transpose_variants");
        let x = b.input("x", &[1, 4, 5, 6]);
        let w = b.weight("w", &[4, 3, 3, 3]);
        let bias = b.weight("bias", &[3]);
        let ct = |pads, op, group| {
            Op::ConvTranspose(ConvTranspose {
                strides: [2, 2],
                dilations: [1, 1],
                pads,
                output_padding: op,
                group,
                layout: Layout::Nchw,
            })
        };
        let a = b.node("plain", ct([1, 1, 1, 1], [0, 0], 1), &[x, w, bias]);
        let c = b.node("inside", ct([1, 1, 1, 1], [1, 1], 1), &[x, w, bias]);
        let d = b.node("beyond", ct([0, 0, 0, 0], [1, 1], 1), &[x, w, bias]);
        let wg = b.weight("wg", &[4, 2, 2, 2]);
        let e = b.node("grouped", ct([0, 0, 0, 0], [0, 0], 2), &[x, wg]);
        for v in [a, c, d, e] {
            b.output(v);
        }
        add(
            b.finish(),
            &[
                "conv_transpose",
                "conv_transpose",
                "conv_transpose",
                "pad",
                "add",
                "conv_transpose",
            ],
        );
    }
    // Pools.
    {
        let mut b = G::new("pools");
        let x = b.input("x", &[1, 3, 9, 9]);
        let pool = |kind, pads, cip| {
            Op::Pool(Pool {
                kind,
                kernel: [3, 3],
                strides: [2, 2],
                pads,
                count_include_pad: cip,
                layout: Layout::Nchw,
            })
        };
        let m = b.node("max", pool(PoolKind::Max, [1, 1, 2, 2], false), &[x]);
        let a1 = b.node("avg_ex", pool(PoolKind::Avg, [1, 0, 1, 2], false), &[x]);
        let a2 = b.node("avg_in", pool(PoolKind::Avg, [1, 1, 1, 1], true), &[x]);
        for v in [m, a1, a2] {
            b.output(v);
        }
        add(b.finish(), &["max_pool", "avg_pool", "avg_pool"]);
    }
    // Resize.
    {
        let mut b = G::new("resizes");
        let x = b.input("x", &[1, 2, 5, 6]);
        let rs = |mode, coord, size| {
            Op::Resize(Resize {
                mode,
                coord,
                size,
                layout: Layout::Nchw,
            })
        };
        let n1 = b.node(
            "nearest_x2",
            rs(
                ResizeMode::Nearest(NearestMode::Floor),
                CoordMode::Asymmetric,
                [10, 12],
            ),
            &[x],
        );
        let n2 = b.node(
            "nearest_half_pixel_x3",
            rs(
                ResizeMode::Nearest(NearestMode::RoundPreferFloor),
                CoordMode::HalfPixel,
                [15, 18],
            ),
            &[x],
        );
        let n3 = b.node(
            "nearest_odd",
            rs(
                ResizeMode::Nearest(NearestMode::RoundPreferCeil),
                CoordMode::HalfPixel,
                [7, 6],
            ),
            &[x],
        );
        let n4 = b.node(
            "nearest_both",
            rs(
                ResizeMode::Nearest(NearestMode::Floor),
                CoordMode::AlignCorners,
                [3, 4],
            ),
            &[x],
        );
        let l1 = b.node(
            "linear_half_pixel",
            rs(ResizeMode::Linear, CoordMode::HalfPixel, [9, 13]),
            &[x],
        );
        let l2 = b.node(
            "linear_align",
            rs(ResizeMode::Linear, CoordMode::AlignCorners, [9, 13]),
            &[x],
        );
        let l3 = b.node(
            "linear_asym",
            rs(ResizeMode::Linear, CoordMode::Asymmetric, [10, 12]),
            &[x],
        );
        let l4 = b.node(
            "linear_torch",
            rs(ResizeMode::Linear, CoordMode::PytorchHalfPixel, [5, 3]),
            &[x],
        );
        for v in [n1, n2, n3, n4, l1, l2, l3, l4] {
            b.output(v);
        }
        add(
            b.finish(),
            &[
                "upsample_nearest_neighbor",
                "upsample_nearest_neighbor",
                "gather",
                "gather",
                "gather",
                "resize_bilinear",
                "resize_bilinear",
                "resize_bilinear",
                "resize_bilinear",
            ],
        );
    }
    // Unary ops.
    {
        let mut b = G::new("unaries");
        let x = b.input("x", &[2, 3, 4]);
        let pos = b.input("pos", &[2, 3, 4]);
        let mut outs = Vec::new();
        for u in [
            UnaryOp::Relu,
            UnaryOp::Sigmoid,
            UnaryOp::Tanh,
            UnaryOp::Erf,
            UnaryOp::Gelu,
            UnaryOp::GeluTanh,
            UnaryOp::HardSwish,
            UnaryOp::Exp,
            UnaryOp::Neg,
            UnaryOp::Abs,
            UnaryOp::Floor,
            UnaryOp::Ceil,
            UnaryOp::Reciprocal,
        ] {
            outs.push(b.node(u.name(), Op::Unary(u), &[x]));
        }
        for u in [UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Log] {
            outs.push(b.node(u.name(), Op::Unary(u), &[pos]));
        }
        for v in outs {
            b.output(v);
        }
        add(
            b.finish(),
            &[
                "relu",
                "sigmoid",
                "tanh",
                "erf",
                "gelu",
                "gelu",
                "sigmoid_hard",
                "mul",
                "exp",
                "mul",
                "abs",
                "floor",
                "ceil",
                "real_div",
                "sqrt",
                "rsqrt",
                "log",
            ],
        );
    }
    // Binary ops, float and int, with broadcasting; Pow special cases.
    {
        let mut b = G::new("binaries");
        let x = b.input("x", &[2, 3, 4]);
        let y = b.input("y", &[3, 1]);
        let mut outs = Vec::new();
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Pow,
            BinaryOp::Min,
            BinaryOp::Max,
        ] {
            outs.push(b.node(op.name(), Op::Binary(op), &[x, y]));
        }
        let two = b.konst("two", Tensor::scalar_f32(2.0));
        outs.push(b.node("square", Op::Binary(BinaryOp::Pow), &[x, two]));
        let half = b.konst("half", Tensor::scalar_f32(0.5));
        outs.push(b.node("root", Op::Binary(BinaryOp::Pow), &[y, half]));
        let xi = b.input_t("xi", DType::I64, &[4]);
        let k = b.konst("k", Tensor::from_i64(vec![4], vec![1, -2, 3, 4]).unwrap());
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Min,
            BinaryOp::Max,
        ] {
            outs.push(b.node(&format!("int_{}", op.name()), Op::Binary(op), &[xi, k]));
        }
        for v in outs {
            b.output(v);
        }
        add(
            b.finish(),
            &[
                "add", "sub", "mul", "real_div", "pow", "minimum", "maximum", "mul", "sqrt", "add",
                "sub", "mul", "minimum", "maximum",
            ],
        );
    }
    // Activations with parameters.
    {
        let mut b = G::new("activations");
        let x = b.input("x", &[1, 3, 4, 5]);
        let s1 = b.konst("s1", Tensor::from_f32(vec![1], vec![0.2]).unwrap());
        let p1 = b.node("prelu_scalar", Op::PRelu, &[x, s1]);
        let s2 = b.weight("s2", &[3, 1, 1]);
        let p2 = b.node("prelu_channel", Op::PRelu, &[x, s2]);
        let s3 = b.weight("s3", &[5]);
        let p3 = b.node("prelu_general", Op::PRelu, &[x, s3]);
        let c1 = b.node(
            "clip",
            Op::Clip {
                min: -1.5,
                max: 2.5,
            },
            &[x],
        );
        let c2 = b.node(
            "clip_relu",
            Op::Clip {
                min: 0.0,
                max: f32::INFINITY,
            },
            &[x],
        );
        let c3 = b.node(
            "clip_low",
            Op::Clip {
                min: -0.5,
                max: f32::INFINITY,
            },
            &[x],
        );
        let c4 = b.node(
            "clip_high",
            Op::Clip {
                min: f32::NEG_INFINITY,
                max: 0.5,
            },
            &[x],
        );
        let lr = b.node("leaky", Op::LeakyRelu { alpha: 0.01 }, &[x]);
        let hs = b.node(
            "hsig",
            Op::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            &[x],
        );
        let sm = b.node("softmax", Op::Softmax { axis: 1 }, &[x]);
        for v in [p1, p2, p3, c1, c2, c3, c4, lr, hs, sm] {
            b.output(v);
        }
        add(
            b.finish(),
            &[
                "leaky_relu",
                "prelu",
                "relu",
                "minimum",
                "mul",
                "add",
                "clip",
                "relu",
                "maximum",
                "minimum",
                "leaky_relu",
                "sigmoid_hard",
                "softmax",
            ],
        );
    }
    // MatMul: linear with fused bias, rank-4 lhs, runtime rhs, rank-1 lhs.
    {
        let mut b = G::new("matmuls");
        let x = b.input("x", &[2, 5, 8]);
        let w = b.weight("w", &[8, 6]);
        let m = b.node("fc", Op::MatMul, &[x, w]);
        let bias = b.weight("fc.bias", &[6]);
        let fc = b.node("fc_bias", Op::Binary(BinaryOp::Add), &[m, bias]);
        let x4 = b.input("x4", &[1, 2, 3, 8]);
        let m4 = b.node("fc4", Op::MatMul, &[x4, w]);
        let y = b.input("y", &[2, 8, 3]);
        let bm = b.node("bmm", Op::MatMul, &[x, y]);
        let v = b.input("v", &[8]);
        let mv = b.node("vec", Op::MatMul, &[v, w]);
        for o in [fc, m4, bm, mv] {
            b.output(o);
        }
        add(b.finish(), &["linear", "matmul", "matmul", "linear"]);
    }
    // Data movement.
    {
        let mut b = G::new("movement");
        let x = b.input("x", &[2, 3, 4]);
        let e = b.node(
            "expand",
            Op::Reshape {
                shape: vec![2, 1, 3, 4, 1],
            },
            &[x],
        );
        let s = b.node(
            "squeeze",
            Op::Reshape {
                shape: vec![2, 3, 4],
            },
            &[e],
        );
        let r = b.node("reshape", Op::Reshape { shape: vec![6, 4] }, &[s]);
        let t = b.node(
            "transpose",
            Op::Transpose {
                perm: vec![2, 0, 1],
            },
            &[x],
        );
        let c = b.node("concat", Op::Concat { axis: 1 }, &[x, x]);
        let parts = b.nodes(
            "split",
            Op::Split {
                axis: 2,
                sizes: vec![1, 3],
            },
            &[x],
        );
        let sl = Slice {
            axes: vec![1, 2],
            starts: vec![2, 0],
            ends: vec![-1, 4],
            steps: vec![-1, 2],
        };
        let sl = b.node("slice", Op::Slice(sl), &[x]);
        let idx = b.konst(
            "idx",
            Tensor::from_i64(vec![2, 2], vec![0, -1, 2, 1]).unwrap(),
        );
        let ga = b.node("gather", Op::Gather { axis: 2 }, &[x, idx]);
        let ri = b.input_t("ri", DType::I32, &[3]);
        let gr = b.node("gather_runtime", Op::Gather { axis: 1 }, &[x, ri]);
        let one = b.konst(
            "one_idx",
            Tensor::new(vec![], edgeport_ir::TensorData::I64(vec![1])).unwrap(),
        );
        let gs = b.node("gather_scalar", Op::Gather { axis: 0 }, &[x, one]);
        for o in [r, t, c, parts[0], parts[1], sl, ga, gr, gs] {
            b.output(o);
        }
        add(
            b.finish(),
            &[
                "expand_dims",
                "squeeze",
                "reshape",
                "transpose",
                "concat",
                "split",
                "slice_by_index",
                "gather",
                "gather",
                "gather",
            ],
        );
    }
    // Reductions, float and int.
    {
        let mut b = G::new("reductions");
        let x = b.input("x", &[2, 3, 4]);
        let xi = b.input_t("xi", DType::I32, &[2, 3]);
        let mut outs = Vec::new();
        for (k, keep) in [
            (ReduceKind::Mean, true),
            (ReduceKind::Sum, false),
            (ReduceKind::Max, true),
            (ReduceKind::Min, false),
            (ReduceKind::Prod, true),
        ] {
            outs.push(b.node(
                k.name(),
                Op::Reduce(Reduce {
                    kind: k,
                    axes: vec![0, 2],
                    keep_dims: keep,
                }),
                &[x],
            ));
        }
        outs.push(b.node(
            "int_sum",
            Op::Reduce(Reduce {
                kind: ReduceKind::Sum,
                axes: vec![1],
                keep_dims: false,
            }),
            &[xi],
        ));
        for o in outs {
            b.output(o);
        }
        add(
            b.finish(),
            &[
                "reduce_mean",
                "reduce_sum",
                "reduce_max",
                "reduce_min",
                "reduce_prod",
                "reduce_sum",
            ],
        );
    }
    // Layer norm: constant (broadcast) scale and bias; runtime scale.
    {
        let mut b = G::new("layer_norms");
        let x = b.input("x", &[2, 5, 8]);
        let g = b.weight("gamma", &[8]);
        let bt = b.weight("beta", &[8]);
        let l1 = b.node(
            "ln",
            Op::LayerNorm(LayerNorm {
                axis: 2,
                epsilon: 1e-5,
            }),
            &[x, g, bt],
        );
        let g2 = b.weight("gamma2", &[5, 8]);
        let l2 = b.node(
            "ln2",
            Op::LayerNorm(LayerNorm {
                axis: 1,
                epsilon: 1e-6,
            }),
            &[x, g2],
        );
        let rs = b.input("scale", &[8]);
        let l3 = b.node(
            "ln_runtime",
            Op::LayerNorm(LayerNorm {
                axis: 2,
                epsilon: 1e-5,
            }),
            &[x, rs, bt],
        );
        for o in [l1, l2, l3] {
            b.output(o);
        }
        add(
            b.finish(),
            &["layer_norm", "layer_norm", "layer_norm", "mul", "add"],
        );
    }
    // Pad modes.
    {
        let mut b = G::new("pads");
        let x = b.input("x", &[1, 2, 4, 5]);
        let pc = b.node(
            "constant",
            Op::Pad(Pad {
                pads: vec![[0, 0], [1, 0], [0, 2], [1, 1]],
                mode: PadMode::Constant(-1.0),
            }),
            &[x],
        );
        let pr = b.node(
            "reflect",
            Op::Pad(Pad {
                pads: vec![[0, 0], [0, 0], [2, 1], [3, 0]],
                mode: PadMode::Reflect,
            }),
            &[x],
        );
        let pe = b.node(
            "edge",
            Op::Pad(Pad {
                pads: vec![[0, 0], [0, 0], [1, 4], [0, 2]],
                mode: PadMode::Edge,
            }),
            &[x],
        );
        for o in [pc, pr, pe] {
            b.output(o);
        }
        add(b.finish(), &["pad", "pad", "pad"]);
    }
    // Casts.
    {
        let mut b = G::new("casts");
        let x = b.input("x", &[2, 3]);
        let i = b.node("to_int", Op::Cast { to: DType::I64 }, &[x]);
        let f = b.node("to_float", Op::Cast { to: DType::F32 }, &[i]);
        let bo = b.node("to_bool", Op::Cast { to: DType::Bool }, &[x]);
        let bf = b.node("bool_to_float", Op::Cast { to: DType::F32 }, &[bo]);
        let h = b.node("to_half", Op::Cast { to: DType::F16 }, &[x]);
        let hf = b.node("half_to_float", Op::Cast { to: DType::F32 }, &[h]);
        for o in [f, bf, hf] {
            b.output(o);
        }
        add(
            b.finish(),
            &["cast", "cast", "cast", "cast", "cast", "cast"],
        );
    }
    out
}

#[test]
fn lowering_rules_pick_the_expected_mil_ops() {
    for (g, want) in cases() {
        let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp32));
        assert_eq!(op_types(&p), want, "{}", g.name);
    }
}

#[test]
fn fp16_casts_in_and_out_around_the_same_ops() {
    for (g, want) in cases() {
        let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp16));
        let got = op_types(&p);
        let inner: Vec<&str> = got
            .iter()
            .map(String::as_str)
            .filter(|&o| o != "cast" && o != "identity")
            .collect();
        let want_inner: Vec<&str> = want.iter().copied().filter(|&o| o != "cast").collect();
        assert_eq!(inner, want_inner, "{}", g.name);
    }
}

#[test]
fn fp16_turns_float32_casts_into_identities() {
    let g = cases()
        .into_iter()
        .find(|(g, _)| g.name == "casts")
        .unwrap()
        .0;
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp16));
    let m = p.model().unwrap();
    // x -> fp16; to_half is an identity (already fp16); every output goes back to fp32.
    assert_eq!(value_type(&m, "to_half").0, DataType::Float16);
    assert!(op_types(&p).contains(&"identity".to_string()));
}

#[test]
fn coremltools_accepts_every_lowering() {
    let mut packages = Vec::new();
    for (g, _) in cases() {
        for (target, precision) in [
            (Target::Ios15, Precision::Fp32),
            (Target::Ios16, Precision::Fp16),
            (Target::Ios18, Precision::Fp16),
        ] {
            let p = export_ok(&g, &opts(target, precision));
            packages.push((
                format!("{}_{}_{}", g.name, target.key(), precision.key()),
                p,
            ));
        }
    }
    coremltools_check("lowering", &packages);
}

#[test]
fn runtime_gather_indices_are_wrapped_from_ios17() {
    let mut b = G::new("gather_runtime");
    let x = b.input("x", &[4, 3]);
    let i = b.input_t("i", DType::I64, &[2]);
    let y = b.node("g", Op::Gather { axis: 0 }, &[x, i]);
    b.output(y);
    let g = b.finish();
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp32));
    assert_eq!(op_types(&p), ["gather"]);
    for target in [Target::Ios17, Target::Ios18] {
        let p = export_ok(&g, &opts(target, Precision::Fp32));
        assert_eq!(op_types(&p), ["greater_equal", "add", "select", "gather"]);
    }
}

//! The one match over the IR op set: each IR node as standard ONNX (opset 21).
//!
//! Adding an IR op: the compiler points here; write its ONNX form (op type, attributes, and
//! any constant operands as initializers via `Writer::initializer`). An op with no ONNX form
//! returns an [`ExportError`] naming the node.

use edgeport_ir::ops::{CoordMode, NearestMode, PadMode, PoolKind, ResizeMode, UnaryOp};
use edgeport_ir::{Layout, Node, Op, Tensor, TensorType};
use tract_onnx::pb::AttributeProto;

use super::proto::{attr_f, attr_i, attr_ints, attr_s, dtype_code};
use super::{ExportError, Writer};

/// Write `node` (named `name`) reading the tensors `ins` and writing `outs`.
pub(super) fn emit(
    w: &mut Writer,
    node: &Node,
    name: &str,
    mut ins: Vec<String>,
    outs: &[(String, TensorType)],
) -> Result<(), ExportError> {
    let op_name = node.op.name();
    let err = |message: String| ExportError::node(name, op_name, message);
    let g = w.graph();
    let input_ty = |i: usize| -> Result<TensorType, ExportError> {
        node.inputs
            .get(i)
            .map(|&v| g.ty(v).clone())
            .ok_or_else(|| err(format!("has no input {i}")))
    };
    let nchw = |layout: Layout| match layout {
        Layout::Nchw => Ok(()),
        Layout::Nhwc => Err(err(
            "NHWC layout has no ONNX form (export the NCHW graph, before layout passes)".into(),
        )),
    };
    let (op_type, attrs): (&str, Vec<AttributeProto>) = match &node.op {
        Op::Conv(c) => {
            nchw(c.layout)?;
            let k = kernel(&input_ty(1)?).ok_or_else(|| err("the weight is not rank 4".into()))?;
            let attrs = vec![
                attr_ints("dilations", &c.dilations),
                attr_i("group", c.group as i64),
                attr_ints("kernel_shape", &k),
                attr_ints("pads", &c.pads),
                attr_ints("strides", &c.strides),
            ];
            ("Conv", attrs)
        }
        Op::ConvTranspose(c) => {
            nchw(c.layout)?;
            let k = kernel(&input_ty(1)?).ok_or_else(|| err("the weight is not rank 4".into()))?;
            let attrs = vec![
                attr_ints("dilations", &c.dilations),
                attr_i("group", c.group as i64),
                attr_ints("kernel_shape", &k),
                attr_ints("output_padding", &c.output_padding),
                attr_ints("pads", &c.pads),
                attr_ints("strides", &c.strides),
            ];
            ("ConvTranspose", attrs)
        }
        Op::Pool(p) => {
            nchw(p.layout)?;
            // onnxruntime refuses pads as large as the window (ceil_mode resolved into padding
            // can get there only with strides larger than the window).
            let [pt, pl, pb, pr] = p.pads;
            if pt.max(pb) >= p.kernel[0] || pl.max(pr) >= p.kernel[1] {
                return Err(err(format!(
                    "pads {:?} are not smaller than the window {:?}",
                    p.pads, p.kernel
                )));
            }
            let mut attrs = vec![
                attr_ints("kernel_shape", &p.kernel),
                attr_ints("pads", &p.pads),
                attr_ints("strides", &p.strides),
            ];
            match p.kind {
                PoolKind::Max => ("MaxPool", attrs),
                PoolKind::Avg => {
                    attrs.insert(
                        0,
                        attr_i("count_include_pad", i64::from(p.count_include_pad)),
                    );
                    ("AveragePool", attrs)
                }
            }
        }
        Op::Resize(r) => {
            nchw(r.layout)?;
            let out = outs.first().ok_or_else(|| err("has no output".into()))?;
            let sizes = ints(&out.1.shape);
            ins.push(String::new());
            ins.push(String::new());
            ins.push(w.initializer(&format!("{name}_sizes"), &Tensor::vec_i64(sizes)));
            let coord = match r.coord {
                CoordMode::HalfPixel => "half_pixel",
                CoordMode::PytorchHalfPixel => "pytorch_half_pixel",
                CoordMode::AlignCorners => "align_corners",
                CoordMode::Asymmetric => "asymmetric",
            };
            let mut attrs = vec![attr_s("coordinate_transformation_mode", coord)];
            match r.mode {
                ResizeMode::Linear => attrs.push(attr_s("mode", "linear")),
                ResizeMode::Nearest(n) => {
                    attrs.push(attr_s("mode", "nearest"));
                    let n = match n {
                        NearestMode::RoundPreferFloor => "round_prefer_floor",
                        NearestMode::RoundPreferCeil => "round_prefer_ceil",
                        NearestMode::Floor => "floor",
                        NearestMode::Ceil => "ceil",
                    };
                    attrs.push(attr_s("nearest_mode", n));
                }
            }
            ("Resize", attrs)
        }
        Op::Unary(u) => match u {
            UnaryOp::Rsqrt => {
                // No Rsqrt in ONNX: Sqrt then Reciprocal, as the IR computes it.
                let x = ins
                    .first()
                    .cloned()
                    .ok_or_else(|| err("has no input".into()))?;
                let out = outs.first().ok_or_else(|| err("has no output".into()))?;
                let sqrt = w.fresh(&format!("{name}/sqrt"));
                w.node(
                    &format!("{name}/sqrt"),
                    "Sqrt",
                    vec![x],
                    &[(sqrt.clone(), out.1.clone())],
                    vec![],
                );
                ins = vec![sqrt];
                ("Reciprocal", vec![])
            }
            UnaryOp::Gelu => ("Gelu", vec![attr_s("approximate", "none")]),
            UnaryOp::GeluTanh => ("Gelu", vec![attr_s("approximate", "tanh")]),
            other => (unary_type(*other), vec![]),
        },
        Op::Binary(b) => (b.name(), vec![]),
        Op::PRelu => ("PRelu", vec![]),
        Op::Clip { min, max } => {
            let dtype = input_ty(0)?.dtype;
            let bound = |w: &mut Writer, what: &str, v: f32| {
                if v.is_infinite() {
                    String::new()
                } else {
                    w.initializer(
                        &format!("{name}_{what}"),
                        &Tensor::scalar_f32(v).cast(dtype),
                    )
                }
            };
            let lo = bound(w, "min", *min);
            let hi = bound(w, "max", *max);
            if !hi.is_empty() {
                ins.push(lo);
                ins.push(hi);
            } else if !lo.is_empty() {
                ins.push(lo);
            }
            ("Clip", vec![])
        }
        Op::LeakyRelu { alpha } => ("LeakyRelu", vec![attr_f("alpha", *alpha)]),
        Op::HardSigmoid { alpha, beta } => (
            "HardSigmoid",
            vec![attr_f("alpha", *alpha), attr_f("beta", *beta)],
        ),
        Op::MatMul => ("MatMul", vec![]),
        Op::Reshape { shape } => {
            ins.push(w.initializer(&format!("{name}_shape"), &Tensor::vec_i64(ints(shape))));
            // allowzero: a 0 in the target is an empty dim, not "copy the input's".
            let attrs = if shape.contains(&0) {
                vec![attr_i("allowzero", 1)]
            } else {
                vec![]
            };
            ("Reshape", attrs)
        }
        Op::Transpose { perm } => ("Transpose", vec![attr_ints("perm", perm)]),
        Op::Concat { axis } => ("Concat", vec![attr_i("axis", *axis as i64)]),
        Op::Split { axis, sizes } => {
            ins.push(w.initializer(&format!("{name}_split"), &Tensor::vec_i64(ints(sizes))));
            ("Split", vec![attr_i("axis", *axis as i64)])
        }
        Op::Slice(s) => {
            // The IR's end of -1 (with a negative step) runs to the front: INT64_MIN in ONNX,
            // where -1 would count from the back.
            let ends: Vec<i64> = s
                .ends
                .iter()
                .map(|&e| if e < 0 { i64::MIN } else { e })
                .collect();
            for (what, v) in [
                ("starts", s.starts.clone()),
                ("ends", ends),
                ("axes", ints(&s.axes)),
                ("steps", s.steps.clone()),
            ] {
                ins.push(w.initializer(&format!("{name}_{what}"), &Tensor::vec_i64(v)));
            }
            ("Slice", vec![])
        }
        Op::Gather { axis } => ("Gather", vec![attr_i("axis", *axis as i64)]),
        Op::Reduce(r) => {
            ins.push(w.initializer(&format!("{name}_axes"), &Tensor::vec_i64(ints(&r.axes))));
            (
                r.kind.name(),
                vec![attr_i("keepdims", i64::from(r.keep_dims))],
            )
        }
        Op::Softmax { axis } => ("Softmax", vec![attr_i("axis", *axis as i64)]),
        Op::LayerNorm(l) => {
            // The IR lets scale and bias broadcast to the normalized shape; ONNX Runtime wants
            // them whole, so smaller ones are expanded.
            let x = input_ty(0)?;
            let norm = x
                .shape
                .get(l.axis..)
                .map(<[usize]>::to_vec)
                .unwrap_or_default();
            for (i, input) in ins.iter_mut().enumerate().skip(1) {
                let ty = input_ty(i)?;
                if ty.shape != norm {
                    let what = if i == 1 { "scale" } else { "bias" };
                    let shape = w.initializer(
                        &format!("{name}_{what}_shape"),
                        &Tensor::vec_i64(ints(&norm)),
                    );
                    let out = w.fresh(&format!("{name}/{what}_expanded"));
                    let src = std::mem::replace(input, out.clone());
                    let out_ty = TensorType::new(ty.dtype, norm.clone());
                    w.node(
                        &format!("{name}/expand_{what}"),
                        "Expand",
                        vec![src, shape],
                        &[(out, out_ty)],
                        vec![],
                    );
                }
            }
            (
                "LayerNormalization",
                vec![attr_i("axis", l.axis as i64), attr_f("epsilon", l.epsilon)],
            )
        }
        Op::Pad(p) => {
            let dtype = input_ty(0)?.dtype;
            let pads: Vec<i64> = p
                .pads
                .iter()
                .map(|b| b[0] as i64)
                .chain(p.pads.iter().map(|b| b[1] as i64))
                .collect();
            ins.push(w.initializer(&format!("{name}_pads"), &Tensor::vec_i64(pads)));
            let mode = match p.mode {
                PadMode::Constant(v) => {
                    ins.push(
                        w.initializer(&format!("{name}_value"), &Tensor::scalar_f32(v).cast(dtype)),
                    );
                    "constant"
                }
                PadMode::Reflect => "reflect",
                PadMode::Edge => "edge",
            };
            ("Pad", vec![attr_s("mode", mode)])
        }
        Op::Cast { to } => ("Cast", vec![attr_i("to", i64::from(dtype_code(*to)))]),
    };
    w.node(name, op_type, ins, outs, attrs);
    Ok(())
}

/// kH, kW of an OIHW (or IOHW) weight.
fn kernel(weight: &TensorType) -> Option<[usize; 2]> {
    match weight.shape.as_slice() {
        [_, _, h, w] => Some([*h, *w]),
        _ => None,
    }
}

fn ints(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// The ONNX op of a one-node unary (GeluTanh and Rsqrt are written with their own arms).
fn unary_type(u: UnaryOp) -> &'static str {
    match u {
        UnaryOp::Relu => "Relu",
        UnaryOp::Sigmoid => "Sigmoid",
        UnaryOp::Tanh => "Tanh",
        UnaryOp::Erf => "Erf",
        UnaryOp::Gelu | UnaryOp::GeluTanh => "Gelu",
        UnaryOp::HardSwish => "HardSwish",
        UnaryOp::Sqrt => "Sqrt",
        UnaryOp::Rsqrt => "Reciprocal",
        UnaryOp::Reciprocal => "Reciprocal",
        UnaryOp::Exp => "Exp",
        UnaryOp::Log => "Log",
        UnaryOp::Neg => "Neg",
        UnaryOp::Abs => "Abs",
        UnaryOp::Floor => "Floor",
        UnaryOp::Ceil => "Ceil",
    }
}

//! IR op -> TFLite builtin lowering rules and fusions.
//!
//! `lower` walks the nodes in order; each IR op has exactly one arm in `Lower::node`, which
//! either emits TFLite operators or says why it cannot. Unsupported nodes are all collected
//! before failing. Fusions look forward from a producer: an activation (Relu, Clip(0,6),
//! Clip(-1,1)) that is the only consumer of a producer's non-graph-output value is absorbed
//! into the producer's `fused_activation_function`; an Add of a constant [N] bias after a
//! MatMul lowered to FULLY_CONNECTED becomes the FC bias.

use edgeport_ir::ops::{
    BinaryOp, Conv, ConvTranspose, LayerNorm, PadMode, Pool, PoolKind, ReduceKind, Resize,
    ResizeMode, Slice, UnaryOp,
};
use std::collections::BTreeMap;

use edgeport_ir::{DType, Graph, Layout, Node, Op, QuantParams, Tensor, ValueId};

use crate::builder::{ModelBuilder, Quantization};
use crate::ops::activation::{self, Activation};
use crate::ops::arithmetic::{self, Arith};
use crate::ops::pad::PadKind;
use crate::ops::pool_2d::{Pool2d, PoolOp};
use crate::ops::reduce::Reducer;
use crate::ops::resize::{ResizeOp, ResizeParams};
use crate::ops::slice::StridedSlice;
use crate::ops::unary_math::UnaryMath;
use crate::ops::{self, Act, Padding, i32c};
use crate::{TfliteError, coords, weights};

/// IR op -> TFLite builtins it lowers to (for reports and the supported-ops table).
pub(crate) const SUPPORTED: &[(&str, &str)] = &[
    (
        "Conv",
        "CONV_2D | DEPTHWISE_CONV_2D | SPLIT + CONV_2D + CONCATENATION (+ PAD)",
    ),
    (
        "ConvTranspose",
        "TRANSPOSE_CONV (+ SPLIT / CONCATENATION for groups, SLICE crop)",
    ),
    ("MaxPool", "MAX_POOL_2D (+ PADV2 -FLT_MAX)"),
    (
        "AvgPool",
        "AVERAGE_POOL_2D (+ PAD, MUL for partial windows)",
    ),
    (
        "Resize",
        "RESIZE_BILINEAR | RESIZE_NEAREST_NEIGHBOR (exact option match only)",
    ),
    ("Relu", "RELU"),
    ("Sigmoid", "LOGISTIC"),
    ("Tanh", "TANH"),
    (
        "Erf",
        "ABS, MUL, ADD, DIV, EXP, NEG, SUB, SIGN (Abramowitz-Stegun 7.1.26)",
    ),
    ("Gelu", "GELU(approximate=false)"),
    ("GeluTanh", "GELU(approximate=true)"),
    ("HardSwish", "HARD_SWISH"),
    ("Sqrt", "SQRT"),
    ("Rsqrt", "RSQRT"),
    ("Reciprocal", "DIV(1, x)"),
    ("Exp", "EXP"),
    ("Log", "LOG"),
    ("Neg", "NEG"),
    ("Abs", "ABS"),
    ("Floor", "FLOOR"),
    ("Ceil", "CEIL"),
    ("Add", "ADD"),
    ("Sub", "SUB"),
    ("Mul", "MUL"),
    ("Div", "DIV"),
    ("Pow", "POW | MUL(x, x) | SQRT"),
    ("Min", "MINIMUM"),
    ("Max", "MAXIMUM"),
    ("PRelu", "PRELU"),
    (
        "Clip",
        "RELU6 | RELU_N1_TO_1 | RELU_0_TO_1 | RELU | MAXIMUM + MINIMUM",
    ),
    ("LeakyRelu", "LEAKY_RELU"),
    ("HardSigmoid", "MUL, ADD, RELU_0_TO_1"),
    (
        "MatMul",
        "FULLY_CONNECTED (constant rank-2 rhs) | BATCH_MATMUL",
    ),
    ("Reshape", "RESHAPE"),
    ("Transpose", "TRANSPOSE"),
    ("Concat", "CONCATENATION"),
    ("Split", "SPLIT_V"),
    ("Slice", "SLICE | STRIDED_SLICE"),
    ("Gather", "GATHER"),
    ("ReduceMean", "MEAN"),
    ("ReduceSum", "SUM"),
    ("ReduceMax", "REDUCE_MAX"),
    ("ReduceMin", "REDUCE_MIN"),
    ("ReduceProd", "REDUCE_PROD"),
    ("Softmax", "SOFTMAX (+ TRANSPOSE for a non-last axis)"),
    (
        "LayerNorm",
        "MEAN, SUB, MUL, MEAN, ADD, RSQRT, MUL, MUL, ADD",
    ),
    ("Pad", "PAD | PADV2 | MIRROR_PAD (reflect) | GATHER (edge)"),
    ("Cast", "CAST | DEQUANTIZE (float16 constant to float32)"),
];

/// Why one node could not be lowered.
enum Fail {
    Unsupported(String),
    Hard(TfliteError),
}

impl From<TfliteError> for Fail {
    fn from(e: TfliteError) -> Fail {
        Fail::Hard(e)
    }
}

type R<T = ()> = Result<T, Fail>;

fn unsupported<T>(reason: impl Into<String>) -> R<T> {
    Err(Fail::Unsupported(reason.into()))
}

fn ir_err(e: edgeport_ir::IrError) -> Fail {
    Fail::Hard(TfliteError::Invalid(e.to_string()))
}

/// Lower every node of `g` into `b`.
pub(crate) fn lower(g: &Graph, b: &mut ModelBuilder, opts: &crate::ExportOptions) -> Result<(), TfliteError> {
    check_preconditions(g)?;
    b.reserve_names(g);
    // Int8 inputs and outputs behind a float32 interface: the interface tensors keep the
    // model's names, the int8 ones get a suffix.
    let float_interface: Vec<ValueId> = if opts.int8_interface {
        Vec::new()
    } else {
        g.inputs.iter().chain(&g.outputs).copied().filter(|&v| g.value(v).quant.is_some()).collect()
    };
    for &v in &float_interface {
        b.rename(v, &format!("{}_int8", g.value(v).name));
    }
    let mut produced = vec![false; g.values().len()];
    for &i in &g.inputs {
        let t = b.value(g, i)?;
        if float_interface.contains(&i) {
            let f = b.float_named(&g.value(i).name, &g.value(i).ty.shape)?;
            ops::cast::quantize_int8(b, f, t);
            b.interface.insert(i, f);
        }
    }
    for v in g.value_ids() {
        produced[v.0 as usize] = g.is_const(v) || g.inputs.contains(&v);
    }
    let n_values = g.values().len();
    let mut is_output = vec![false; n_values];
    for &o in &g.outputs {
        if let Some(slot) = is_output.get_mut(o.0 as usize) {
            *slot = true;
        }
    }
    let mut cx = Lower {
        g,
        b,
        consumers: g.consumers(),
        is_output,
        absorbed: vec![false; g.nodes.len()],
        pending: Vec::new(),
        int8: false,
        hybrid: false,
        temp_quant: None,
        float_twin: BTreeMap::new(),
        to_quantize: Vec::new(),
        produced,
    };
    let mut failed = Vec::new();
    for idx in 0..g.nodes.len() {
        if cx.absorbed[idx] {
            continue;
        }
        let node = &g.nodes[idx];
        cx.pending.clear();
        cx.int8 = node.int8;
        cx.hybrid = opts.int8_weights && crate::hybrid::dynamic_input(g, node).is_some();
        if let Err(e) = cx.check_int8(node) {
            failed.push((node.name.clone(), node.op.name().to_string(), e));
            continue;
        }
        cx.temp_quant = node.inputs.first().and_then(|&x| g.value(x).quant);
        match cx.node(node) {
            Ok(()) => {
                let absorbed = std::mem::take(&mut cx.pending);
                for &a in &absorbed {
                    cx.absorbed[a] = true;
                }
                for n in std::iter::once(node).chain(absorbed.iter().map(|&a| &g.nodes[a])) {
                    for &o in &n.outputs {
                        cx.produced[o.0 as usize] = true;
                    }
                }
                // A float node's int8 outputs: QUANTIZE what it wrote in float.
                for (v, f) in std::mem::take(&mut cx.to_quantize) {
                    cx.float_twin.remove(&v);
                    let q = cx.b.value(g, v)?;
                    ops::cast::quantize_int8(cx.b, f, q);
                }
            }
            Err(Fail::Unsupported(reason)) => {
                failed.push((node.name.clone(), node.op.name().to_string(), reason))
            }
            Err(Fail::Hard(e)) => return Err(e),
        }
    }
    if !failed.is_empty() {
        return Err(TfliteError::Unsupported { nodes: failed });
    }
    for &o in &g.outputs {
        if float_interface.contains(&o) {
            let q = b.value(g, o)?;
            let f = b.float_named(&g.value(o).name, &g.value(o).ty.shape)?;
            ops::cast::dequantize_int8(b, q, f);
            b.interface.insert(o, f);
        }
    }
    Ok(())
}

/// The layout pass must have run: every layout-carrying op is NHWC.
fn check_preconditions(g: &Graph) -> Result<(), TfliteError> {
    for node in &g.nodes {
        let layout = match &node.op {
            Op::Conv(c) => Some(c.layout),
            Op::ConvTranspose(c) => Some(c.layout),
            Op::Pool(p) => Some(p.layout),
            Op::Resize(r) => Some(r.layout),
            _ => None,
        };
        if layout == Some(Layout::Nchw) {
            return Err(TfliteError::Invalid(format!(
                "node '{}' ({}) is NCHW; run the NHWC layout pass before exporting to TFLite",
                node.name,
                node.op.name()
            )));
        }
        for &v in node.inputs.iter().chain(&node.outputs) {
            if v.0 as usize >= g.values().len() {
                return Err(TfliteError::Invalid(format!(
                    "node '{}' refers to a value that does not exist",
                    node.name
                )));
            }
        }
    }
    for &v in g.inputs.iter().chain(&g.outputs) {
        if v.0 as usize >= g.values().len() {
            return Err(TfliteError::Invalid(
                "a graph input or output refers to a value that does not exist".into(),
            ));
        }
    }
    Ok(())
}

/// The `fused_activation_function` an activation node becomes when a CONV_2D, FULLY_CONNECTED
/// or ADD/SUB/MUL producing its input absorbs it.
pub(crate) fn fused_activation(op: &Op) -> Option<Act> {
    match *op {
        Op::Unary(UnaryOp::Relu) => Some(Act::Relu),
        Op::Clip { min, max } if min == 0.0 && max == 6.0 => Some(Act::Relu6),
        Op::Clip { min, max } if min == -1.0 && max == 1.0 => Some(Act::ReluN1To1),
        Op::Clip { min, max } if min == 0.0 && max == f32::INFINITY => Some(Act::Relu),
        _ => None,
    }
}

/// Whether constant `t` can be the bias of a FULLY_CONNECTED with `n` outputs whose product has
/// rank `out_rank`: float32, `n` values along the last axis, ones before it.
pub(crate) fn is_fc_bias(t: &Tensor, n: usize, out_rank: usize) -> bool {
    t.dtype() == DType::F32
        && t.len() == n
        && t.shape().last() == Some(&n)
        && t.shape().iter().rev().skip(1).all(|&d| d == 1)
        && t.shape().len() <= out_rank
}

/// TF "SAME" padding (before, after) for one spatial axis.
pub(crate) fn same_pads(input: usize, kernel: usize, stride: usize, dilation: usize) -> (usize, usize) {
    let stride = stride.max(1);
    let out = input.div_ceil(stride);
    let eff = kernel.saturating_sub(1) * dilation + 1;
    let total = ((out.saturating_sub(1)) * stride + eff).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// Geometry of a sliding-window op (pads: top, left, bottom, right).
struct Window {
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    pads: [usize; 4],
}

struct Lower<'g, 'b> {
    g: &'g Graph,
    b: &'b mut ModelBuilder,
    consumers: Vec<Vec<usize>>,
    is_output: Vec<bool>,
    absorbed: Vec<bool>,
    /// Nodes the node being lowered absorbs (committed only if it lowers successfully).
    pending: Vec<usize>,
    /// The node being lowered runs on int8 tensors.
    int8: bool,
    /// The node being lowered is a hybrid kernel: int8 weights, float32 activations
    /// ([`crate::hybrid`]).
    hybrid: bool,
    /// Parameters of the int8 intermediates of the node being lowered (its input's).
    temp_quant: Option<QuantParams>,
    /// Float32 views of int8 values, for float nodes.
    float_twin: BTreeMap<ValueId, i32>,
    /// Int8 outputs of the float node being lowered, written in float first.
    to_quantize: Vec<(ValueId, i32)>,
    /// Values whose tensor holds data by now (inputs, constants, outputs of lowered nodes).
    produced: Vec<bool>,
}

impl<'g> Lower<'g, '_> {
    // ---- small helpers -------------------------------------------------------------------

    fn input(&self, node: &Node, i: usize) -> R<ValueId> {
        node.inputs.get(i).copied().ok_or_else(|| {
            Fail::Hard(TfliteError::Invalid(format!(
                "node '{}' lacks input {i}",
                node.name
            )))
        })
    }

    fn output(&self, node: &Node) -> R<ValueId> {
        node.outputs.first().copied().ok_or_else(|| {
            Fail::Hard(TfliteError::Invalid(format!(
                "node '{}' has no output",
                node.name
            )))
        })
    }

    fn shape(&self, v: ValueId) -> &'g [usize] {
        &self.g.value(v).ty.shape
    }

    fn dtype(&self, v: ValueId) -> DType {
        self.g.value(v).ty.dtype
    }

    fn constant(&self, v: ValueId) -> Option<&'g Tensor> {
        self.g.constant(v)
    }

    /// The tensor of value `v` as the node being lowered reads or writes it: a float node
    /// sees int8 values through a float32 twin (DEQUANTIZE of what exists, or a float output
    /// that is QUANTIZEd after the node).
    fn t(&mut self, v: ValueId) -> R<i32> {
        let value = self.g.value(v);
        if self.int8 || value.quant.is_none() {
            return Ok(self.b.value(self.g, v)?);
        }
        if let Some(&f) = self.float_twin.get(&v) {
            return Ok(f);
        }
        let f = if let Some(c) = value.constant.as_ref() {
            // on its grid already: the float constant is what DEQUANTIZE would give
            self.b.constant(&format!("{}/float", value.name), c)?
        } else if self.produced[v.0 as usize] {
            let q = self.b.value(self.g, v)?;
            let f = self.b.temp(&format!("{}/dequantize", value.name), DType::F32, &value.ty.shape)?;
            ops::cast::dequantize_int8(self.b, q, f);
            f
        } else {
            let f = self.b.temp(&format!("{}/float", value.name), DType::F32, &value.ty.shape)?;
            self.to_quantize.push((v, f));
            f
        };
        self.float_twin.insert(v, f);
        Ok(f)
    }

    /// An intermediate of a lowering: in an int8 node, int8 with the node input's parameters
    /// (the int8 plan only admits lowerings whose intermediates hold the input's values).
    fn temp(&mut self, name: &str, dtype: DType, shape: &[usize]) -> R<i32> {
        match self.temp_quant {
            Some(q) if self.int8 && dtype == DType::F32 => Ok(self.b.temp_int8(name, shape, q)?),
            _ => Ok(self.b.temp(name, dtype, shape)?),
        }
    }

    /// An int8 node must find int8 parameters on every float activation it reads (its outputs may
    /// be fused values, which have none).
    fn check_int8(&self, node: &Node) -> Result<(), String> {
        if !node.int8 {
            return Ok(());
        }
        for &v in &node.inputs {
            let value = self.g.value(v);
            if value.constant.is_none() && value.ty.dtype == DType::F32 && value.quant.is_none() {
                return Err(format!("int8 node reads '{}', which has no int8 parameters", value.name));
            }
        }
        Ok(())
    }

    /// Per-channel int8 form of weight values already on their grid along `axis`.
    fn int8_weight(&mut self, name: &str, t: &Tensor, axis: usize) -> R<(i32, Vec<f32>)> {
        let Some(q) = edgeport_quant::int8::recover_along(&t.to_f32_vec(), t.shape(), axis) else {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "weights of '{name}' are not on a per-channel int8 grid (run the int8 plan first)"
            ))));
        };
        let quant = Quantization {
            scales: q.scales.clone(),
            zero_points: vec![0; q.scales.len()],
            dim: axis as i32,
        };
        let tensor = self.b.const_int8(name, t.shape(), &q.q, quant)?;
        Ok((tensor, q.scales))
    }

    /// The int32 bias of an int8 layer reading `x`: scale input x weight scale per channel.
    fn int32_bias(&mut self, name: &str, x: ValueId, bias: &[f32], w_scales: &[f32]) -> R<i32> {
        let s_in = self.g.value(x).quant.map_or(1.0, |q| q.scale);
        let scales: Vec<f32> = w_scales.iter().map(|&s| crate::int8::bias_scale(s_in, s)).collect();
        let q: Vec<i32> = bias
            .iter()
            .zip(&scales)
            .map(|(&b, &s)| (b / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32)
            .collect();
        let quant = Quantization { zero_points: vec![0; scales.len()], scales, dim: 0 };
        Ok(self.b.const_int32_quantized(name, &q, quant)?)
    }

    fn require_f32(&self, v: ValueId) -> R {
        match self.dtype(v) {
            DType::F32 => Ok(()),
            d => unsupported(format!(
                "input '{}' is {d}: TFLite runs this op on float32 only (float16 is for weights)",
                self.g.value(v).name
            )),
        }
    }

    /// The only consumer of `v`, when `v` is not a graph output.
    /// The only consumer of `v` and its index, when `v` is not a graph output.
    fn sole_consumer(&self, v: ValueId) -> Option<(usize, &'g Node)> {
        if self.is_output.get(v.0 as usize).copied().unwrap_or(true) {
            return None;
        }
        match self.consumers.get(v.0 as usize).map(Vec::as_slice) {
            Some(&[c]) if !self.absorbed[c] => self.g.nodes.get(c).map(|n| (c, n)),
            _ => None,
        }
    }

    /// If `v`'s only consumer is an activation TFLite can fuse, absorb it: returns the fused
    /// activation and the value the fused op now produces. Otherwise (None, v).
    fn take_act(&mut self, v: ValueId) -> (Act, ValueId) {
        if self.dtype(v) != DType::F32 {
            return (Act::None, v);
        }
        let Some((ci, c)) = self.sole_consumer(v) else {
            return (Act::None, v);
        };
        if c.int8 != self.int8 {
            return (Act::None, v);
        }
        let Some(act) = fused_activation(&c.op) else {
            return (Act::None, v);
        };
        match c.outputs.first() {
            Some(&out) => {
                self.pending.push(ci);
                (act, out)
            }
            None => (Act::None, v),
        }
    }

    fn arith(&mut self, op: Arith, x: i32, y: i32, out: i32, act: Act) {
        arithmetic::emit(self.b, op, x, y, out, act);
    }

    /// out = op(x, scalar)
    fn arith_scalar(&mut self, name: &str, op: Arith, x: i32, c: f32, out: i32) -> R {
        let ct = self.b.scalar_f32(&format!("{name}/c"), c)?;
        self.arith(op, x, ct, out, Act::None);
        Ok(())
    }

    fn reshape(&mut self, name: &str, x: i32, out: i32, shape: &[usize]) -> R {
        Ok(ops::reshape::emit(self.b, name, x, out, shape)?)
    }

    /// Insert a PAD (or PADV2 with `value`) on H and W of an NHWC tensor; returns the padded tensor.
    fn pad_hw(
        &mut self,
        name: &str,
        x: i32,
        shape: &[usize],
        pads: [usize; 4],
        value: f32,
    ) -> R<(i32, Vec<usize>)> {
        let [t, l, bo, r] = pads;
        let padded = vec![shape[0], shape[1] + t + bo, shape[2] + l + r, shape[3]];
        let out = self.temp(&format!("{name}/pad"), DType::F32, &padded)?;
        let p = [[0, 0], [t, bo], [l, r], [0, 0]];
        ops::pad::emit(
            self.b,
            &format!("{name}/pad"),
            x,
            out,
            &p,
            PadKind::Constant(value),
            DType::F32,
        )?;
        Ok((out, padded))
    }

    /// Pick SAME / VALID for a window op, inserting an explicit pad when neither matches.
    fn window_padding(
        &mut self,
        name: &str,
        x: i32,
        shape: &[usize],
        w: &Window,
        pad_value: f32,
    ) -> R<(Padding, i32, Vec<usize>)> {
        if w.pads == [0; 4] {
            return Ok((Padding::Valid, x, shape.to_vec()));
        }
        let (st, sb) = same_pads(shape[1], w.kernel[0], w.strides[0], w.dilations[0]);
        let (sl, sr) = same_pads(shape[2], w.kernel[1], w.strides[1], w.dilations[1]);
        if w.pads == [st, sl, sb, sr] {
            return Ok((Padding::Same, x, shape.to_vec()));
        }
        let (p, padded) = self.pad_hw(name, x, shape, w.pads, pad_value)?;
        Ok((Padding::Valid, p, padded))
    }

    // ---- the one match over the IR op set -------------------------------------------------

    fn node(&mut self, node: &'g Node) -> R {
        match &node.op {
            Op::Conv(c) => self.conv(node, c),
            Op::ConvTranspose(c) => self.conv_transpose(node, c),
            Op::Pool(p) => self.pool(node, p),
            Op::Resize(r) => self.resize(node, r),
            Op::Unary(u) => self.unary(node, *u),
            Op::Binary(op) => self.binary(node, *op),
            Op::PRelu => self.prelu(node),
            Op::Clip { min, max } => self.clip(node, *min, *max),
            Op::LeakyRelu { alpha } => {
                let x = self.input(node, 0)?;
                self.require_f32(x)?;
                let (xt, out) = (self.t(x)?, self.output(node)?);
                let ot = self.t(out)?;
                activation::emit(self.b, Activation::LeakyRelu { alpha: *alpha }, xt, ot);
                Ok(())
            }
            Op::HardSigmoid { alpha, beta } => self.hard_sigmoid(node, *alpha, *beta),
            Op::MatMul => self.matmul(node),
            Op::Reshape { shape } => {
                let (x, out) = (self.input(node, 0)?, self.output(node)?);
                let (xt, ot) = (self.t(x)?, self.t(out)?);
                self.reshape(&node.name, xt, ot, shape)
            }
            Op::Transpose { perm } => {
                let (x, out) = (self.input(node, 0)?, self.output(node)?);
                if perm.len() > 6 {
                    return unsupported(format!(
                        "TRANSPOSE supports rank <= 6, got rank {}",
                        perm.len()
                    ));
                }
                let (xt, ot) = (self.t(x)?, self.t(out)?);
                Ok(ops::transpose::emit(
                    self.b,
                    &node.name,
                    xt,
                    ot,
                    perm,
                    self.dtype(x),
                )?)
            }
            Op::Concat { axis } => self.concat(node, *axis),
            Op::Split { axis, sizes } => {
                let x = self.input(node, 0)?;
                let xt = self.t(x)?;
                let outs = node
                    .outputs
                    .iter()
                    .map(|&o| self.t(o))
                    .collect::<R<Vec<i32>>>()?;
                Ok(ops::split::split_v(
                    self.b,
                    &node.name,
                    xt,
                    &outs,
                    *axis,
                    sizes,
                    self.dtype(x),
                )?)
            }
            Op::Slice(s) => self.slice(node, s),
            Op::Gather { axis } => self.gather(node, *axis),
            Op::Reduce(r) => self.reduce(node, r.kind, &r.axes, r.keep_dims),
            Op::Softmax { axis } => self.softmax(node, *axis),
            Op::LayerNorm(l) => self.layer_norm(node, l),
            Op::Pad(p) => self.pad(node, &p.pads, p.mode),
            Op::Cast { to } => self.cast(node, *to),
        }
    }

    // ---- convolution ----------------------------------------------------------------------

    fn conv(&mut self, node: &'g Node, c: &Conv) -> R {
        let (x, w, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        let bias = node.inputs.get(2).copied();
        self.require_f32(x)?;
        let (xs, ws) = (self.shape(x), self.shape(w));
        if xs.len() != 4 || ws.len() != 4 {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "conv '{}' needs rank-4 input and weight",
                node.name
            ))));
        }
        let (cin, o, i_per_group, kh, kw) = (xs[3], ws[0], ws[1], ws[2], ws[3]);
        let group = c.group.max(1);
        let name = node.name.as_str();
        let (act, out) = self.take_act(out);
        let out_shape = self.shape(out).to_vec();
        let xt = self.t(x)?;
        let window = Window {
            kernel: [kh, kw],
            strides: c.strides,
            dilations: c.dilations,
            pads: c.pads,
        };
        let (padding, xin, xin_shape) = self.window_padding(name, xt, xs, &window, 0.0)?;
        let ot = self.t(out)?;

        if group == 1 {
            let (filter, w_scales) = self.filter(name, w, &[0, 2, 3, 1])?;
            let bias_t = self.conv_bias(name, x, bias, o, w_scales.as_deref())?;
            let p = ops::conv_2d::Conv2d {
                padding,
                stride: c.strides,
                dilation: c.dilations,
                act,
            };
            ops::conv_2d::emit(self.b, xin, filter, bias_t, ot, &p);
            return Ok(());
        }
        if group == cin && i_per_group == 1 {
            let (filter, w_scales) = self.filter(name, w, &[1, 2, 3, 0])?;
            let bias_t = self.conv_bias(name, x, bias, o, w_scales.as_deref())?;
            let p = ops::depthwise_conv_2d::DepthwiseConv2d {
                padding,
                stride: c.strides,
                dilation: c.dilations,
                depth_multiplier: o / cin.max(1),
                act,
            };
            ops::depthwise_conv_2d::emit(self.b, xin, filter, bias_t, ot, &p);
            return Ok(());
        }
        // Other grouped convolutions: SPLIT the channels, one CONV_2D per group (each with the
        // fused activation), CONCATENATION of the results.
        let Some(wc) = self.constant(w) else {
            return unsupported("grouped convolution with non-constant weights");
        };
        if bias.is_some_and(|bv| self.constant(bv).is_none()) {
            return unsupported("grouped convolution with a non-constant bias");
        }
        let (cg, og) = (cin / group, o / group);
        let part_in = vec![xin_shape[0], xin_shape[1], xin_shape[2], cg];
        let parts: Vec<i32> = (0..group)
            .map(|gi| self.temp(&format!("{name}/split_{gi}"), DType::F32, &part_in))
            .collect::<R<_>>()?;
        ops::split::split(self.b, &format!("{name}/split"), xin, &parts, 3, DType::F32)?;
        let mut part_out_shape = out_shape.clone();
        part_out_shape[3] = og;
        let mut outs = Vec::with_capacity(group);
        for (gi, &part) in parts.iter().enumerate() {
            let wg = weights::slice_axis(wc, 0, gi * og, (gi + 1) * og)?;
            let filter_t = weights::permute_f32(&wg, &[0, 2, 3, 1])?;
            let filter = self.b.constant(&format!("{name}/filter_{gi}"), &filter_t)?;
            let bias_t = self.bias_or_zeros(name, bias, o, gi * og, (gi + 1) * og)?;
            let po = self.temp(&format!("{name}/group_{gi}"), DType::F32, &part_out_shape)?;
            let p = ops::conv_2d::Conv2d {
                padding,
                stride: c.strides,
                dilation: c.dilations,
                act,
            };
            ops::conv_2d::emit(self.b, part, filter, bias_t, po, &p);
            outs.push(po);
        }
        ops::concatenation::emit(self.b, &outs, ot, 3, DType::F32, Act::None);
        Ok(())
    }

    /// A convolution filter in TFLite order; in an int8 node, int8 per output channel (with
    /// its scales).
    fn filter(&mut self, name: &str, w: ValueId, perm: &[usize]) -> R<(i32, Option<Vec<f32>>)> {
        if !self.int8 && !self.hybrid {
            return Ok((self.weight_permuted(name, "filter", w, perm)?, None));
        }
        let Some(wc) = self.constant(w) else {
            return unsupported("int8 convolution with non-constant weights");
        };
        let t = weights::permute_f32(wc, perm)?;
        let axis = perm.iter().position(|&p| p == 0).unwrap_or(0);
        let (tensor, scales) = self.int8_weight(&format!("{name}/filter"), &t, axis)?;
        // A hybrid kernel keeps its bias in float32.
        Ok((tensor, self.int8.then_some(scales)))
    }

    /// A convolution's bias: float32, or int32 when the filter is int8 (`w_scales`).
    fn conv_bias(&mut self, name: &str, x: ValueId, bias: Option<ValueId>, o: usize, w_scales: Option<&[f32]>) -> R<i32> {
        let Some(scales) = w_scales else {
            return self.bias_or_zeros(name, bias, o, 0, o);
        };
        let values = match bias {
            None => vec![0.0; o],
            Some(bv) => match self.constant(bv) {
                Some(c) if c.len() == o => c.to_f32_vec(),
                _ => return unsupported("int8 convolution needs a constant bias of one value per output channel"),
            },
        };
        self.int32_bias(&format!("{name}/bias"), x, &values, scales)
    }

    /// A 4-D weight permuted into TFLite order: a permuted constant, or a TRANSPOSE op.
    fn weight_permuted(&mut self, name: &str, what: &str, w: ValueId, perm: &[usize]) -> R<i32> {
        if let Some(wc) = self.constant(w) {
            let t = weights::permute_f32(wc, perm)?;
            return Ok(self.b.constant(&format!("{name}/{what}"), &t)?);
        }
        if self.dtype(w) != DType::F32 {
            return unsupported(format!("non-constant {} weights", self.dtype(w)));
        }
        let ws = self.shape(w);
        let shape: Vec<usize> = perm.iter().map(|&p| ws[p]).collect();
        let wt = self.t(w)?;
        let out = self.temp(&format!("{name}/{what}"), DType::F32, &shape)?;
        ops::transpose::emit(self.b, &format!("{name}/{what}"), wt, out, perm, DType::F32)?;
        Ok(out)
    }

    /// Bias rows `start..end` as a float32 constant (zeros when the node has none), or the
    /// bias value itself when it is a full non-constant bias.
    fn bias_or_zeros(
        &mut self,
        name: &str,
        bias: Option<ValueId>,
        full: usize,
        start: usize,
        end: usize,
    ) -> R<i32> {
        match bias {
            None => Ok(self.b.const_f32(
                &format!("{name}/bias"),
                &[end - start],
                vec![0.0; end - start],
            )?),
            Some(bv) => match self.constant(bv) {
                Some(bc) => {
                    let v = bc.to_f32_vec();
                    let part = v.get(start..end).map(<[f32]>::to_vec).ok_or_else(|| {
                        Fail::Hard(TfliteError::Invalid(format!(
                            "bias of '{name}' is shorter than {end}"
                        )))
                    })?;
                    let suffix = if start == 0 && end == full {
                        "bias".to_string()
                    } else {
                        format!("bias_{start}")
                    };
                    Ok(self
                        .b
                        .const_f32(&format!("{name}/{suffix}"), &[end - start], part)?)
                }
                None if start == 0 && end == full && self.dtype(bv) == DType::F32 => self.t(bv),
                None => unsupported("non-constant bias on a grouped convolution"),
            },
        }
    }

    fn conv_transpose(&mut self, node: &'g Node, c: &ConvTranspose) -> R {
        let (x, w, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        let bias = node.inputs.get(2).copied();
        self.require_f32(x)?;
        let (xs, ws) = (self.shape(x), self.shape(w));
        if xs.len() != 4 || ws.len() != 4 {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "conv transpose '{}' needs rank-4 input and weight",
                node.name
            ))));
        }
        let name = node.name.as_str();
        let group = c.group.max(1);
        let (n, h, wd, cin) = (xs[0], xs[1], xs[2], xs[3]);
        let og = ws[1];
        let o = og * group;
        let wconst = self.constant(w);
        if wconst.is_none() && (group != 1 || c.dilations != [1, 1]) {
            return unsupported(
                "transposed convolution with non-constant weights needs group 1 and no dilation",
            );
        }
        if bias.is_some_and(|bv| self.constant(bv).is_none()) && group != 1 {
            return unsupported("grouped transposed convolution with a non-constant bias");
        }
        // Dilation is folded into the kernel (zeros between taps): TRANSPOSE_CONV has none.
        let wdil = match wconst {
            Some(wc) => Some(weights::dilate_kernel(wc, c.dilations)?),
            None => None,
        };
        let (kh, kw) = match &wdil {
            Some(t) => (t.shape()[2], t.shape()[3]),
            None => (ws[2], ws[3]),
        };
        let (act, out) = self.take_act(out);
        let out_shape = self.shape(out).to_vec();
        let (oh, ow) = (out_shape[1], out_shape[2]);
        let [pt, pl, _pb, _pr] = c.pads;
        let s = c.strides;

        // TFLite's SAME offset for a transpose conv producing `size` from `input`.
        let same_offset = |size: usize, k: usize, st: usize| -> usize {
            let st = st.max(1);
            ((size.div_ceil(st).saturating_sub(1)) * st + k).saturating_sub(size) / 2
        };
        // Every kernel set agrees on two forms only: VALID producing exactly the natural size
        // (in - 1) * stride + k, and SAME in the TF-consistent case ceil(out / stride) == in.
        // Everything else is VALID at the natural size, then a zero PAD where ONNX output
        // padding reaches past it, a SLICE crop, and the bias ADD after the pad.
        let natural = [
            (h.saturating_sub(1)) * s[0] + kh,
            (wd.saturating_sub(1)) * s[1] + kw,
        ];
        let same_ok = same_offset(oh, kh, s[0]) == pt
            && same_offset(ow, kw, s[1]) == pl
            && oh.div_ceil(s[0].max(1)) == h
            && ow.div_ceil(s[1].max(1)) == wd;
        let (padding, tc_hw) = if pt == 0 && pl == 0 && [oh, ow] == natural {
            (Padding::Valid, natural)
        } else if same_ok {
            (Padding::Same, [oh, ow])
        } else {
            (Padding::Valid, natural)
        };
        let direct = tc_hw == [oh, ow];
        let ext = [
            (oh + pt).saturating_sub(natural[0]),
            (ow + pl).saturating_sub(natural[1]),
        ];
        let need_pad = !direct && ext != [0, 0];
        let padded_hw = [natural[0] + ext[0], natural[1] + ext[1]];
        let need_crop = !direct && padded_hw != [oh, ow];
        // With a pad, the bias must come after it (padded cells are bias only in ONNX); the
        // activation moves with it (without a bias, act(0) = 0 keeps it exact in the conv).
        let late_bias = need_pad && bias.is_some();
        let tc_act = if late_bias { Act::None } else { act };
        let tc_shape = vec![n, tc_hw[0], tc_hw[1], o];
        let ot = self.t(out)?;
        let steps = usize::from(need_pad) + usize::from(need_crop) + usize::from(late_bias);
        let tc_out = if steps == 0 {
            ot
        } else {
            self.temp(&format!("{name}/natural"), DType::F32, &tc_shape)?
        };
        let xt = self.t(x)?;
        let params = ops::transpose_conv::TransposeConv {
            padding,
            stride: s,
            act: tc_act,
        };

        let bias_part = |this: &mut Self, start: usize, end: usize| -> R<Option<i32>> {
            match bias {
                Some(_) if !late_bias => this.bias_or_zeros(name, bias, o, start, end).map(Some),
                _ => Ok(None),
            }
        };
        if group == 1 {
            let filter = match &wdil {
                Some(t) => {
                    let f = weights::permute_f32(t, &[1, 2, 3, 0])?;
                    self.b.constant(&format!("{name}/filter"), &f)?
                }
                None => self.weight_permuted(name, "filter", w, &[1, 2, 3, 0])?,
            };
            let shape_t = self.b.vec_i32(
                &format!("{name}/output_shape"),
                tc_shape.iter().map(|&d| i32c(d)).collect(),
            )?;
            let bias_t = bias_part(self, 0, o)?;
            ops::transpose_conv::emit(self.b, shape_t, filter, xt, bias_t, tc_out, &params);
        } else {
            let Some(wk) = &wdil else {
                return unsupported("grouped transposed convolution with non-constant weights");
            };
            let cg = cin / group;
            let part_in = vec![n, h, wd, cg];
            let parts: Vec<i32> = (0..group)
                .map(|gi| self.temp(&format!("{name}/split_{gi}"), DType::F32, &part_in))
                .collect::<R<_>>()?;
            ops::split::split(self.b, &format!("{name}/split"), xt, &parts, 3, DType::F32)?;
            let part_shape = vec![n, tc_hw[0], tc_hw[1], og];
            let shape_t = self.b.vec_i32(
                &format!("{name}/output_shape"),
                part_shape.iter().map(|&d| i32c(d)).collect(),
            )?;
            let mut outs = Vec::with_capacity(group);
            for (gi, &part) in parts.iter().enumerate() {
                let wg = weights::slice_axis(wk, 0, gi * cg, (gi + 1) * cg)?;
                let f = weights::permute_f32(&wg, &[1, 2, 3, 0])?;
                let filter = self.b.constant(&format!("{name}/filter_{gi}"), &f)?;
                let bias_t = bias_part(self, gi * og, (gi + 1) * og)?;
                let po = self.temp(&format!("{name}/group_{gi}"), DType::F32, &part_shape)?;
                ops::transpose_conv::emit(self.b, shape_t, filter, part, bias_t, po, &params);
                outs.push(po);
            }
            ops::concatenation::emit(self.b, &outs, tc_out, 3, DType::F32, Act::None);
        }
        let mut left = steps;
        let mut target = |this: &mut Self, what: &str, shape: &[usize]| -> R<i32> {
            left -= 1;
            if left == 0 {
                Ok(ot)
            } else {
                this.temp(&format!("{name}/{what}"), DType::F32, shape)
            }
        };
        let mut cur = tc_out;
        if need_pad {
            let shape = vec![n, padded_hw[0], padded_hw[1], o];
            let t = target(self, "output_padding", &shape)?;
            let p = [[0, 0], [0, ext[0]], [0, ext[1]], [0, 0]];
            ops::pad::emit(
                self.b,
                &format!("{name}/output_padding"),
                cur,
                t,
                &p,
                PadKind::Constant(0.0),
                DType::F32,
            )?;
            cur = t;
        }
        if need_crop {
            let t = target(self, "crop", &out_shape)?;
            let begin = vec![0, i32c(pt), i32c(pl), 0];
            let size = out_shape.iter().map(|&d| i32c(d)).collect();
            ops::slice::slice(
                self.b,
                &format!("{name}/crop"),
                cur,
                t,
                begin,
                size,
                DType::F32,
            )?;
            cur = t;
        }
        if late_bias {
            let t = target(self, "bias_add", &out_shape)?;
            let bt = self.bias_or_zeros(name, bias, o, 0, o)?;
            self.arith(Arith::Add, cur, bt, t, act);
        }
        Ok(())
    }

    // ---- pooling and resize ---------------------------------------------------------------

    fn pool(&mut self, node: &'g Node, p: &Pool) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let xs = self.shape(x);
        if xs.len() != 4 {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "pool '{}' needs a rank-4 input",
                node.name
            ))));
        }
        let name = node.name.as_str();
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let out_shape = self.shape(out).to_vec();
        let (same_t, same_b) = same_pads(xs[1], p.kernel[0], p.strides[0], 1);
        let (same_l, same_r) = same_pads(xs[2], p.kernel[1], p.strides[1], 1);
        let is_same = p.pads == [same_t, same_l, same_b, same_r];
        let params = |op, padding| Pool2d {
            op,
            padding,
            kernel: p.kernel,
            stride: p.strides,
        };
        match p.kind {
            PoolKind::Max => {
                // Padded cells never win a max: SAME pooling ignores them, explicit pads get -FLT_MAX.
                let window = Window {
                    kernel: p.kernel,
                    strides: p.strides,
                    dilations: [1, 1],
                    pads: p.pads,
                };
                let (padding, xin, _) = self.window_padding(name, xt, xs, &window, f32::MIN)?;
                ops::pool_2d::emit(self.b, xin, ot, &params(PoolOp::Max, padding));
            }
            PoolKind::Avg if p.pads == [0; 4] => {
                ops::pool_2d::emit(self.b, xt, ot, &params(PoolOp::Average, Padding::Valid));
            }
            // TFLite's SAME average excludes padded cells from the divisor.
            PoolKind::Avg if is_same && !p.count_include_pad => {
                ops::pool_2d::emit(self.b, xt, ot, &params(PoolOp::Average, Padding::Same));
            }
            PoolKind::Avg => {
                let (xin, _) = self.pad_hw(name, xt, xs, p.pads, 0.0)?;
                if p.count_include_pad {
                    ops::pool_2d::emit(self.b, xin, ot, &params(PoolOp::Average, Padding::Valid));
                } else {
                    // Average over zero-padded windows, rescaled by (window size / valid cells).
                    let avg = self.temp(&format!("{name}/padded_avg"), DType::F32, &out_shape)?;
                    ops::pool_2d::emit(self.b, xin, avg, &params(PoolOp::Average, Padding::Valid));
                    let scale = avg_pool_rescale(xs[1], xs[2], out_shape[1], out_shape[2], p);
                    let scale_t = self.b.const_f32(
                        &format!("{name}/rescale"),
                        &[1, out_shape[1], out_shape[2], 1],
                        scale,
                    )?;
                    self.arith(Arith::Mul, avg, scale_t, ot, Act::None);
                }
            }
        }
        Ok(())
    }

    fn resize(&mut self, node: &'g Node, r: &Resize) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let xs = self.shape(x);
        if xs.len() != 4 {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "resize '{}' needs a rank-4 input",
                node.name
            ))));
        }
        let input = [xs[1], xs[2]];
        let (op, found) = match r.mode {
            ResizeMode::Linear => (
                ResizeOp::Bilinear,
                coords::linear_options(r.coord, input, r.size),
            ),
            ResizeMode::Nearest(m) => (
                ResizeOp::Nearest,
                coords::nearest_options(r.coord, m, input, r.size),
            ),
        };
        let Some((align_corners, half_pixel_centers)) = found else {
            return unsupported(format!(
                "no TFLite resize option set reproduces {:?} with {:?} coordinates for {:?} -> {:?} exactly",
                r.mode, r.coord, input, r.size
            ));
        };
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let size = self.b.vec_i32(
            &format!("{}/size", node.name),
            vec![i32c(r.size[0]), i32c(r.size[1])],
        )?;
        ops::resize::emit(
            self.b,
            xt,
            size,
            ot,
            &ResizeParams {
                op,
                align_corners,
                half_pixel_centers,
            },
        );
        Ok(())
    }

    // ---- elementwise ----------------------------------------------------------------------

    fn unary(&mut self, node: &'g Node, u: UnaryOp) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let kind: Result<Activation, UnaryMath> = match u {
            UnaryOp::Relu => Ok(Activation::Relu),
            UnaryOp::Sigmoid => Ok(Activation::Logistic),
            UnaryOp::Tanh => Ok(Activation::Tanh),
            UnaryOp::Gelu => Ok(Activation::Gelu { approximate: false }),
            UnaryOp::GeluTanh => Ok(Activation::Gelu { approximate: true }),
            UnaryOp::HardSwish => Ok(Activation::HardSwish),
            UnaryOp::Sqrt => Err(UnaryMath::Sqrt),
            UnaryOp::Rsqrt => Err(UnaryMath::Rsqrt),
            UnaryOp::Exp => Err(UnaryMath::Exp),
            UnaryOp::Log => Err(UnaryMath::Log),
            UnaryOp::Neg => Err(UnaryMath::Neg),
            UnaryOp::Abs => Err(UnaryMath::Abs),
            UnaryOp::Floor => Err(UnaryMath::Floor),
            UnaryOp::Ceil => Err(UnaryMath::Ceil),
            UnaryOp::Reciprocal => {
                let one = self.b.scalar_f32(&format!("{}/one", node.name), 1.0)?;
                self.arith(Arith::Div, one, xt, ot, Act::None);
                return Ok(());
            }
            UnaryOp::Erf => return self.erf(&node.name, xt, ot, self.shape(x)),
        };
        match kind {
            Ok(a) => activation::emit(self.b, a, xt, ot),
            Err(m) => ops::unary_math::emit(self.b, m, DType::F32, xt, ot),
        }
        Ok(())
    }

    /// erf(x) = sign(x) * (1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2)),
    /// t = 1 / (1 + p |x|)  (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7).
    fn erf(&mut self, name: &str, x: i32, out: i32, shape: &[usize]) -> R {
        const P: f32 = 0.327_591_1;
        const A: [f32; 5] = [
            0.254_829_6,
            -0.284_496_74,
            1.421_413_7,
            -1.453_152_1,
            1.061_405_4,
        ];
        let shape = shape.to_vec();
        let mut k = 0;
        let mut tmp = |this: &mut Self, what: &str| -> R<i32> {
            k += 1;
            this.temp(&format!("{name}/erf_{what}"), DType::F32, &shape)
        };
        let abs = tmp(self, "abs")?;
        ops::unary_math::emit(self.b, UnaryMath::Abs, DType::F32, x, abs);
        let pa = tmp(self, "pa")?;
        self.arith_scalar(name, Arith::Mul, abs, P, pa)?;
        let den = tmp(self, "den")?;
        self.arith_scalar(name, Arith::Add, pa, 1.0, den)?;
        let t = tmp(self, "t")?;
        let one = self.b.scalar_f32(&format!("{name}/one"), 1.0)?;
        self.arith(Arith::Div, one, den, t, Act::None);
        // Horner: ((((a5 t + a4) t + a3) t + a2) t + a1) t
        let mut acc = tmp(self, "poly")?;
        self.arith_scalar(name, Arith::Mul, t, A[4], acc)?;
        for &a in A[..4].iter().rev() {
            let s = tmp(self, "poly")?;
            self.arith_scalar(name, Arith::Add, acc, a, s)?;
            let m = tmp(self, "poly")?;
            self.arith(Arith::Mul, s, t, m, Act::None);
            acc = m;
        }
        let sq = tmp(self, "sq")?;
        self.arith(Arith::Mul, x, x, sq, Act::None);
        let neg = tmp(self, "negsq")?;
        ops::unary_math::emit(self.b, UnaryMath::Neg, DType::F32, sq, neg);
        let e = tmp(self, "exp")?;
        ops::unary_math::emit(self.b, UnaryMath::Exp, DType::F32, neg, e);
        let pe = tmp(self, "tail")?;
        self.arith(Arith::Mul, acc, e, pe, Act::None);
        let y = tmp(self, "abs_erf")?;
        self.arith(Arith::Sub, one, pe, y, Act::None);
        let sign = tmp(self, "sign")?;
        ops::unary_math::emit(self.b, UnaryMath::Sign, DType::F32, x, sign);
        self.arith(Arith::Mul, y, sign, out, Act::None);
        Ok(())
    }

    fn binary(&mut self, node: &'g Node, op: BinaryOp) -> R {
        let (a, bv, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        let dtype = self.dtype(a);
        let arith = match op {
            BinaryOp::Add => Arith::Add,
            BinaryOp::Sub => Arith::Sub,
            BinaryOp::Mul => Arith::Mul,
            BinaryOp::Div => Arith::Div,
            BinaryOp::Pow => Arith::Pow,
            BinaryOp::Min => Arith::Minimum,
            BinaryOp::Max => Arith::Maximum,
        };
        let ok_dtype = matches!(
            (dtype, arith),
            (DType::F32, _)
                | (
                    DType::I32 | DType::I64,
                    Arith::Add | Arith::Sub | Arith::Mul | Arith::Minimum | Arith::Maximum
                )
                | (DType::I32, Arith::Div | Arith::Pow)
        );
        if !ok_dtype {
            return unsupported(format!("TFLite {:?} does not take {dtype} operands", arith));
        }
        if arith == Arith::Pow {
            return self.pow(node, a, bv, out);
        }
        let (act, out) = if dtype == DType::F32 && arith.fuses() {
            self.take_act(out)
        } else {
            (Act::None, out)
        };
        let (at, bt) = (self.t(a)?, self.t(bv)?);
        let ot = self.t(out)?;
        self.arith(arith, at, bt, ot, act);
        Ok(())
    }

    fn pow(&mut self, node: &'g Node, a: ValueId, e: ValueId, out: ValueId) -> R {
        let dtype = self.dtype(a);
        let at = self.t(a)?;
        let ot = self.t(out)?;
        let (a_shape, e_shape) = (self.shape(a).to_vec(), self.shape(e).to_vec());
        let ec = self.constant(e);
        if dtype == DType::F32
            && let Some(c) = ec.filter(|c| c.len() == 1 && broadcast_keeps(&a_shape, c.shape()))
        {
            match c.to_f32_vec().first().copied() {
                Some(2.0) => {
                    self.arith(Arith::Mul, at, at, ot, Act::None);
                    return Ok(());
                }
                Some(0.5) => {
                    ops::unary_math::emit(self.b, UnaryMath::Sqrt, dtype, at, ot);
                    return Ok(());
                }
                _ => {}
            }
        }
        let et = match ec {
            Some(c) if c.dtype() != dtype => self
                .b
                .constant(&format!("{}/exponent", node.name), &c.cast(dtype))?,
            None if self.dtype(e) != dtype => {
                let et = self.t(e)?;
                let casted = self.temp(&format!("{}/exponent", node.name), dtype, &e_shape)?;
                ops::cast::cast(self.b, et, casted, self.dtype(e), dtype);
                casted
            }
            _ => self.t(e)?,
        };
        self.arith(Arith::Pow, at, et, ot, Act::None);
        Ok(())
    }

    fn prelu(&mut self, node: &'g Node) -> R {
        let (x, slope, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        self.require_f32(x)?;
        if self.shape(x).len() > 4 {
            return unsupported(format!(
                "PRELU supports rank <= 4, got rank {}",
                self.shape(x).len()
            ));
        }
        let xt = self.t(x)?;
        let st = match self.constant(slope) {
            Some(c) if c.dtype() != DType::F32 => self
                .b
                .constant(&format!("{}/alpha", node.name), &c.cast(DType::F32))?,
            _ => self.t(slope)?,
        };
        let ot = self.t(out)?;
        activation::prelu(self.b, xt, st, ot);
        Ok(())
    }

    fn clip(&mut self, node: &'g Node, min: f32, max: f32) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let named = match (min, max) {
            (0.0, 6.0) => Some(Activation::Relu6),
            (-1.0, 1.0) => Some(Activation::ReluN1To1),
            (0.0, 1.0) => Some(Activation::Relu0To1),
            (0.0, f32::INFINITY) => Some(Activation::Relu),
            _ => None,
        };
        if let Some(a) = named {
            activation::emit(self.b, a, xt, ot);
            return Ok(());
        }
        let shape = self.shape(x).to_vec();
        let name = node.name.as_str();
        match (min > f32::NEG_INFINITY, max < f32::INFINITY) {
            (true, true) => {
                let lo = self.temp(&format!("{name}/lower"), DType::F32, &shape)?;
                self.arith_scalar(name, Arith::Maximum, xt, min, lo)?;
                self.arith_scalar(name, Arith::Minimum, lo, max, ot)?;
            }
            (true, false) => self.arith_scalar(name, Arith::Maximum, xt, min, ot)?,
            (false, true) => self.arith_scalar(name, Arith::Minimum, xt, max, ot)?,
            (false, false) => self.reshape(name, xt, ot, &shape)?,
        }
        Ok(())
    }

    fn hard_sigmoid(&mut self, node: &'g Node, alpha: f32, beta: f32) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let shape = self.shape(x).to_vec();
        let name = node.name.as_str();
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let scaled = self.temp(&format!("{name}/scaled"), DType::F32, &shape)?;
        self.arith_scalar(name, Arith::Mul, xt, alpha, scaled)?;
        let shifted = self.temp(&format!("{name}/shifted"), DType::F32, &shape)?;
        self.arith_scalar(name, Arith::Add, scaled, beta, shifted)?;
        activation::emit(self.b, Activation::Relu0To1, shifted, ot);
        Ok(())
    }

    // ---- matmul ---------------------------------------------------------------------------

    fn matmul(&mut self, node: &'g Node) -> R {
        let (a, bv, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        self.require_f32(a)?;
        self.require_f32(bv)?;
        let name = node.name.as_str();
        let (a_shape, b_shape) = (self.shape(a).to_vec(), self.shape(bv).to_vec());
        if let Some(w) = self.constant(bv).filter(|c| c.shape().len() == 2) {
            return self.fully_connected(name, a, &a_shape, w, out);
        }
        // BATCH_MATMUL on rank >= 2 operands; rank-1 operands are promoted as numpy does.
        let a2 = if a_shape.len() == 1 {
            vec![1, a_shape[0]]
        } else {
            a_shape.clone()
        };
        let b2 = if b_shape.len() == 1 {
            vec![b_shape[0], 1]
        } else {
            b_shape.clone()
        };
        let Some(o2) = edgeport_ir::ops::matmul_shape(&a2, &b2) else {
            return Err(Fail::Hard(TfliteError::Invalid(format!(
                "matmul '{name}' shapes do not agree"
            ))));
        };
        if o2.len() > 5 {
            return unsupported(format!(
                "BATCH_MATMUL supports rank <= 5, got rank {}",
                o2.len()
            ));
        }
        let mut at = self.t(a)?;
        if a2 != a_shape {
            let r = self.temp(&format!("{name}/lhs"), DType::F32, &a2)?;
            self.reshape(&format!("{name}/lhs"), at, r, &a2)?;
            at = r;
        }
        let mut bt = self.t(bv)?;
        if b2 != b_shape {
            let r = self.temp(&format!("{name}/rhs"), DType::F32, &b2)?;
            self.reshape(&format!("{name}/rhs"), bt, r, &b2)?;
            bt = r;
        }
        let ot = self.t(out)?;
        let out_shape = self.shape(out).to_vec();
        if o2 == out_shape {
            ops::batch_matmul::emit(self.b, at, bt, ot);
        } else {
            let r = self.temp(&format!("{name}/product"), DType::F32, &o2)?;
            ops::batch_matmul::emit(self.b, at, bt, r);
            self.reshape(&format!("{name}/product"), r, ot, &out_shape)?;
        }
        Ok(())
    }

    fn fully_connected(
        &mut self,
        name: &str,
        a: ValueId,
        a_shape: &[usize],
        w: &Tensor,
        out: ValueId,
    ) -> R {
        let n = w.shape()[1];
        let weights = weights::permute_f32(w, &[1, 0])?;
        let (wt, w_scales) = if self.int8 {
            let (t, scales) = self.int8_weight(&format!("{name}/weights"), &weights, 0)?;
            (t, Some(scales))
        } else if self.hybrid {
            (self.int8_weight(&format!("{name}/weights"), &weights, 0)?.0, None)
        } else {
            (self.b.constant(&format!("{name}/weights"), &weights)?, None)
        };
        // Fuse a following Add of a constant [N] bias.
        let mut out = out;
        let mut bias = None;
        if let Some((ci, c)) = self.sole_consumer(out)
            && let (Op::Binary(BinaryOp::Add), [i0, i1], Some(&add_out)) =
                (&c.op, c.inputs.as_slice(), c.outputs.first())
            && i0 != i1
        {
            let other = if *i0 == out { *i1 } else { *i0 };
            let bias_like = self.constant(other).filter(|t| is_fc_bias(t, n, self.shape(out).len()));
            if let Some(bc) = bias_like.filter(|_| c.int8 == self.int8) {
                self.pending.push(ci);
                bias = Some(match &w_scales {
                    Some(scales) => self.int32_bias(&format!("{name}/bias"), a, &bc.to_f32_vec(), scales)?,
                    None => self.b.const_f32(&format!("{name}/bias"), &[n], bc.to_f32_vec())?,
                });
                out = add_out;
            }
        }
        let (act, out) = self.take_act(out);
        let at = self.t(a)?;
        let ot = self.t(out)?;
        let hybrid = self.hybrid;
        match a_shape.len() {
            1 => {
                // FULLY_CONNECTED sees [K] as one row: produce [1, N], then drop the row axis.
                let r = self.temp(&format!("{name}/row"), DType::F32, &[1, n])?;
                ops::fully_connected::emit(self.b, at, wt, bias, r, false, act, hybrid);
                self.reshape(&format!("{name}/row"), r, ot, &[n])?;
            }
            2 => ops::fully_connected::emit(self.b, at, wt, bias, ot, false, act, hybrid),
            _ => ops::fully_connected::emit(self.b, at, wt, bias, ot, true, act, hybrid),
        }
        Ok(())
    }

    // ---- data movement --------------------------------------------------------------------

    fn concat(&mut self, node: &'g Node, axis: usize) -> R {
        let out = self.output(node)?;
        let dtype = self.dtype(out);
        // No activation fusion here: the schema has the field, but the CONCATENATION kernel
        // refuses any activation other than NONE at prepare time.
        let ins = node
            .inputs
            .iter()
            .map(|&i| self.t(i))
            .collect::<R<Vec<i32>>>()?;
        let ot = self.t(out)?;
        ops::concatenation::emit(self.b, &ins, ot, axis, dtype, Act::None);
        Ok(())
    }

    fn slice(&mut self, node: &'g Node, s: &Slice) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        let xs = self.shape(x).to_vec();
        let out_shape = self.shape(out);
        if out_shape.contains(&0) {
            return unsupported("empty slice (TFLite has no zero-sized tensors)");
        }
        let rank = xs.len();
        let mut begin = vec![0i32; rank];
        let mut end: Vec<i32> = xs.iter().map(|&d| i32c(d)).collect();
        let mut strides = vec![1i32; rank];
        let mut end_mask = 0i32;
        for i in 0..s.axes.len() {
            let a = s.axes[i];
            if a >= rank {
                return Err(Fail::Hard(TfliteError::Invalid(format!(
                    "slice '{}' axis {a} out of range",
                    node.name
                ))));
            }
            let dim = xs[a] as i64;
            let step = s.steps[i];
            let mut start = s.starts[i];
            if step < 0 {
                start = start.min(dim - 1);
            }
            begin[a] = i32::try_from(start).unwrap_or(i32::MAX);
            strides[a] = i32::try_from(step).unwrap_or(if step < 0 { i32::MIN } else { i32::MAX });
            if step < 0 && s.ends[i] < 0 {
                end_mask |= 1 << a;
                end[a] = 0;
            } else {
                end[a] = i32::try_from(s.ends[i]).unwrap_or(i32::MAX);
            }
        }
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let dtype = self.dtype(x);
        if strides.iter().all(|&st| st == 1) {
            let size = out_shape.iter().map(|&d| i32c(d)).collect();
            return Ok(ops::slice::slice(
                self.b, &node.name, xt, ot, begin, size, dtype,
            )?);
        }
        let ss = StridedSlice {
            begin,
            end,
            strides,
            begin_mask: 0,
            end_mask,
        };
        Ok(ops::slice::strided_slice(
            self.b, &node.name, xt, ot, ss, dtype,
        )?)
    }

    fn gather(&mut self, node: &'g Node, axis: usize) -> R {
        let (x, idx, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        let dim = self.shape(x).get(axis).copied().unwrap_or(0) as i64;
        let xt = self.t(x)?;
        let it = match self.constant(idx) {
            Some(c) => {
                // Constant indices: normalized (TFLite does not wrap negatives) and int32.
                let v = c
                    .to_i64_vec()
                    .into_iter()
                    .map(|i| {
                        let j = if i < 0 { i + dim } else { i };
                        if (0..dim).contains(&j) {
                            Ok(j as i32)
                        } else {
                            Err(i)
                        }
                    })
                    .collect::<Result<Vec<i32>, i64>>();
                match v {
                    Ok(v) => self
                        .b
                        .const_i32(&format!("{}/indices", node.name), c.shape(), v)?,
                    Err(i) => {
                        return Err(Fail::Hard(TfliteError::Invalid(format!(
                            "gather '{}': index {i} out of range for an axis of {dim}",
                            node.name
                        ))));
                    }
                }
            }
            None => self.t(idx)?,
        };
        let ot = self.t(out)?;
        ops::gather::emit(self.b, xt, it, ot, axis, self.dtype(x));
        Ok(())
    }

    fn reduce(&mut self, node: &'g Node, kind: ReduceKind, axes: &[usize], keep_dims: bool) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        let dtype = self.dtype(x);
        let ok = match kind {
            ReduceKind::Mean => dtype == DType::F32,
            ReduceKind::Sum | ReduceKind::Max | ReduceKind::Min => {
                matches!(dtype, DType::F32 | DType::I32 | DType::I64)
            }
            ReduceKind::Prod => matches!(dtype, DType::F32 | DType::I32),
        };
        if !ok {
            return unsupported(format!("TFLite {} does not take {dtype}", kind.name()));
        }
        let r = match kind {
            ReduceKind::Mean => Reducer::Mean,
            ReduceKind::Sum => Reducer::Sum,
            ReduceKind::Max => Reducer::Max,
            ReduceKind::Min => Reducer::Min,
            ReduceKind::Prod => Reducer::Prod,
        };
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        Ok(ops::reduce::emit(
            self.b, &node.name, r, xt, ot, axes, keep_dims,
        )?)
    }

    fn softmax(&mut self, node: &'g Node, axis: usize) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        self.require_f32(x)?;
        let shape = self.shape(x).to_vec();
        let rank = shape.len();
        let name = node.name.as_str();
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        if axis + 1 == rank {
            if rank <= 4 {
                ops::softmax::emit(self.b, xt, ot);
            } else {
                // Fold the leading axes: SOFTMAX on [rows, last].
                let last = shape[rank - 1];
                let flat = [shape.iter().product::<usize>() / last.max(1), last];
                let fx = self.temp(&format!("{name}/rows"), DType::F32, &flat)?;
                self.reshape(&format!("{name}/rows"), xt, fx, &flat)?;
                let fy = self.temp(&format!("{name}/rows_softmax"), DType::F32, &flat)?;
                ops::softmax::emit(self.b, fx, fy);
                self.reshape(&format!("{name}/rows_softmax"), fy, ot, &shape)?;
            }
            return Ok(());
        }
        if rank > 6 {
            return unsupported(format!(
                "softmax over a non-last axis needs TRANSPOSE, which supports rank <= 6, got {rank}"
            ));
        }
        // Swap the axis to the end, SOFTMAX, swap back (the swap is its own inverse).
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(axis, rank - 1);
        let tshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let tx = self.temp(&format!("{name}/to_last"), DType::F32, &tshape)?;
        ops::transpose::emit(
            self.b,
            &format!("{name}/to_last"),
            xt,
            tx,
            &perm,
            DType::F32,
        )?;
        let ty = self.temp(&format!("{name}/softmax"), DType::F32, &tshape)?;
        if rank <= 4 {
            ops::softmax::emit(self.b, tx, ty);
        } else {
            let last = tshape[rank - 1];
            let flat = [tshape.iter().product::<usize>() / last.max(1), last];
            let fx = self.temp(&format!("{name}/rows"), DType::F32, &flat)?;
            self.reshape(&format!("{name}/rows"), tx, fx, &flat)?;
            let fy = self.temp(&format!("{name}/rows_softmax"), DType::F32, &flat)?;
            ops::softmax::emit(self.b, fx, fy);
            self.reshape(&format!("{name}/rows_softmax"), fy, ty, &tshape)?;
        }
        ops::transpose::emit(
            self.b,
            &format!("{name}/from_last"),
            ty,
            ot,
            &perm,
            DType::F32,
        )?;
        Ok(())
    }

    /// y = (x - mean) * rsqrt(mean((x - mean)^2) + eps) * scale + bias, over axes axis..rank.
    /// Ranks above 4 are folded to [rows, features] first so every broadcast stays 2-D.
    fn layer_norm(&mut self, node: &'g Node, l: &LayerNorm) -> R {
        let (x, scale, out) = (
            self.input(node, 0)?,
            self.input(node, 1)?,
            self.output(node)?,
        );
        let bias = node.inputs.get(2).copied();
        self.require_f32(x)?;
        let shape = self.shape(x).to_vec();
        let rank = shape.len();
        let name = node.name.as_str();
        let norm_shape = shape[l.axis..].to_vec();
        let fold = rank > 4;
        let (work_shape, axes): (Vec<usize>, Vec<usize>) = if fold {
            let inner: usize = norm_shape.iter().product();
            (
                vec![shape.iter().product::<usize>() / inner.max(1), inner],
                vec![1],
            )
        } else {
            (shape.clone(), (l.axis..rank).collect())
        };
        let mut red_shape = work_shape.clone();
        for &a in &axes {
            red_shape[a] = 1;
        }
        // Affine parameters: constants are materialized over the normalized axes (and
        // flattened when folding); all-ones scale and all-zero bias are skipped.
        let param = |this: &mut Self, v: ValueId, what: &str, neutral: f32| -> R<Option<i32>> {
            match this.constant(v) {
                Some(c) if weights::all_equal(c, neutral) => Ok(None),
                Some(c) => {
                    let full = edgeport_ir::eval::broadcast_to(&c.cast(DType::F32), &norm_shape)
                        .map_err(ir_err)?;
                    let pshape = if fold {
                        vec![full.len()]
                    } else {
                        full.shape().to_vec()
                    };
                    let t =
                        this.b
                            .const_f32(&format!("{name}/{what}"), &pshape, full.to_f32_vec())?;
                    Ok(Some(t))
                }
                None if fold => {
                    unsupported("layer norm of rank > 4 with a non-constant scale or bias")
                }
                None => this.t(v).map(Some),
            }
        };
        let scale_p = param(self, scale, "scale", 1.0)?;
        let bias_p = match bias {
            Some(bv) => param(self, bv, "bias", 0.0)?,
            None => None,
        };
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let xin = if fold {
            let f = self.temp(&format!("{name}/rows"), DType::F32, &work_shape)?;
            self.reshape(&format!("{name}/rows"), xt, f, &work_shape)?;
            f
        } else {
            xt
        };
        let ws = work_shape.clone();
        let mean = self.temp(&format!("{name}/mean"), DType::F32, &red_shape)?;
        ops::reduce::emit(
            self.b,
            &format!("{name}/mean"),
            Reducer::Mean,
            xin,
            mean,
            &axes,
            true,
        )?;
        let d = self.temp(&format!("{name}/centered"), DType::F32, &ws)?;
        self.arith(Arith::Sub, xin, mean, d, Act::None);
        let sq = self.temp(&format!("{name}/squared"), DType::F32, &ws)?;
        self.arith(Arith::Mul, d, d, sq, Act::None);
        let var = self.temp(&format!("{name}/variance"), DType::F32, &red_shape)?;
        ops::reduce::emit(
            self.b,
            &format!("{name}/variance"),
            Reducer::Mean,
            sq,
            var,
            &axes,
            true,
        )?;
        let ve = self.temp(&format!("{name}/variance_eps"), DType::F32, &red_shape)?;
        self.arith_scalar(name, Arith::Add, var, l.epsilon, ve)?;
        let rstd = self.temp(&format!("{name}/rstd"), DType::F32, &red_shape)?;
        ops::unary_math::emit(self.b, UnaryMath::Rsqrt, DType::F32, ve, rstd);

        // The chain of remaining steps; the last one writes the final tensor.
        let final_t = if fold {
            self.temp(&format!("{name}/rows_out"), DType::F32, &ws)?
        } else {
            ot
        };
        let steps = 1 + usize::from(scale_p.is_some()) + usize::from(bias_p.is_some());
        let mut k = 0;
        let mut next = |this: &mut Self, what: &str| -> R<i32> {
            k += 1;
            if k == steps {
                Ok(final_t)
            } else {
                this.temp(&format!("{name}/{what}"), DType::F32, &ws)
            }
        };
        let normed = next(self, "normalized")?;
        self.arith(Arith::Mul, d, rstd, normed, Act::None);
        let mut cur = normed;
        if let Some(st) = scale_p {
            let y = next(self, "scaled")?;
            self.arith(Arith::Mul, cur, st, y, Act::None);
            cur = y;
        }
        if let Some(bt) = bias_p {
            let y = next(self, "shifted")?;
            self.arith(Arith::Add, cur, bt, y, Act::None);
            cur = y;
        }
        if fold {
            self.reshape(&format!("{name}/rows_out"), cur, ot, &shape)?;
        }
        Ok(())
    }

    fn pad(&mut self, node: &'g Node, pads: &[[usize; 2]], mode: PadMode) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        let dtype = self.dtype(x);
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        let name = node.name.as_str();
        match mode {
            PadMode::Constant(v) => Ok(ops::pad::emit(
                self.b,
                name,
                xt,
                ot,
                pads,
                PadKind::Constant(v),
                dtype,
            )?),
            PadMode::Reflect => Ok(ops::pad::emit(
                self.b,
                name,
                xt,
                ot,
                pads,
                PadKind::Reflect,
                dtype,
            )?),
            PadMode::Edge => {
                // No builtin repeats the edge: one GATHER per padded axis with clamped indices.
                let mut shape = self.shape(x).to_vec();
                let padded: Vec<usize> = (0..pads.len()).filter(|&a| pads[a] != [0, 0]).collect();
                if padded.is_empty() {
                    return self.reshape(name, xt, ot, &shape);
                }
                let mut cur = xt;
                for (k, &a) in padded.iter().enumerate() {
                    let [before, after] = pads[a];
                    let dim = shape[a];
                    let idx: Vec<i32> = (0..dim + before + after)
                        .map(|i| i32c(i.saturating_sub(before).min(dim.saturating_sub(1))))
                        .collect();
                    let it = self
                        .b
                        .const_i32(&format!("{name}/edge_{a}"), &[idx.len()], idx)?;
                    shape[a] = dim + before + after;
                    let o = if k + 1 == padded.len() {
                        ot
                    } else {
                        self.temp(&format!("{name}/edge_{a}"), dtype, &shape)?
                    };
                    ops::gather::emit(self.b, cur, it, o, a, dtype);
                    cur = o;
                }
                Ok(())
            }
        }
    }

    fn cast(&mut self, node: &'g Node, to: DType) -> R {
        let (x, out) = (self.input(node, 0)?, self.output(node)?);
        let from = self.dtype(x);
        let xt = self.t(x)?;
        let ot = self.t(out)?;
        if from == DType::F16 && to == DType::F32 && self.constant(x).is_some() {
            ops::cast::dequantize_f16(self.b, xt, ot);
        } else {
            ops::cast::cast(self.b, xt, ot, from, to);
        }
        Ok(())
    }
}

/// True when broadcasting `c` against `a` leaves `a`'s shape unchanged.
fn broadcast_keeps(a: &[usize], c: &[usize]) -> bool {
    edgeport_ir::ops::broadcast_shapes(a, c).as_deref() == Some(a)
}

/// Per output cell of an average pool over zero-padded input: window size / cells inside the
/// unpadded input (the factor turning a count-include-pad average into an exclude-pad one).
fn avg_pool_rescale(h: usize, w: usize, oh: usize, ow: usize, p: &Pool) -> Vec<f32> {
    let [pt, pl, _, _] = p.pads;
    let count = |o: usize, stride: usize, k: usize, pad: usize, size: usize| -> usize {
        let start = o * stride;
        (start..start + k)
            .filter(|&i| i >= pad && i - pad < size)
            .count()
    };
    let window = (p.kernel[0] * p.kernel[1]) as f32;
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let ch = count(y, p.strides[0], p.kernel[0], pt, h);
        for x in 0..ow {
            let cw = count(x, p.strides[1], p.kernel[1], pl, w);
            let valid = (ch * cw).max(1) as f32;
            out.push(window / valid);
        }
    }
    out
}

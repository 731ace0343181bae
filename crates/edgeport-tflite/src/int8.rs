//! Full-integer quantization plan: which nodes run on TFLite's int8 kernels, and the int8
//! parameters of every tensor they touch.
//!
//! [`plan`] runs on the optimized graph before the layout pass, with activation ranges from
//! calibration. It marks nodes `int8`, sets `QuantParams` on the values the artifact stores as
//! int8, and puts constants on the grids the artifact stores them on (per-channel int8
//! weights, int32 biases at `input scale x weight scale`, per-tensor int8 operands), so that
//! the CPU runtime's simulation and the exported model compute the same numbers. What TFLite
//! fuses is planned as fused: a pre-activation value absorbed into a convolution, a fully
//! connected layer's bias add, has no int8 tensor of its own.
//!
//! The rules follow TFLite's int8 kernels: LOGISTIC and SOFTMAX write scale 1/256 with zero
//! point -128, TANH 1/128 with 0; RESHAPE, TRANSPOSE, pooling, CONCATENATION, SPLIT, SLICE,
//! GATHER, PAD and RESIZE keep their input's parameters (one set per group of tied values).
//! Nodes without an int8 kernel stay float, with DEQUANTIZE / QUANTIZE at their edges.

use std::collections::{BTreeMap, BTreeSet};

use edgeport_ir::ops::{BinaryOp, PadMode, PoolKind, ReduceKind, UnaryOp};
use edgeport_ir::{DType, Graph, Layout, Node, Op, QuantParams, Tensor, ValueId};

use crate::legalize::{fused_activation, is_fc_bias, same_pads};

/// Caller choices for [`plan`].
#[derive(Debug, Clone, Default)]
pub struct Int8Options {
    /// Node names kept in float, with the reason given in the plan (`--keep-float`).
    pub keep_float: BTreeMap<String, String>,
}

/// A node the plan left in float, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatNode {
    pub name: String,
    pub op: String,
    pub reason: String,
}

/// What [`plan`] decided.
#[derive(Debug, Clone, Default)]
pub struct Int8Plan {
    pub int8_nodes: usize,
    pub float_nodes: Vec<FloatNode>,
    /// Values stored as int8.
    pub int8_values: usize,
}

/// How an int8 node's output parameters are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: int8 weights per channel, int32 bias.
    Weighted,
    /// ADD / SUB / MUL: constant operands as per-tensor int8.
    Arith,
    /// The output's own calibrated range (RELU, HARD_SWISH, GELU, MEAN, ...).
    Requant,
    /// A fixed output grid (LOGISTIC, TANH, SOFTMAX).
    Fixed(QuantParams),
    /// The output shares its data input's parameters (CONCATENATION: all inputs').
    Same,
}

const SIGMOID_OUT: QuantParams = QuantParams { scale: 1.0 / 256.0, zero_point: -128 };
const TANH_OUT: QuantParams = QuantParams { scale: 1.0 / 128.0, zero_point: 0 };

fn float<T>(reason: &str) -> Result<T, String> {
    Err(reason.to_string())
}

/// Whether TFLite has an int8 kernel for `node` as the exporter lowers it.
fn classify(g: &Graph, node: &Node) -> Result<Kind, String> {
    let shape = |i: usize| node.inputs.get(i).map(|&v| g.ty(v).shape.as_slice()).unwrap_or(&[]);
    match &node.op {
        Op::Conv(c) => {
            let (xs, ws) = (shape(0), shape(1));
            if xs.len() != 4 || ws.len() != 4 || node.inputs.get(1).is_none_or(|&w| !g.is_const(w)) {
                return float("int8 convolution needs constant rank-4 weights");
            }
            if node.inputs.get(2).is_some_and(|&b| !g.is_const(b)) {
                return float("int8 convolution needs a constant bias");
            }
            let cin = if c.layout == Layout::Nchw { xs[1] } else { xs[3] };
            if c.group <= 1 || (c.group == cin && ws[1] == 1) {
                Ok(Kind::Weighted)
            } else {
                float("grouped convolution (split into groups) stays float")
            }
        }
        Op::MatMul => {
            let rhs_const = node.inputs.get(1).is_some_and(|&w| g.constant(w).is_some_and(|t| t.shape().len() == 2));
            if rhs_const && shape(0).len() >= 2 {
                Ok(Kind::Weighted)
            } else {
                float("BATCH_MATMUL of two activations stays float")
            }
        }
        Op::Binary(BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) => Ok(Kind::Arith),
        Op::Binary(_) => float("no int8 kernel for this binary op"),
        Op::Unary(UnaryOp::Relu | UnaryOp::HardSwish | UnaryOp::Gelu | UnaryOp::GeluTanh) => Ok(Kind::Requant),
        Op::Unary(UnaryOp::Sigmoid) => Ok(Kind::Fixed(SIGMOID_OUT)),
        Op::Unary(UnaryOp::Tanh) => Ok(Kind::Fixed(TANH_OUT)),
        Op::Unary(_) => float("no int8 kernel for this op"),
        // the clips TFLite fuses, or lowers alone to RELU / RELU6 / RELU_N1_TO_1
        op @ Op::Clip { .. } if fused_activation(op).is_some() => Ok(Kind::Requant),
        Op::Clip { .. } => float("a general Clip lowers to MAXIMUM/MINIMUM with float bounds"),
        Op::LeakyRelu { .. } => Ok(Kind::Requant),
        Op::Pool(p) => {
            let xs = shape(0);
            if xs.len() != 4 {
                return float("pooling needs a rank-4 input");
            }
            let (h, w) = if p.layout == Layout::Nchw { (xs[2], xs[3]) } else { (xs[1], xs[2]) };
            let same = {
                let (t, b) = same_pads(h, p.kernel[0], p.strides[0], 1);
                let (l, r) = same_pads(w, p.kernel[1], p.strides[1], 1);
                p.pads == [t, l, b, r]
            };
            match p.kind {
                // explicit pads: PADV2 with the grid's lowest step, then VALID pooling
                PoolKind::Max => Ok(Kind::Same),
                // explicit pads counted in the divisor: PAD with the zero point
                PoolKind::Avg if p.pads == [0; 4] || (same && !p.count_include_pad) || p.count_include_pad => Ok(Kind::Same),
                _ => float("average pooling that leaves padding out of partial windows stays float"),
            }
        }
        Op::Reduce(r) if r.kind == ReduceKind::Mean => Ok(Kind::Requant),
        Op::Reduce(_) => float("no int8 kernel for this reduction"),
        Op::Reshape { .. } | Op::Transpose { .. } | Op::Concat { .. } | Op::Split { .. } | Op::Slice(_) | Op::Resize(_) => {
            Ok(Kind::Same)
        }
        Op::Gather { .. } => Ok(Kind::Same),
        Op::Pad(p) if p.mode == PadMode::Constant(0.0) => Ok(Kind::Same),
        Op::Pad(_) => float("only zero padding has an int8 form (the zero point)"),
        Op::Softmax { axis } => {
            let rank = node.outputs.first().map_or(0, |&o| g.ty(o).rank());
            if *axis + 1 == rank && rank != 4 {
                Ok(Kind::Fixed(SIGMOID_OUT))
            } else {
                float("softmax over an inner axis stays float")
            }
        }
        Op::ConvTranspose(_) => float("transposed convolution stays float"),
        Op::PRelu | Op::HardSigmoid { .. } | Op::LayerNorm(_) | Op::Cast { .. } => float("no int8 kernel for this op"),
    }
}

fn is_f32_activation(g: &Graph, v: ValueId) -> bool {
    !g.is_const(v) && g.ty(v).dtype == DType::F32
}

/// The constant [N] bias of a FULLY_CONNECTED: an Add of a matmul's only consumer.
fn fc_bias(g: &Graph, consumers: &[Vec<usize>], outputs: &BTreeSet<ValueId>, matmul: &Node) -> Option<(usize, ValueId)> {
    let out = *matmul.outputs.first()?;
    let n = *g.ty(out).shape.last()?;
    if outputs.contains(&out) {
        return None;
    }
    let [c] = consumers.get(out.0 as usize)?.as_slice() else { return None };
    let add = g.nodes.get(*c)?;
    let (Op::Binary(BinaryOp::Add), [a, b]) = (&add.op, add.inputs.as_slice()) else { return None };
    if a == b {
        return None;
    }
    let other = if *a == out { *b } else { *a };
    is_fc_bias(g.constant(other)?, n, g.ty(out).rank()).then_some((*c, other))
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut y = x;
        while self.0[y] != r {
            let next = self.0[y];
            self.0[y] = r;
            y = next;
        }
        r
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Plans full-integer quantization of `g` from calibrated `ranges` (value -> (min, max)).
pub fn plan(g: &mut Graph, ranges: &BTreeMap<ValueId, (f32, f32)>, opts: &Int8Options) -> Int8Plan {
    let consumers = g.consumers();
    let producers = g.producers();
    let graph_outputs: BTreeSet<ValueId> = g.outputs.iter().copied().collect();
    let nvalues = g.values().len();

    // Reshapes are not observed by the runtime (they alias their input): same range.
    let mut ranges = ranges.clone();
    for node in &g.nodes {
        if let (Op::Reshape { .. }, [x], [y]) = (&node.op, node.inputs.as_slice(), node.outputs.as_slice())
            && let Some(&r) = ranges.get(x)
        {
            ranges.entry(*y).or_insert(r);
        }
    }

    // 1. Which nodes run in int8.
    let mut kinds: Vec<Option<Kind>> = vec![None; g.nodes.len()];
    let mut result = Int8Plan::default();
    for (i, node) in g.nodes.iter().enumerate() {
        let decision = (|| {
            if let Some(reason) = opts.keep_float.get(&node.name) {
                return Err(reason.clone());
            }
            let kind = classify(g, node)?;
            let acts = node.inputs.iter().chain(&node.outputs).filter(|&&v| is_f32_activation(g, v));
            if node.outputs.iter().any(|&o| g.ty(o).dtype != DType::F32) {
                return float("non-float output");
            }
            if acts.clone().any(|v| !ranges.contains_key(v)) {
                return float("a value was not seen during calibration");
            }
            // Data movement stays in the precision of what it moves.
            if kind == Kind::Same {
                let x = node.inputs.first().copied();
                let from_float = x.and_then(|x| producers[x.0 as usize]).is_some_and(|p| kinds[p].is_none());
                if from_float {
                    return float("moves a float value");
                }
            }
            Ok(kind)
        })();
        match decision {
            Ok(k) => kinds[i] = Some(k),
            Err(reason) => result.float_nodes.push(FloatNode { name: node.name.clone(), op: node.op.name().to_string(), reason }),
        }
    }

    // 2. What TFLite fuses: activations and FC biases, when both nodes are int8.
    let mut fused = vec![false; nvalues];
    let mut fc_biases: Vec<(usize, ValueId)> = Vec::new();
    let mut fused_adds: BTreeSet<usize> = BTreeSet::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let (Some(kind), Some(&out)) = (kinds[i], node.outputs.first()) else { continue };
        let mut tail = out;
        if kind == Kind::Weighted && matches!(node.op, Op::MatMul) {
            if let Some((add, bias)) = fc_bias(g, &consumers, &graph_outputs, node) {
                if kinds[add].is_some() {
                    fused[out.0 as usize] = true;
                    fc_biases.push((i, bias));
                    fused_adds.insert(add);
                    tail = g.nodes[add].outputs[0];
                }
            }
        }
        let fuses = matches!(kind, Kind::Weighted) || matches!(node.op, Op::Binary(BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul));
        if fuses
            && !graph_outputs.contains(&tail)
            && let [c] = consumers[tail.0 as usize].as_slice()
            && kinds[*c].is_some()
            && fused_activation(&g.nodes[*c].op).is_some()
        {
            fused[tail.0 as usize] = true;
        }
    }

    // 3. The int8 values, tied into groups that share parameters.
    let mut uf = UnionFind((0..nvalues).collect());
    let mut int8_value = vec![false; nvalues];
    let mut fixed: BTreeMap<usize, QuantParams> = BTreeMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let Some(kind) = kinds[i] else { continue };
        for &v in node.inputs.iter().chain(&node.outputs) {
            if is_f32_activation(g, v) && !fused[v.0 as usize] {
                int8_value[v.0 as usize] = true;
            }
        }
        match kind {
            Kind::Same => {
                let data: Vec<ValueId> = match node.op {
                    Op::Concat { .. } => node.inputs.clone(),
                    _ => node.inputs.first().copied().into_iter().collect(),
                };
                for &v in data.iter().chain(&node.outputs) {
                    if g.ty(v).dtype == DType::F32 {
                        uf.union(data[0].0 as usize, v.0 as usize);
                    }
                }
            }
            Kind::Fixed(q) => {
                for &o in &node.outputs {
                    fixed.insert(o.0 as usize, q);
                }
            }
            _ => {}
        }
    }
    let mut group_range: BTreeMap<usize, (f32, f32)> = BTreeMap::new();
    let mut group_fixed: BTreeMap<usize, QuantParams> = BTreeMap::new();
    for v in 0..nvalues {
        let id = ValueId(v as u32);
        let root = uf.find(v);
        let r = ranges.get(&id).copied().or_else(|| {
            let t = g.constant(id).filter(|t| t.dtype() == DType::F32)?;
            let vals = t.to_f32_vec();
            Some(vals.iter().fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x))))
        });
        if let Some((lo, hi)) = r.filter(|_| int8_value[v] || g.is_const(id)) {
            let e = group_range.entry(root).or_insert((lo, hi));
            *e = (e.0.min(lo), e.1.max(hi));
        }
        if let Some(&q) = fixed.get(&v) {
            group_fixed.entry(root).or_insert(q);
        }
    }
    let params_of = |uf: &mut UnionFind, v: usize| -> Option<QuantParams> {
        let root = uf.find(v);
        group_fixed.get(&root).copied().or_else(|| group_range.get(&root).map(|&(lo, hi)| QuantParams::covering(lo, hi)))
    };
    for v in 0..nvalues {
        if int8_value[v] {
            let q = params_of(&mut uf, v);
            g.set_quant(ValueId(v as u32), q);
            result.int8_values += usize::from(q.is_some());
        }
    }

    // 4. Constants on the grids the artifact stores.
    for i in 0..g.nodes.len() {
        let Some(kind) = kinds[i] else { continue };
        let node = g.nodes[i].clone();
        match kind {
            Kind::Weighted => {
                let axis = if matches!(node.op, Op::MatMul) { 1 } else { 0 };
                let Some(&w) = node.inputs.get(1) else { continue };
                let Some(scales) = quantize_weight(g, w, axis) else { continue };
                let s_in = node.inputs.first().and_then(|&x| g.value(x).quant).map_or(1.0, |q| q.scale);
                let bias = match node.op {
                    Op::MatMul => fc_biases.iter().find(|(n, _)| *n == i).map(|&(_, b)| b),
                    _ => node.inputs.get(2).copied(),
                };
                if let Some(b) = bias {
                    round_bias(g, b, s_in, &scales);
                }
            }
            // A bias add fused into FULLY_CONNECTED: its constant is the int32 bias.
            Kind::Arith if fused_adds.contains(&i) => {}
            Kind::Arith | Kind::Same => {
                for &v in &node.inputs {
                    let Some(t) = g.constant(v).filter(|t| t.dtype() == DType::F32) else { continue };
                    let q = if kind == Kind::Same {
                        params_of(&mut uf, v.0 as usize)
                    } else {
                        let vals = t.to_f32_vec();
                        let (lo, hi) = vals.iter().fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                        Some(QuantParams::covering(lo, hi))
                    };
                    let Some(q) = q else { continue };
                    let on_grid: Vec<f32> = t.to_f32_vec().into_iter().map(|x| q.fake(x)).collect();
                    if let Ok(t) = Tensor::from_f32(t.shape().to_vec(), on_grid) {
                        g.set_const(v, t);
                        g.set_quant(v, Some(q));
                    }
                }
            }
            _ => {}
        }
    }
    for (i, node) in g.nodes.iter_mut().enumerate() {
        node.int8 = kinds[i].is_some();
        result.int8_nodes += usize::from(node.int8);
    }
    result
}

/// Puts weight `w` on a per-channel symmetric int8 grid along `axis`; returns the scales.
fn quantize_weight(g: &mut Graph, w: ValueId, axis: usize) -> Option<Vec<f32>> {
    let t = g.constant(w)?;
    if !t.dtype().is_float() {
        return None;
    }
    let shape = t.shape().to_vec();
    let q = edgeport_quant::int8::quantize(&t.to_f32_vec(), &shape, axis);
    let decoded = edgeport_quant::int8::dequantize(&q, &shape);
    g.set_const(w, Tensor::from_f32(shape, decoded).ok()?);
    Some(q.scales)
}

/// The int32 bias grid of channel `c`: input scale x weight scale.
pub(crate) fn bias_scale(s_in: f32, s_w: f32) -> f32 {
    s_in * s_w
}

/// Rounds bias `b` (one value per output channel) to its int32 grid.
fn round_bias(g: &mut Graph, b: ValueId, s_in: f32, scales: &[f32]) {
    let Some(t) = g.constant(b).filter(|t| t.dtype() == DType::F32) else { return };
    let vals: Vec<f32> = t
        .to_f32_vec()
        .iter()
        .enumerate()
        .map(|(c, &x)| {
            let s = bias_scale(s_in, scales.get(c).copied().unwrap_or(1.0));
            (x / s).round().clamp(i32::MIN as f32, i32::MAX as f32) * s
        })
        .collect();
    if let Ok(t) = Tensor::from_f32(t.shape().to_vec(), vals) {
        g.set_const(b, t);
    }
}

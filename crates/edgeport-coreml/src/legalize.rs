//! IR op -> MIL lowering rules, and the model interface.
//!
//! `lower` walks the nodes in order; each IR op has exactly one arm in `Lower::node`, which
//! either emits MIL ops or says why it cannot. Unsupported nodes are all collected before
//! failing (their consumers are skipped, not reported again).
//!
//! Types: float32 IR values compute in the chosen precision (fp16 by default), float16 stays
//! fp16, int64 and int32 become int32 (MIL has no int64 tensors; constants must fit), bool
//! stays bool. In fp16 precision each float32 model input is followed by a `cast` to fp16 and
//! each float32 output is preceded by a `cast` to fp32, as coremltools does. Nodes the
//! mixed-precision rule keeps in float32 (`precision.rs`) read and write float32 values; where
//! fp16 and fp32 nodes meet, one `cast` per value and type is emitted, before its first use.
//!
//! Names: model inputs and outputs keep their ONNX names made into MIL identifiers, as the
//! Core ML compiler requires (`[A-Za-z_][A-Za-z0-9_]*`: other characters become `_`, a leading
//! digit gets a `_` prefix, a leading `_` then gets `var` before it, reserved words get
//! `_workaround`, duplicates a `_<n>` suffix); each renamed feature's description names its
//! source (`output 'sigmoid_0.tmp_0' of the source model`).

use std::collections::BTreeMap;

use edgeport_ir::ops::{
    BinaryOp, Conv, ConvTranspose, CoordMode, LayerNorm, NearestMode, PadMode, Pool, PoolKind,
    ReduceKind, Resize, ResizeMode, Slice, UnaryOp,
};
use edgeport_ir::{DType, Graph, Layout, Node, Op, Tensor, TensorData, ValueId};

use crate::mil::{ConstData, Fail, Mil, R, Var, invalid, unsupported};
use crate::ops::activation::GeluMode;
use crate::ops::binary::Binary;
use crate::ops::pad::PadMode as MilPad;
use crate::ops::pool::PoolKind as MilPool;
use crate::ops::reduce::Reduce;
use crate::ops::resize::SamplingMode;
use crate::ops::slice_by_index::SliceParams;
use crate::ops::unary::Unary;
use crate::ops::{self, i32c};
use crate::proto::{self, DataType};
use crate::{CoremlError, ExportOptions, Precision, Target};

/// IR op -> MIL ops it lowers to (for reports and the supported-ops table).
pub(crate) const SUPPORTED: &[(&str, &str)] = &[
    ("Conv", "conv"),
    (
        "ConvTranspose",
        "conv_transpose (+ pad, add when output_padding reaches past the end padding)",
    ),
    ("MaxPool", "max_pool"),
    ("AvgPool", "avg_pool"),
    (
        "Resize",
        "upsample_nearest_neighbor | gather (nearest) | resize_bilinear (linear)",
    ),
    ("Relu", "relu"),
    ("Sigmoid", "sigmoid"),
    ("Tanh", "tanh"),
    ("Erf", "erf"),
    ("Gelu", "gelu(EXACT)"),
    ("GeluTanh", "gelu(TANH_APPROXIMATION)"),
    ("HardSwish", "sigmoid_hard + mul"),
    ("Sqrt", "sqrt"),
    ("Rsqrt", "rsqrt"),
    ("Reciprocal", "real_div(1, x)"),
    ("Exp", "exp"),
    ("Log", "log"),
    ("Neg", "mul(x, -1)"),
    ("Abs", "abs"),
    ("Floor", "floor"),
    ("Ceil", "ceil"),
    ("Add", "add"),
    ("Sub", "sub"),
    ("Mul", "mul"),
    ("Div", "real_div (float only)"),
    ("Pow", "pow | mul(x, x) | sqrt"),
    ("Min", "minimum"),
    ("Max", "maximum"),
    ("PRelu", "prelu | leaky_relu | relu, minimum, mul, add"),
    ("Clip", "clip | relu | maximum | minimum"),
    ("LeakyRelu", "leaky_relu"),
    ("HardSigmoid", "sigmoid_hard"),
    (
        "MatMul",
        "linear (constant rank-2 rhs, fused bias add) | matmul",
    ),
    ("Reshape", "reshape | squeeze | expand_dims"),
    ("Transpose", "transpose"),
    ("Concat", "concat"),
    ("Split", "split"),
    ("Slice", "slice_by_index"),
    (
        "Gather",
        "gather (+ greater_equal, add, select wrapping runtime negative indices from iOS17)",
    ),
    ("ReduceMean", "reduce_mean"),
    ("ReduceSum", "reduce_sum"),
    ("ReduceMax", "reduce_max"),
    ("ReduceMin", "reduce_min"),
    ("ReduceProd", "reduce_prod"),
    ("Softmax", "softmax"),
    (
        "LayerNorm",
        "layer_norm (+ mul, add for runtime scale or bias)",
    ),
    ("Pad", "pad (constant, reflect, replicate)"),
    ("Cast", "cast | identity"),
];

/// A model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Feature {
    /// Name in the model description and the MIL function.
    pub name: String,
    /// The IR (ONNX) name it came from.
    pub source: String,
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

/// The lowered program.
pub(crate) struct Lowered {
    pub inputs: Vec<Feature>,
    pub outputs: Vec<Feature>,
    pub operations: Vec<proto::Operation>,
    pub weights: Vec<u8>,
}

/// Lower `g` into one MIL block.
pub(crate) fn lower(g: &Graph, opts: &ExportOptions) -> Result<Lowered, CoremlError> {
    check_preconditions(g)?;
    let base = match opts.precision {
        Precision::Fp16 => DataType::Float16,
        Precision::Fp32 => DataType::Float32,
    };
    let fp32 = match opts.precision {
        Precision::Fp16 => crate::precision::fp32_nodes(g, &opts.fp32_ops)?,
        Precision::Fp32 => vec![true; g.nodes.len()],
    };
    let n = g.values().len();
    let mut is_output = vec![false; n];
    for &o in &g.outputs {
        is_output[o.0 as usize] = true;
    }
    if opts.int8_weights && opts.target < crate::Target::Ios16 {
        return Err(CoremlError::BadOption(format!(
            "int8 weights need iOS16 or later (constexpr_affine_dequantize); the target is {}",
            opts.target
        )));
    }
    if opts.palette_group.is_some() && opts.target < crate::Target::Ios18 {
        return Err(CoremlError::BadOption(format!(
            "grouped palettes need iOS18 (constexpr_lut_to_dense with a table per group of channels); the target is {}",
            opts.target
        )));
    }
    if opts.palette_bits.is_some() && opts.target < crate::Target::Ios16 {
        return Err(CoremlError::BadOption(format!(
            "palettized weights need iOS16 or later (constexpr_lut_to_dense); the target is {}",
            opts.target
        )));
    }
    if opts.sparse_weights && opts.target < crate::Target::Ios16 {
        return Err(CoremlError::BadOption(format!(
            "sparse (pruned) weights need iOS16 or later (constexpr_sparse_to_dense); the target is {}",
            opts.target
        )));
    }
    if opts.int8_activations && opts.target < crate::Target::Ios17 {
        return Err(CoremlError::BadOption(format!(
            "int8 activations need iOS17 or later (quantize/dequantize); the target is {}",
            opts.target
        )));
    }
    let mut cx = Lower {
        g,
        mil: Mil::new(opts.target),
        int8_weights: opts.int8_weights,
        palette_bits: opts.palette_bits,
        palette_group: opts.palette_group,
        sparse_weights: opts.sparse_weights,
        int8_activations: opts.int8_activations,
        compute: base,
        base,
        fp32,
        vars: vec![None; n],
        converted: BTreeMap::new(),
        poisoned: vec![false; n],
        names: vec![None; n],
        consumers: g.consumers(),
        is_output,
        absorbed: vec![false; g.nodes.len()],
        pending: Vec::new(),
    };
    let mut failed: Vec<(String, String, String)> = Vec::new();
    let inputs = cx.inputs(&mut failed)?;
    let outputs = cx.plan_outputs(&mut failed);
    for idx in 0..g.nodes.len() {
        if cx.absorbed[idx] {
            continue;
        }
        let node = &g.nodes[idx];
        cx.compute = cx.node_compute(idx);
        if node.inputs.iter().any(|i| cx.poisoned[i.0 as usize]) {
            cx.poison(node);
            continue;
        }
        cx.pending.clear();
        match cx.node(node) {
            Ok(()) => {
                for a in std::mem::take(&mut cx.pending) {
                    cx.absorbed[a] = true;
                }
            }
            Err(Fail::Unsupported(reason)) => {
                failed.push((node.name.clone(), node.op.name().to_string(), reason));
                cx.poison(node);
            }
            Err(Fail::Hard(e)) => return Err(e),
        }
    }
    if !failed.is_empty() {
        return Err(CoremlError::Unsupported { nodes: failed });
    }
    cx.finish_outputs(&outputs).map_err(|f| match f {
        Fail::Hard(e) => e,
        Fail::Unsupported(r) => CoremlError::Unsupported {
            nodes: vec![(String::new(), "output".into(), r)],
        },
    })?;
    let (operations, weights) = cx.mil.finish();
    let outputs = outputs.into_iter().map(|(_, f)| f).collect();
    Ok(Lowered {
        inputs,
        outputs,
        operations,
        weights,
    })
}

/// Core ML is channels-first: every layout-carrying op must be NCHW (no layout pass), and
/// every value id must exist.
fn check_preconditions(g: &Graph) -> Result<(), CoremlError> {
    let n = g.values().len();
    for node in &g.nodes {
        let layout = match &node.op {
            Op::Conv(c) => Some(c.layout),
            Op::ConvTranspose(c) => Some(c.layout),
            Op::Pool(p) => Some(p.layout),
            Op::Resize(r) => Some(r.layout),
            _ => None,
        };
        if layout == Some(Layout::Nhwc) {
            return Err(CoremlError::Invalid(format!(
                "node '{}' ({}) is NHWC; Core ML export takes the NCHW graph (do not run the layout pass)",
                node.name,
                node.op.name()
            )));
        }
        if node
            .inputs
            .iter()
            .chain(&node.outputs)
            .any(|v| v.0 as usize >= n)
            || node.outputs.is_empty()
        {
            return Err(CoremlError::Invalid(format!(
                "node '{}' refers to a value that does not exist",
                node.name
            )));
        }
    }
    if g.inputs.iter().chain(&g.outputs).any(|v| v.0 as usize >= n) {
        return Err(CoremlError::Invalid(
            "a graph input or output refers to a value that does not exist".into(),
        ));
    }
    Ok(())
}

/// The Core ML multi-array type of a model input or output of IR type `d`.
fn io_dtype(d: DType, target: Target) -> Result<DataType, String> {
    match d {
        DType::F32 => Ok(DataType::Float32),
        DType::F16 if target >= Target::Ios16 => Ok(DataType::Float16),
        DType::F16 => Err(format!(
            "float16 model inputs and outputs need iOS16 or later (target is {target}); choose target ios16 or later"
        )),
        DType::I32 | DType::I64 => Ok(DataType::Int32),
        DType::Bool | DType::I8 | DType::U8 => Err(format!(
            "Core ML model inputs and outputs are float32, float16 or int32 arrays, not {d}"
        )),
    }
}

struct Lower<'g> {
    g: &'g Graph,
    mil: Mil,
    /// Store int8-grid weights as int8 (`ExportOptions::int8_weights`).
    int8_weights: bool,
    /// Store weights with at most `2^bits` distinct values as a table (`ExportOptions::palette_bits`).
    palette_bits: Option<u8>,
    /// One table per this many output channels (`ExportOptions::palette_group`).
    palette_group: Option<usize>,
    /// Store weights with enough zeros sparse (`ExportOptions::sparse_weights`).
    sparse_weights: bool,
    /// Hold values with `QuantParams` as int8 (`ExportOptions::int8_activations`).
    int8_activations: bool,
    /// MIL type of float32 IR values in the node being lowered.
    compute: DataType,
    /// The program's precision (MIL type of float32 IR values outside the fp32 nodes).
    base: DataType,
    /// Nodes that compute in float32 whatever the precision.
    fp32: Vec<bool>,
    /// MIL value of each IR value, once defined, in the type its producer gave it.
    vars: Vec<Option<Var>>,
    /// The same values in another type: constants converted, others cast (emitted once).
    converted: BTreeMap<(ValueId, DataType), Var>,
    /// Values downstream of an unsupported node.
    poisoned: Vec<bool>,
    /// Names reserved for IR values (graph outputs produced directly).
    names: Vec<Option<String>>,
    consumers: Vec<Vec<usize>>,
    is_output: Vec<bool>,
    absorbed: Vec<bool>,
    /// Nodes the node being lowered absorbs (committed only if it lowers successfully).
    pending: Vec<usize>,
}

impl<'g> Lower<'g> {
    // ---- interface -------------------------------------------------------------------------

    fn inputs(
        &mut self,
        failed: &mut Vec<(String, String, String)>,
    ) -> Result<Vec<Feature>, CoremlError> {
        let mut features = Vec::new();
        for &i in &self.g.inputs {
            let v = self.g.value(i);
            let io = match io_dtype(v.ty.dtype, self.mil.target) {
                Ok(_) if v.ty.shape.is_empty() => Err(
                    "scalar model inputs are not supported (Core ML multi-arrays have rank >= 1)"
                        .to_string(),
                ),
                other => other,
            };
            let io = match io {
                Ok(d) => d,
                Err(r) => {
                    failed.push((v.name.clone(), "input".into(), r));
                    self.poisoned[i.0 as usize] = true;
                    continue;
                }
            };
            // Consumers that compute in another type cast it on first use.
            let name = self.mil.fresh_feature(&v.name);
            let mut var = Var {
                name: name.clone(),
                dtype: io,
                shape: v.ty.shape.clone(),
            };
            if let Some(q) = v.quant.filter(|_| self.int8_activations) {
                let (stored, read) = (self.mil.fresh(&format!("{name}_int8")), self.mil.fresh(&format!("{name}_read")));
                var = ops::quantize::round_trip(&mut self.mil, &var, q, &stored, &read)
                    .map_err(|e| CoremlError::Invalid(format!("input '{}': {e:?}", v.name)))?;
            }
            self.vars[i.0 as usize] = Some(var);
            features.push(Feature {
                name,
                source: v.name.clone(),
                dtype: io,
                shape: v.ty.shape.clone(),
            });
        }
        Ok(features)
    }

    /// Reserve output names. A graph output produced by a node in its final dtype is written
    /// under its feature name directly; others get a final `cast` or `identity`.
    fn plan_outputs(
        &mut self,
        failed: &mut Vec<(String, String, String)>,
    ) -> Vec<(ValueId, Feature)> {
        let producers = self.g.producers();
        let mut planned = Vec::new();
        for &o in &self.g.outputs {
            let v = self.g.value(o);
            let io = match io_dtype(v.ty.dtype, self.mil.target) {
                Ok(_) if v.ty.shape.is_empty() => {
                    failed.push((
                        v.name.clone(),
                        "output".into(),
                        "scalar model outputs are not supported (Core ML multi-arrays have rank >= 1)".into(),
                    ));
                    continue;
                }
                Ok(d) => d,
                Err(r) => {
                    failed.push((v.name.clone(), "output".into(), r));
                    continue;
                }
            };
            let name = self.mil.fresh_feature(&v.name);
            let direct = producers[o.0 as usize]
                .is_some_and(|p| self.dtype_in(self.node_compute(p), v.ty.dtype) == io);
            if direct && self.names[o.0 as usize].is_none() {
                self.names[o.0 as usize] = Some(name.clone());
            }
            planned.push((
                o,
                Feature {
                    name,
                    source: v.name.clone(),
                    dtype: io,
                    shape: v.ty.shape.clone(),
                },
            ));
        }
        planned
    }

    fn finish_outputs(&mut self, outputs: &[(ValueId, Feature)]) -> R {
        for (o, f) in outputs {
            // As its producer wrote it (a constant: in the program's type).
            let var = match self.vars[o.0 as usize].clone() {
                Some(v) => v,
                None => self.operand(*o, self.dtype_in(self.base, self.ir_dtype(*o)))?,
            };
            if var.name == f.name {
                if var.dtype != f.dtype {
                    return Err(invalid(format!(
                        "output '{}' has type {:?}, expected {:?}",
                        f.name, var.dtype, f.dtype
                    )));
                }
            } else if var.dtype != f.dtype {
                ops::cast::cast(&mut self.mil, &f.name, &var, f.dtype)?;
            } else {
                ops::cast::identity(&mut self.mil, &f.name, &var)?;
            }
        }
        Ok(())
    }

    // ---- values ----------------------------------------------------------------------------

    fn poison(&mut self, node: &Node) {
        for &o in &node.outputs {
            self.poisoned[o.0 as usize] = true;
        }
    }

    /// MIL type of float32 IR values in node `idx`.
    fn node_compute(&self, idx: usize) -> DataType {
        if self.fp32.get(idx).copied().unwrap_or(false) {
            DataType::Float32
        } else {
            self.base
        }
    }

    /// MIL type of values of IR type `d` in the node being lowered.
    fn mil_dtype(&self, d: DType) -> DataType {
        self.dtype_in(self.compute, d)
    }

    /// MIL type of values of IR type `d` where float32 computes as `compute`.
    fn dtype_in(&self, compute: DataType, d: DType) -> DataType {
        match d {
            DType::F32 => compute,
            DType::F16 => DataType::Float16,
            DType::I64 | DType::I32 => DataType::Int32,
            DType::Bool => DataType::Bool,
            DType::I8 => DataType::Int8,
            DType::U8 => DataType::Uint8,
        }
    }

    fn ir_dtype(&self, v: ValueId) -> DType {
        self.g.value(v).ty.dtype
    }

    fn shape(&self, v: ValueId) -> &'g [usize] {
        &self.g.value(v).ty.shape
    }

    fn constant(&self, v: ValueId) -> Option<&'g Tensor> {
        self.g.constant(v)
    }

    fn id(&self, node: &Node, i: usize) -> R<ValueId> {
        node.inputs
            .get(i)
            .copied()
            .ok_or_else(|| invalid(format!("node '{}' lacks input {i}", node.name)))
    }

    fn out_id(&self, node: &Node) -> R<ValueId> {
        node.outputs
            .first()
            .copied()
            .ok_or_else(|| invalid(format!("node '{}' has no output", node.name)))
    }

    /// The MIL value of IR value `id` in the type the node being lowered computes it in
    /// (constants are emitted on first use, values of another float type cast).
    fn var(&mut self, id: ValueId) -> R<Var> {
        let want = self.mil_dtype(self.ir_dtype(id));
        match &self.vars[id.0 as usize] {
            Some(v) if !(v.dtype.is_float() && want.is_float()) => Ok(v.clone()),
            _ => self.operand(id, want),
        }
    }

    fn input(&mut self, node: &Node, i: usize) -> R<Var> {
        let id = self.id(node, i)?;
        self.var(id)
    }

    /// IR value `id` as a MIL value of type `dtype`: constants are converted, others cast;
    /// either is emitted once per value and type.
    fn operand(&mut self, id: ValueId, dtype: DataType) -> R<Var> {
        if let Some(v) = &self.vars[id.0 as usize]
            && v.dtype == dtype
        {
            return Ok(v.clone());
        }
        if let Some(v) = self.converted.get(&(id, dtype)) {
            return Ok(v.clone());
        }
        let v = match self.constant(id) {
            // A constant in the program's own type keeps the value's name.
            Some(t) if self.dtype_in(self.base, t.dtype()) == dtype => {
                let v = self.const_tensor(&self.g.value(id).name, t, dtype)?;
                self.vars[id.0 as usize] = Some(v.clone());
                return Ok(v);
            }
            Some(t) => {
                let name = format!("{}_{}", self.g.value(id).name, dtype.mil_name());
                self.const_tensor(&name, t, dtype)?
            }
            None => {
                let v = self.vars[id.0 as usize].clone().ok_or_else(|| {
                    invalid(format!(
                        "value '{}' is used before it is defined",
                        self.g.value(id).name
                    ))
                })?;
                self.cast_to(v, dtype)?
            }
        };
        self.converted.insert((id, dtype), v.clone());
        Ok(v)
    }

    /// A const op holding `t` converted to `dtype`.
    fn const_tensor(&mut self, base: &str, t: &Tensor, dtype: DataType) -> R<Var> {
        let weight = dtype.is_float() && t.dtype().is_float() && t.len() >= edgeport_quant::weights::MIN_ELEMENTS;
        if !weight {
            return self.mil.constant(base, t.shape(), convert(t, dtype)?);
        }
        // Pruned weights are stored sparse (with their int8 or palette form from iOS18); weights
        // a pass put on a grid are stored on it; anything else stays float.
        let values = t.to_f32_vec();
        let sparse = if self.sparse_weights {
            edgeport_quant::prune::sparse(&values, dtype.byte_size()).filter(|s| !s.nonzero.is_empty())
        } else {
            None
        };
        let joint = sparse.as_ref().filter(|_| self.mil.target >= crate::Target::Ios18);
        if self.int8_weights
            && let Some(q) = edgeport_quant::int8::recover(&values, t.shape())
        {
            return match joint {
                Some(s) => self.mil.sparse_int8_constant(base, t.shape(), &q, s, dtype),
                None => self.mil.int8_constant(base, t.shape(), &q, dtype),
            };
        }
        if let Some(bits) = self.palette_bits
            && let Some(p) = self.palette_of(t, bits, joint.is_some())
        {
            return match joint {
                Some(s) => self.mil.sparse_palette_constant(base, t.shape(), &p, s, dtype),
                None => self.mil.palette_constant(base, t.shape(), &p, dtype),
            };
        }
        if let Some(s) = &sparse {
            return self.mil.sparse_constant(base, t.shape(), s, dtype);
        }
        self.mil.constant(base, t.shape(), convert(t, dtype)?)
    }

    /// The tables `t` takes its values from: per group of `palette_group` channels, or one for
    /// the whole tensor (a single group along its first axis).
    fn palette_of(&self, t: &Tensor, bits: u8, skip_zeros: bool) -> Option<edgeport_quant::palette::Grouped> {
        let values = t.to_f32_vec();
        match self.palette_group {
            Some(group) => edgeport_quant::palette::recover_grouped(&values, t.shape(), bits, group, skip_zeros),
            None if skip_zeros => {
                let channels = t.shape().first().copied().unwrap_or(1).max(1);
                edgeport_quant::palette::recover_grouped(&values, t.shape(), bits, channels, true)
            }
            None => {
                let p = edgeport_quant::palette::recover(&values, bits)?;
                let channels = t.shape().first().copied().unwrap_or(1).max(1);
                Some(edgeport_quant::palette::Grouped { bits, axis: 0, group: channels, lut: p.lut, indices: p.indices })
            }
        }
    }

    fn cast_to(&mut self, v: Var, dtype: DataType) -> R<Var> {
        if v.dtype == dtype {
            return Ok(v);
        }
        let name = self
            .mil
            .fresh(&format!("{}_to_{}", v.name, dtype.mil_name()));
        ops::cast::cast(&mut self.mil, &name, &v, dtype)
    }

    fn scalar(&mut self, base: &str, value: f32, dtype: DataType) -> R<Var> {
        let data = match dtype {
            DataType::Int32 => ConstData::I32(vec![value as i32]),
            d => ConstData::float(&[value], d),
        };
        self.mil.constant(base, &[], data)
    }

    /// Name under which IR value `id` is written.
    fn out_name(&mut self, id: ValueId) -> String {
        match self.names[id.0 as usize].take() {
            Some(n) => n,
            None => {
                let base = self.g.value(id).name.clone();
                self.mil.fresh(&base)
            }
        }
    }

    fn tmp(&mut self, node: &Node, what: &str) -> String {
        self.mil.fresh(&format!("{}_{what}", node.name))
    }

    /// Record `var` as the MIL value of IR value `id`, checking it has the IR's type.
    fn bind(&mut self, id: ValueId, var: Var) -> R {
        let ty = &self.g.value(id).ty;
        let want = self.mil_dtype(ty.dtype);
        if var.dtype != want || var.shape != ty.shape {
            return Err(invalid(format!(
                "lowering of '{}' produced {:?}{:?}, the IR says {:?}{:?}",
                self.g.value(id).name,
                var.dtype,
                var.shape,
                want,
                ty.shape
            )));
        }
        let var = match self.g.value(id).quant.filter(|_| self.int8_activations) {
            Some(q) => self.held_as_int8(var, q)?,
            None => var,
        };
        self.vars[id.0 as usize] = Some(var);
        Ok(())
    }

    /// `var` stored as int8 and read back (W8A8). The value keeps its name: its producer's
    /// output is renamed and the `dequantize` takes the name, so graph outputs stay direct.
    fn held_as_int8(&mut self, var: Var, q: edgeport_ir::QuantParams) -> R<Var> {
        let raw_name = self.mil.fresh(&format!("{}_float", var.name));
        let stored = self.mil.fresh(&format!("{}_int8", var.name));
        if self.mil.rename_output(&var.name, &raw_name) {
            let raw = Var { name: raw_name, ..var.clone() };
            return ops::quantize::round_trip(&mut self.mil, &raw, q, &stored, &var.name);
        }
        let read = self.mil.fresh(&format!("{}_read", var.name));
        ops::quantize::round_trip(&mut self.mil, &var, q, &stored, &read)
    }

    /// Emit the node's (single-output) lowering under the output's name and bind it.
    fn emit(&mut self, node: &Node, f: impl FnOnce(&mut Mil, &str) -> R<Var>) -> R {
        let id = self.out_id(node)?;
        let name = self.out_name(id);
        let v = f(&mut self.mil, &name)?;
        self.bind(id, v)
    }

    /// The only consumer of `v` and its index, when `v` is not a graph output.
    fn sole_consumer(&self, v: ValueId) -> Option<(usize, &'g Node)> {
        if self.is_output[v.0 as usize] {
            return None;
        }
        match self.consumers[v.0 as usize].as_slice() {
            &[c] if !self.absorbed[c] => self.g.nodes.get(c).map(|n| (c, n)),
            _ => None,
        }
    }

    fn require_float(&self, v: &Var, what: &str) -> R {
        if v.dtype.is_float() {
            Ok(())
        } else {
            unsupported(format!(
                "{what} takes float tensors, got {}",
                v.dtype.mil_name()
            ))
        }
    }

    // ---- the one match over the IR op set --------------------------------------------------

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
                self.require_float(&x, "leaky_relu")?;
                self.emit(node, |mil, name| {
                    ops::activation::leaky_relu(mil, name, &x, *alpha)
                })
            }
            Op::HardSigmoid { alpha, beta } => {
                let x = self.input(node, 0)?;
                self.require_float(&x, "sigmoid_hard")?;
                self.emit(node, |mil, name| {
                    ops::activation::sigmoid_hard(mil, name, &x, *alpha, *beta)
                })
            }
            Op::MatMul => self.matmul(node),
            Op::Reshape { shape } => self.reshape(node, shape),
            Op::Transpose { perm } => {
                let x = self.input(node, 0)?;
                self.emit(node, |mil, name| {
                    ops::transpose::transpose(mil, name, &x, perm)
                })
            }
            Op::Concat { axis } => self.concat(node, *axis),
            Op::Split { axis, sizes } => self.split(node, *axis, sizes),
            Op::Slice(s) => self.slice(node, s),
            Op::Gather { axis } => self.gather(node, *axis),
            Op::Reduce(r) => self.reduce(node, r.kind, &r.axes, r.keep_dims),
            Op::Softmax { axis } => {
                let x = self.input(node, 0)?;
                self.require_float(&x, "softmax")?;
                self.emit(node, |mil, name| {
                    ops::softmax::softmax(mil, name, &x, *axis)
                })
            }
            Op::LayerNorm(l) => self.layer_norm(node, l),
            Op::Pad(p) => self.pad(node, &p.pads, p.mode),
            Op::Cast { to } => self.cast(node, *to),
        }
    }

    // ---- convolution -----------------------------------------------------------------------

    fn conv(&mut self, node: &'g Node, c: &Conv) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "conv")?;
        let w_id = self.id(node, 1)?;
        if self.constant(w_id).is_none() && c.dilations != [1, 1] {
            return unsupported(
                "dilated convolution with runtime weights (MIL needs constant weights when dilated)",
            );
        }
        let w = self.operand(w_id, x.dtype)?;
        let bias = match node.inputs.get(2) {
            Some(&b) => Some(self.operand(b, x.dtype)?),
            None => None,
        };
        let [t, l, b, r] = c.pads;
        let p = ops::conv::ConvParams {
            strides: c.strides,
            dilations: c.dilations,
            pad: [t, b, l, r],
            groups: c.group,
        };
        self.emit(node, |mil, name| {
            ops::conv::conv(mil, name, &x, &w, bias.as_ref(), &p)
        })
    }

    /// ONNX output_padding extends the end of each spatial axis. Where it stays within the end
    /// padding it only reduces the crop; beyond it the extra cells hold the bias alone, so the
    /// transposed conv runs without bias, a zero `pad` extends it and an `add` puts the bias on.
    fn conv_transpose(&mut self, node: &'g Node, c: &ConvTranspose) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "conv_transpose")?;
        let w_id = self.id(node, 1)?;
        let Some(wt) = self.constant(w_id) else {
            return unsupported("conv_transpose needs constant weights in Core ML");
        };
        let bias_t = match node.inputs.get(2) {
            Some(&b) => match self.constant(b) {
                Some(t) => Some(t),
                None => return unsupported("conv_transpose needs a constant bias in Core ML"),
            },
            None => None,
        };
        let w = self.const_tensor(&format!("{}_weight", node.name), wt, x.dtype)?;
        let [t, l, b, r] = c.pads;
        let [oph, opw] = c.output_padding;
        let extra = [oph.saturating_sub(b), opw.saturating_sub(r)];
        let pad = [t, b.saturating_sub(oph), l, r.saturating_sub(opw)];
        let p = ops::conv_transpose::ConvTransposeParams {
            strides: c.strides,
            dilations: c.dilations,
            pad,
            groups: c.group,
        };
        if extra == [0, 0] {
            let bias = match bias_t {
                Some(bt) => Some(self.const_tensor(&format!("{}_bias", node.name), bt, x.dtype)?),
                None => None,
            };
            return self.emit(node, |mil, name| {
                ops::conv_transpose::conv_transpose(mil, name, &x, &w, bias.as_ref(), &p)
            });
        }
        let core = self.tmp(node, "core");
        let y = ops::conv_transpose::conv_transpose(&mut self.mil, &core, &x, &w, None, &p)?;
        let pads = [[0, extra[0]], [0, extra[1]]];
        match bias_t {
            None => self.emit(node, |mil, name| {
                ops::pad::pad(mil, name, &y, &pads, MilPad::Constant(0.0))
            }),
            Some(bt) => {
                let padded = self.tmp(node, "output_padding");
                let y = ops::pad::pad(&mut self.mil, &padded, &y, &pads, MilPad::Constant(0.0))?;
                let o = bt.len();
                let b4 = bt
                    .clone()
                    .reshaped(vec![1, o, 1, 1])
                    .map_err(|e| invalid(e.to_string()))?;
                let bias = self.const_tensor(&format!("{}_bias", node.name), &b4, x.dtype)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Add, name, &y, &bias)
                })
            }
        }
    }

    // ---- pooling and resize ----------------------------------------------------------------

    fn pool(&mut self, node: &'g Node, p: &Pool) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "pooling")?;
        let kind = match p.kind {
            PoolKind::Max => MilPool::Max,
            PoolKind::Avg => MilPool::Avg {
                exclude_padding: !p.count_include_pad,
            },
        };
        let [t, l, b, r] = p.pads;
        self.emit(node, |mil, name| {
            ops::pool::pool(mil, name, &x, kind, p.kernel, p.strides, [t, b, l, r])
        })
    }

    fn resize(&mut self, node: &'g Node, r: &Resize) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "resize")?;
        if x.rank() != 4 {
            return Err(invalid(format!(
                "resize '{}' needs a rank-4 input",
                node.name
            )));
        }
        let input = [x.shape[2], x.shape[3]];
        match r.mode {
            ResizeMode::Nearest(m) => {
                let idx: Vec<Vec<usize>> = (0..2)
                    .map(|a| {
                        (0..r.size[a])
                            .map(|i| nearest_index(r.coord, m, i, input[a], r.size[a]))
                            .collect()
                    })
                    .collect();
                // Integer upsampling (an identity axis is a factor of 1): out[i] = in[i / s].
                let factor = |a: usize| -> Option<usize> {
                    let s = r.size[a] / input[a].max(1);
                    (r.size[a].is_multiple_of(input[a].max(1))
                        && idx[a].iter().enumerate().all(|(i, &j)| j == i / s.max(1)))
                    .then_some(s)
                };
                if let (Some(sh), Some(sw)) = (factor(0), factor(1)) {
                    return self.emit(node, |mil, name| {
                        ops::resize::upsample_nearest(mil, name, &x, [sh, sw])
                    });
                }
                // Any other nearest mapping is a gather of rows, then of columns.
                let moved: Vec<usize> = (0..2)
                    .filter(|&a| {
                        !(input[a] == r.size[a] && idx[a].iter().enumerate().all(|(i, &j)| i == j))
                    })
                    .collect();
                let mut cur = x;
                for (k, &a) in moved.iter().enumerate() {
                    let values = idx[a].iter().map(|&j| i32c(j)).collect::<R<Vec<i32>>>()?;
                    let base = format!("{}_indices_{}", node.name, if a == 0 { "h" } else { "w" });
                    let indices =
                        self.mil
                            .constant(&base, &[values.len()], ConstData::I32(values))?;
                    let src = cur.clone();
                    if k + 1 == moved.len() {
                        return self.emit(node, |mil, name| {
                            ops::gather::gather(mil, name, &src, &indices, a + 2)
                        });
                    }
                    let name = self.tmp(node, "rows");
                    cur = ops::gather::gather(&mut self.mil, &name, &src, &indices, a + 2)?;
                }
                self.emit(node, |mil, name| ops::cast::identity(mil, name, &cur))
            }
            ResizeMode::Linear => {
                let modes: Vec<SamplingMode> = SamplingMode::ALL
                    .into_iter()
                    .filter(|&m| {
                        (0..2).all(|a| linear_mode_matches(r.coord, m, input[a], r.size[a]))
                    })
                    .collect();
                let Some(&mode) = modes.first() else {
                    return unsupported(format!(
                        "no resize_bilinear sampling mode reproduces linear resize with {:?} coordinates for {:?} -> {:?}",
                        r.coord, input, r.size
                    ));
                };
                self.emit(node, |mil, name| {
                    ops::resize::resize_bilinear(mil, name, &x, r.size, mode)
                })
            }
        }
    }

    // ---- elementwise -----------------------------------------------------------------------

    fn unary(&mut self, node: &'g Node, u: UnaryOp) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, u.name())?;
        let simple = match u {
            UnaryOp::Relu => Some(Unary::Relu),
            UnaryOp::Sigmoid => Some(Unary::Sigmoid),
            UnaryOp::Tanh => Some(Unary::Tanh),
            UnaryOp::Erf => Some(Unary::Erf),
            UnaryOp::Sqrt => Some(Unary::Sqrt),
            UnaryOp::Rsqrt => Some(Unary::Rsqrt),
            UnaryOp::Exp => Some(Unary::Exp),
            UnaryOp::Log => Some(Unary::Log),
            UnaryOp::Abs => Some(Unary::Abs),
            UnaryOp::Floor => Some(Unary::Floor),
            UnaryOp::Ceil => Some(Unary::Ceil),
            UnaryOp::Gelu
            | UnaryOp::GeluTanh
            | UnaryOp::HardSwish
            | UnaryOp::Reciprocal
            | UnaryOp::Neg => None,
        };
        if let Some(op) = simple {
            return self.emit(node, |mil, name| ops::unary::unary(mil, op, name, &x));
        }
        match u {
            UnaryOp::Gelu => self.emit(node, |mil, name| {
                ops::activation::gelu(mil, name, &x, GeluMode::Exact)
            }),
            UnaryOp::GeluTanh => self.emit(node, |mil, name| {
                ops::activation::gelu(mil, name, &x, GeluMode::TanhApproximation)
            }),
            UnaryOp::HardSwish => {
                // x * hard_sigmoid(x) with alpha 1/6, beta 1/2 (MIL has no hard_swish).
                let gate = self.tmp(node, "gate");
                let s = ops::activation::sigmoid_hard(&mut self.mil, &gate, &x, 1.0 / 6.0, 0.5)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Mul, name, &x, &s)
                })
            }
            UnaryOp::Reciprocal => {
                // real_div(1, x): MIL's `inverse` adds an epsilon (1e-4 by default).
                let one = self.scalar(&format!("{}_one", node.name), 1.0, x.dtype)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::RealDiv, name, &one, &x)
                })
            }
            _ => {
                // Neg: MIL has no neg.
                let m = self.scalar(&format!("{}_minus_one", node.name), -1.0, x.dtype)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Mul, name, &x, &m)
                })
            }
        }
    }

    fn binary(&mut self, node: &'g Node, op: BinaryOp) -> R {
        let (a_id, b_id) = (self.id(node, 0)?, self.id(node, 1)?);
        let dtype = self.mil_dtype(self.ir_dtype(a_id));
        let mil_op = match op {
            BinaryOp::Add => Binary::Add,
            BinaryOp::Sub => Binary::Sub,
            BinaryOp::Mul => Binary::Mul,
            BinaryOp::Div => Binary::RealDiv,
            BinaryOp::Pow => Binary::Pow,
            BinaryOp::Min => Binary::Minimum,
            BinaryOp::Max => Binary::Maximum,
        };
        match dtype {
            d if d.is_float() => {}
            DataType::Int32 if op == BinaryOp::Div => {
                return unsupported(
                    "integer Div truncates toward zero; MIL has only floor_div and real_div",
                );
            }
            DataType::Int32 => {}
            d => {
                return unsupported(format!(
                    "MIL {} does not take {} operands",
                    mil_op.def().name,
                    d.mil_name()
                ));
            }
        }
        let a = self.operand(a_id, dtype)?;
        if op == BinaryOp::Pow && dtype.is_float() {
            let a_shape = self.shape(a_id);
            let exponent = self.constant(b_id).filter(|c| {
                c.len() == 1
                    && edgeport_ir::ops::broadcast_shapes(a_shape, c.shape()).as_deref()
                        == Some(a_shape)
            });
            match exponent.map(|c| c.to_f32_vec()).as_deref() {
                // x * x is exact for negative x too (pow of a negative base may not be).
                Some([2.0]) => {
                    return self.emit(node, |mil, name| {
                        ops::binary::binary(mil, Binary::Mul, name, &a, &a)
                    });
                }
                Some([0.5]) => {
                    return self.emit(node, |mil, name| {
                        ops::unary::unary(mil, Unary::Sqrt, name, &a)
                    });
                }
                Some([1.0]) => {
                    return self.emit(node, |mil, name| ops::cast::identity(mil, name, &a));
                }
                _ => {}
            }
        }
        let b = self.operand(b_id, dtype)?;
        self.emit(node, |mil, name| {
            ops::binary::binary(mil, mil_op, name, &a, &b)
        })
    }

    fn prelu(&mut self, node: &'g Node) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "prelu")?;
        let s_id = self.id(node, 1)?;
        if let Some(st) = self.constant(s_id) {
            let v = st.to_f32_vec();
            if let Some(&first) = v.first().filter(|&&f| v.iter().all(|&y| y == f)) {
                return self.emit(node, |mil, name| {
                    ops::activation::leaky_relu(mil, name, &x, first)
                });
            }
            // Per-channel slope on axis 1 of a rank 3-5 input: MIL prelu with alpha [C].
            let rank = x.rank();
            let s = st.shape();
            let per_channel = (3..=5).contains(&rank)
                && s.len() <= rank
                && s.iter()
                    .rev()
                    .enumerate()
                    .all(|(k, &d)| d == 1 || (rank - 1 - k == 1 && d == x.shape[1]));
            if per_channel {
                let c = x.shape[1];
                let full =
                    edgeport_ir::eval::broadcast_to(&st.cast(DType::F32), &[c, 1, 1][..rank - 1])
                        .and_then(|t| t.reshaped(vec![c]))
                        .map_err(|e| invalid(e.to_string()))?;
                let alpha = self.const_tensor(&format!("{}_alpha", node.name), &full, x.dtype)?;
                return self.emit(node, |mil, name| {
                    ops::activation::prelu(mil, name, &x, &alpha)
                });
            }
        }
        // General slope: relu(x) + slope * min(x, 0).
        let slope = self.operand(s_id, x.dtype)?;
        let pos = self.tmp(node, "positive");
        let pos = ops::unary::unary(&mut self.mil, Unary::Relu, &pos, &x)?;
        let zero = self.scalar(&format!("{}_zero", node.name), 0.0, x.dtype)?;
        let neg = self.tmp(node, "negative");
        let neg = ops::binary::binary(&mut self.mil, Binary::Minimum, &neg, &x, &zero)?;
        let scaled = self.tmp(node, "scaled");
        let scaled = ops::binary::binary(&mut self.mil, Binary::Mul, &scaled, &neg, &slope)?;
        self.emit(node, |mil, name| {
            ops::binary::binary(mil, Binary::Add, name, &pos, &scaled)
        })
    }

    fn clip(&mut self, node: &'g Node, min: f32, max: f32) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "clip")?;
        let (lo, hi) = (min > f32::NEG_INFINITY, max < f32::INFINITY);
        match (lo, hi) {
            (true, true) => self.emit(node, |mil, name| {
                ops::activation::clip(mil, name, &x, min, max)
            }),
            (true, false) if min == 0.0 => self.emit(node, |mil, name| {
                ops::unary::unary(mil, Unary::Relu, name, &x)
            }),
            (true, false) => {
                let c = self.scalar(&format!("{}_min", node.name), min, x.dtype)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Maximum, name, &x, &c)
                })
            }
            (false, true) => {
                let c = self.scalar(&format!("{}_max", node.name), max, x.dtype)?;
                self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Minimum, name, &x, &c)
                })
            }
            (false, false) => self.emit(node, |mil, name| ops::cast::identity(mil, name, &x)),
        }
    }

    // ---- matmul ----------------------------------------------------------------------------

    fn matmul(&mut self, node: &'g Node) -> R {
        let a = self.input(node, 0)?;
        self.require_float(&a, "matmul")?;
        let b_id = self.id(node, 1)?;
        let out = self.out_id(node)?;
        if let Some(w) = self.constant(b_id).filter(|w| w.shape().len() == 2)
            && (1..=ops::linear::MAX_RANK).contains(&a.rank())
        {
            return self.linear(node, &a, w, out);
        }
        let b = self.operand(b_id, a.dtype)?;
        self.emit(node, |mil, name| ops::matmul::matmul(mil, name, &a, &b))
    }

    /// MatMul by a constant [K, N] matrix: `linear` with weight [N, K]; a following Add of a
    /// constant [N] bias (the MatMul's only consumer) becomes its bias.
    fn linear(&mut self, node: &'g Node, a: &Var, w: &Tensor, out: ValueId) -> R {
        let n = w.shape()[1];
        let wt = edgeport_ir::eval::transpose(w, &[1, 0]).map_err(|e| invalid(e.to_string()))?;
        let weight = self.const_tensor(&format!("{}_weight", node.name), &wt, a.dtype)?;
        let mut target = out;
        let mut bias = None;
        if let Some((ci, c)) = self.sole_consumer(out)
            && self.node_compute(ci) == self.compute
            && let (Op::Binary(BinaryOp::Add), [i0, i1], Some(&add_out)) =
                (&c.op, c.inputs.as_slice(), c.outputs.first())
            && i0 != i1
        {
            let other = if *i0 == out { *i1 } else { *i0 };
            let out_rank = self.shape(out).len();
            let bias_like = self.constant(other).filter(|t| {
                t.dtype().is_float()
                    && t.len() == n
                    && t.shape().last() == Some(&n)
                    && t.shape().iter().rev().skip(1).all(|&d| d == 1)
                    && t.shape().len() <= out_rank
            });
            if let Some(bt) = bias_like {
                let flat = bt
                    .clone()
                    .reshaped(vec![n])
                    .map_err(|e| invalid(e.to_string()))?;
                bias = Some(self.const_tensor(&format!("{}_bias", node.name), &flat, a.dtype)?);
                self.pending.push(ci);
                target = add_out;
            }
        }
        let name = self.out_name(target);
        let v = ops::linear::linear(&mut self.mil, &name, a, &weight, bias.as_ref())?;
        self.bind(target, v)
    }

    // ---- data movement ---------------------------------------------------------------------

    fn reshape(&mut self, node: &'g Node, shape: &[usize]) -> R {
        let x = self.input(node, 0)?;
        if shape.len() > x.rank()
            && !x.shape.is_empty()
            && let Some(axes) = ops::reshape::unit_axes(shape, &x.shape)
        {
            return self.emit(node, |mil, name| {
                ops::reshape::expand_dims(mil, name, &x, &axes)
            });
        }
        if shape.len() < x.rank()
            && !shape.is_empty()
            && let Some(axes) = ops::reshape::unit_axes(&x.shape, shape)
        {
            return self.emit(node, |mil, name| {
                ops::reshape::squeeze(mil, name, &x, &axes)
            });
        }
        self.emit(node, |mil, name| {
            ops::reshape::reshape(mil, name, &x, shape)
        })
    }

    fn concat(&mut self, node: &'g Node, axis: usize) -> R {
        let out = self.out_id(node)?;
        let dtype = self.mil_dtype(self.ir_dtype(out));
        let values = node
            .inputs
            .iter()
            .map(|&i| self.operand(i, dtype))
            .collect::<R<Vec<Var>>>()?;
        if let [only] = values.as_slice() {
            let only = only.clone();
            return self.emit(node, |mil, name| ops::cast::identity(mil, name, &only));
        }
        self.emit(node, |mil, name| {
            ops::concat::concat(mil, name, &values, axis)
        })
    }

    fn split(&mut self, node: &'g Node, axis: usize, sizes: &[usize]) -> R {
        let x = self.input(node, 0)?;
        if sizes.contains(&0) {
            return unsupported("empty split output (Core ML has no zero-sized tensors)");
        }
        if node.outputs.len() != sizes.len() {
            return Err(invalid(format!(
                "split '{}' output count differs from its sizes",
                node.name
            )));
        }
        if let ([only], [_]) = (node.outputs.as_slice(), sizes) {
            let name = self.out_name(*only);
            let v = ops::cast::identity(&mut self.mil, &name, &x)?;
            return self.bind(*only, v);
        }
        let names: Vec<String> = node.outputs.iter().map(|&o| self.out_name(o)).collect();
        let vars = ops::split::split(&mut self.mil, &names, &x, axis, sizes)?;
        for (&o, v) in node.outputs.iter().zip(vars) {
            self.bind(o, v)?;
        }
        Ok(())
    }

    fn slice(&mut self, node: &'g Node, s: &Slice) -> R {
        let x = self.input(node, 0)?;
        let out = self.out_id(node)?;
        if self.shape(out).contains(&0) {
            return unsupported("empty slice (Core ML has no zero-sized tensors)");
        }
        let rank = x.rank();
        let mut p = SliceParams {
            begin: vec![0; rank],
            end: x.shape.iter().map(|&d| i32c(d)).collect::<R<_>>()?,
            stride: vec![1; rank],
            end_mask: vec![false; rank],
        };
        for i in 0..s.axes.len() {
            let a = s.axes[i];
            let dim = *x
                .shape
                .get(a)
                .ok_or_else(|| invalid(format!("slice '{}' axis {a} out of range", node.name)))?;
            let step = s.steps[i];
            let start = if step < 0 {
                s.starts[i].min(dim as i64 - 1)
            } else {
                s.starts[i]
            };
            let to_i32 = |v: i64| {
                i32::try_from(v).map_err(|_| invalid(format!("slice bound {v} out of int32 range")))
            };
            p.begin[a] = to_i32(start)?;
            p.stride[a] = to_i32(step)?;
            if step < 0 && s.ends[i] < 0 {
                p.end_mask[a] = true;
                p.end[a] = 0;
            } else {
                p.end[a] = to_i32(s.ends[i])?;
            }
        }
        self.emit(node, |mil, name| {
            ops::slice_by_index::slice_by_index(mil, name, &x, &p)
        })
    }

    fn gather(&mut self, node: &'g Node, axis: usize) -> R {
        let x = self.input(node, 0)?;
        if !(x.dtype.is_float() || x.dtype == DataType::Int32) {
            return unsupported(format!(
                "MIL gather takes float or int32 data, got {}",
                x.dtype.mil_name()
            ));
        }
        let idx_id = self.id(node, 1)?;
        let dim = x.shape.get(axis).copied().unwrap_or(0) as i64;
        let indices = match self.constant(idx_id) {
            Some(c) => {
                // Constant indices: normalized into range and int32.
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
                    .collect::<Result<Vec<i32>, i64>>()
                    .map_err(|i| {
                        invalid(format!(
                            "gather '{}': index {i} out of range for an axis of {dim}",
                            node.name
                        ))
                    })?;
                self.mil.constant(
                    &format!("{}_indices", node.name),
                    c.shape(),
                    ConstData::I32(v),
                )?
            }
            // Runtime indices: from iOS17 gather reads negative indices as out of bounds, so
            // they are wrapped first: select(i >= 0, i, i + dim).
            None if self.mil.target >= Target::Ios17 => {
                let i = self.var(idx_id)?;
                let zero = self.mil.constant(
                    &format!("{}_zero", node.name),
                    &[],
                    ConstData::I32(vec![0]),
                )?;
                let dim_c = self.mil.constant(
                    &format!("{}_dim", node.name),
                    &[],
                    ConstData::I32(vec![i32c(dim as usize)?]),
                )?;
                let name = self.tmp(node, "nonnegative");
                let cond = ops::select::greater_equal(&mut self.mil, &name, &i, &zero)?;
                let name = self.tmp(node, "wrapped");
                let wrapped = ops::binary::binary(&mut self.mil, Binary::Add, &name, &i, &dim_c)?;
                let name = self.tmp(node, "indices");
                ops::select::select(&mut self.mil, &name, &cond, &i, &wrapped)?
            }
            None => self.var(idx_id)?,
        };
        self.emit(node, |mil, name| {
            ops::gather::gather(mil, name, &x, &indices, axis)
        })
    }

    fn reduce(&mut self, node: &'g Node, kind: ReduceKind, axes: &[usize], keep_dims: bool) -> R {
        let x = self.input(node, 0)?;
        let op = match kind {
            ReduceKind::Mean => Reduce::Mean,
            ReduceKind::Sum => Reduce::Sum,
            ReduceKind::Max => Reduce::Max,
            ReduceKind::Min => Reduce::Min,
            ReduceKind::Prod => Reduce::Prod,
        };
        if !(x.dtype.is_float() || x.dtype == DataType::Int32) {
            return unsupported(format!(
                "MIL {} takes float or int32 data, got {}",
                op.def().name,
                x.dtype.mil_name()
            ));
        }
        self.emit(node, |mil, name| {
            ops::reduce::reduce(mil, op, name, &x, axes, keep_dims)
        })
    }

    /// `layer_norm` over axes `axis..rank`. Constant scale and bias are materialized to the
    /// normalized shape; runtime ones are applied with `mul` / `add` afterwards.
    fn layer_norm(&mut self, node: &'g Node, l: &LayerNorm) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "layer_norm")?;
        let axes: Vec<usize> = (l.axis..x.rank()).collect();
        let norm_shape = x.shape[l.axis..].to_vec();
        let scale_id = self.id(node, 1)?;
        let bias_id = node.inputs.get(2).copied();
        let param = |cx: &mut Self, id: ValueId, what: &str| -> R<Option<Var>> {
            match cx.constant(id) {
                Some(t) => {
                    let full = edgeport_ir::eval::broadcast_to(&t.cast(DType::F32), &norm_shape)
                        .map_err(|e| invalid(e.to_string()))?;
                    Ok(Some(cx.const_tensor(
                        &format!("{}_{what}", node.name),
                        &full,
                        x.dtype,
                    )?))
                }
                None => Ok(None),
            }
        };
        let gamma = param(self, scale_id, "gamma")?;
        let beta = match bias_id {
            Some(b) => param(self, b, "beta")?,
            None => None,
        };
        let runtime_scale = gamma.is_none();
        let runtime_bias = bias_id.is_some() && beta.is_none();
        if !runtime_scale && !runtime_bias {
            return self.emit(node, |mil, name| {
                ops::layer_norm::layer_norm(
                    mil,
                    name,
                    &x,
                    &axes,
                    gamma.as_ref(),
                    beta.as_ref(),
                    l.epsilon,
                )
            });
        }
        // Runtime scale or bias: normalize (with whatever is constant only if nothing
        // runtime comes before it), then mul and add.
        let (g_in, b_in) = if runtime_scale {
            (None, None)
        } else {
            (gamma.as_ref(), None)
        };
        let normed = self.tmp(node, "normalized");
        let mut cur =
            ops::layer_norm::layer_norm(&mut self.mil, &normed, &x, &axes, g_in, b_in, l.epsilon)?;
        if runtime_scale {
            let s = self.operand(scale_id, x.dtype)?;
            let last = bias_id.is_none();
            if last {
                return self.emit(node, |mil, name| {
                    ops::binary::binary(mil, Binary::Mul, name, &cur, &s)
                });
            }
            let name = self.tmp(node, "scaled");
            cur = ops::binary::binary(&mut self.mil, Binary::Mul, &name, &cur, &s)?;
        }
        let Some(b) = bias_id else {
            return self.emit(node, |mil, name| ops::cast::identity(mil, name, &cur));
        };
        let bv = match beta {
            Some(bv) => bv,
            None => self.operand(b, x.dtype)?,
        };
        self.emit(node, |mil, name| {
            ops::binary::binary(mil, Binary::Add, name, &cur, &bv)
        })
    }

    fn pad(&mut self, node: &'g Node, pads: &[[usize; 2]], mode: PadMode) -> R {
        let x = self.input(node, 0)?;
        self.require_float(&x, "pad")?;
        if pads.len() != x.rank() {
            return Err(invalid(format!(
                "pad '{}': {} pad pairs for rank {}",
                node.name,
                pads.len(),
                x.rank()
            )));
        }
        let Some(first) = pads.iter().position(|p| *p != [0, 0]) else {
            return self.emit(node, |mil, name| ops::cast::identity(mil, name, &x));
        };
        let mil_mode = match mode {
            PadMode::Constant(v) => MilPad::Constant(v),
            PadMode::Reflect => MilPad::Reflect,
            PadMode::Edge => {
                if let Some(a) =
                    (0..pads.len()).find(|&a| pads[a][0] > x.shape[a] || pads[a][1] > x.shape[a])
                {
                    return unsupported(format!(
                        "edge padding of {:?} on an axis of {} (MIL replicate pads at most the axis size)",
                        pads[a], x.shape[a]
                    ));
                }
                MilPad::Replicate
            }
        };
        let tail = pads[first..].to_vec();
        self.emit(node, |mil, name| {
            ops::pad::pad(mil, name, &x, &tail, mil_mode)
        })
    }

    fn cast(&mut self, node: &'g Node, to: DType) -> R {
        let x = self.input(node, 0)?;
        let dtype = self.mil_dtype(to);
        if x.dtype == dtype {
            return self.emit(node, |mil, name| ops::cast::identity(mil, name, &x));
        }
        self.emit(node, |mil, name| ops::cast::cast(mil, name, &x, dtype))
    }
}

/// IR tensor data as const data of MIL type `dtype`.
fn convert(t: &Tensor, dtype: DataType) -> R<ConstData> {
    match dtype {
        DataType::Float16 | DataType::Float32 => Ok(ConstData::float(&t.to_f32_vec(), dtype)),
        DataType::Int32 => t
            .to_i64_vec()
            .into_iter()
            .map(|v| i32::try_from(v).map_err(|_| v))
            .collect::<Result<Vec<i32>, i64>>()
            .map(ConstData::I32)
            .or_else(|v| {
                unsupported(format!(
                    "integer constant {v} does not fit int32 (MIL has no int64 tensors)"
                ))
            }),
        DataType::Bool => Ok(ConstData::Bool(
            t.to_f32_vec().into_iter().map(|v| v != 0.0).collect(),
        )),
        DataType::Int8 => match t.cast(DType::I8).into_data() {
            TensorData::I8(v) => Ok(ConstData::I8(v)),
            _ => Err(invalid("int8 conversion")),
        },
        DataType::Uint8 => match t.cast(DType::U8).into_data() {
            TensorData::U8(v) => Ok(ConstData::U8(v)),
            _ => Err(invalid("uint8 conversion")),
        },
        d => Err(invalid(format!(
            "no constant conversion to {}",
            d.mil_name()
        ))),
    }
}

/// ONNX's source coordinate of output index `i` along one axis, as an exact fraction.
fn source_coord(coord: CoordMode, i: usize, input: usize, output: usize) -> (i128, i128) {
    let (i, inp, out) = (i as i128, input as i128, output as i128);
    match coord {
        CoordMode::HalfPixel => ((2 * i + 1) * inp - out, 2 * out),
        CoordMode::PytorchHalfPixel if out > 1 => ((2 * i + 1) * inp - out, 2 * out),
        CoordMode::PytorchHalfPixel => (0, 1),
        CoordMode::AlignCorners if out > 1 => (i * (inp - 1), out - 1),
        CoordMode::AlignCorners => (0, 1),
        CoordMode::Asymmetric => (i * inp, out),
    }
}

/// The input index ONNX nearest resize reads for output index `i` (clamped into the axis).
fn nearest_index(
    coord: CoordMode,
    mode: NearestMode,
    i: usize,
    input: usize,
    output: usize,
) -> usize {
    let (num, den) = source_coord(coord, i, input, output);
    let (fl, rem) = (num.div_euclid(den), num.rem_euclid(den));
    let j = match mode {
        NearestMode::Floor => fl,
        NearestMode::Ceil => fl + i128::from(rem != 0),
        NearestMode::RoundPreferFloor => fl + i128::from(2 * rem > den),
        NearestMode::RoundPreferCeil => fl + i128::from(2 * rem >= den),
    };
    j.clamp(0, input.max(1) as i128 - 1) as usize
}

/// True when resize_bilinear's `mode` samples exactly where ONNX linear resize with `coord`
/// does, along an axis of `input` -> `output` (both clamp the grid into the axis).
fn linear_mode_matches(coord: CoordMode, mode: SamplingMode, input: usize, output: usize) -> bool {
    if input == output {
        // Every mode and coordinate transform samples the identity grid (a single cell
        // clamps to it).
        return true;
    }
    match (coord, mode) {
        (CoordMode::HalfPixel, SamplingMode::UnalignCorners) => true,
        (CoordMode::PytorchHalfPixel, SamplingMode::UnalignCorners) => output > 1,
        (CoordMode::AlignCorners, SamplingMode::StrictAlignCorners) => output > 1,
        (CoordMode::Asymmetric, SamplingMode::Default) => output > 1,
        _ => false,
    }
}

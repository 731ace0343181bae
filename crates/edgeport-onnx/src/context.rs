//! The small API op importers use: read inputs and attributes of the current ONNX node,
//! emit IR nodes (folded at once when every input is constant), and bind ONNX outputs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use edgeport_ir::{eval, DType, Graph, Op, Tensor, TensorType, ValueId};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

use crate::error::{clean, OnnxError, Result, UnsupportedNode};
use crate::ops::common;

/// Model-level state shared by all nodes while importing one graph.
pub(crate) struct State {
    pub graph: Graph,
    /// ONNX value name -> IR value.
    pub values: HashMap<String, ValueId>,
    /// ONNX value names read by some node or listed as graph outputs.
    pub used: HashSet<String>,
    /// Default-domain opset of the model.
    pub opset: i64,
}

/// The node being imported, as op importers see it.
pub struct Ctx<'a> {
    st: &'a mut State,
    node: &'a NodeProto,
    name: String,
    bound: Vec<Option<ValueId>>,
    created: Vec<ValueId>,
}

/// What an attribute holds, for type checks and messages.
fn attr_type(a: &AttributeProto) -> AttributeType {
    AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined)
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(st: &'a mut State, node: &'a NodeProto, name: String) -> Ctx<'a> {
        let bound = vec![None; node.output.len()];
        Ctx { st, node, name, bound, created: Vec::new() }
    }

    /// The node's name (generated `<op>_<index>` when the model left it empty).
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn op_type(&self) -> &str {
        &self.node.op_type
    }
    /// The model's default-domain opset.
    pub fn opset(&self) -> i64 {
        self.st.opset
    }

    // ----- errors -------------------------------------------------------------------------

    /// This use of the op is not supported (collected with every other unsupported node).
    pub fn unsupported(&self, reason: impl Into<String>) -> OnnxError {
        OnnxError::UnsupportedNode(UnsupportedNode {
            name: clean(&self.name),
            op_type: clean(&self.node.op_type),
            reason: Some(clean(&reason.into())),
        })
    }

    /// The node is malformed (bad attribute, wrong input count, inconsistent shapes).
    pub fn invalid(&self, message: impl Into<String>) -> OnnxError {
        OnnxError::Node { node: clean(&self.name), op: clean(&self.node.op_type), message: clean(&message.into()) }
    }

    // ----- inputs -------------------------------------------------------------------------

    /// Number of input slots (including empty optional ones).
    pub fn num_inputs(&self) -> usize {
        self.node.input.len()
    }

    /// Input `i`, or None when absent or given as the empty name.
    pub fn opt_input(&self, i: usize) -> Result<Option<ValueId>> {
        match self.node.input.get(i) {
            None => Ok(None),
            Some(n) if n.is_empty() => Ok(None),
            Some(n) => self
                .st
                .values
                .get(n)
                .copied()
                .map(Some)
                .ok_or_else(|| self.invalid(format!("input '{n}' is not defined"))),
        }
    }

    /// Required input `i`.
    pub fn input(&self, i: usize) -> Result<ValueId> {
        self.opt_input(i)?.ok_or_else(|| self.invalid(format!("missing required input #{i}")))
    }

    /// All non-empty inputs, in order.
    pub fn inputs(&self) -> Result<Vec<ValueId>> {
        let mut v = Vec::with_capacity(self.num_inputs());
        for i in 0..self.num_inputs() {
            if let Some(id) = self.opt_input(i)? {
                v.push(id);
            }
        }
        Ok(v)
    }

    pub fn ty(&self, id: ValueId) -> TensorType {
        self.st.graph.ty(id).clone()
    }
    pub fn shape(&self, id: ValueId) -> Vec<usize> {
        self.st.graph.ty(id).shape.clone()
    }
    pub fn rank(&self, id: ValueId) -> usize {
        self.st.graph.ty(id).rank()
    }
    pub fn dtype(&self, id: ValueId) -> DType {
        self.st.graph.ty(id).dtype
    }
    /// The data of a constant value.
    pub fn const_of(&self, id: ValueId) -> Option<Arc<Tensor>> {
        self.st.graph.value(id).constant.clone()
    }
    pub fn is_const(&self, id: ValueId) -> bool {
        self.st.graph.is_const(id)
    }

    /// Input `i` as constant data; None when absent. Unsupported when it is not constant.
    pub fn opt_const_input(&self, i: usize, what: &str) -> Result<Option<Arc<Tensor>>> {
        match self.opt_input(i)? {
            None => Ok(None),
            Some(id) => match self.const_of(id) {
                Some(t) => Ok(Some(t)),
                None => Err(self.unsupported(format!("input '{what}' must be constant (it is computed at run time)"))),
            },
        }
    }

    /// Input `i` as constant data (required).
    pub fn const_input(&self, i: usize, what: &str) -> Result<Arc<Tensor>> {
        self.opt_const_input(i, what)?.ok_or_else(|| self.invalid(format!("missing required input '{what}'")))
    }

    /// Constant integer input (shapes, axes, pads), None when absent.
    pub fn opt_const_ints(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>> {
        let Some(t) = self.opt_const_input(i, what)? else { return Ok(None) };
        if !matches!(t.dtype(), DType::I64 | DType::I32 | DType::I8 | DType::U8) {
            return Err(self.invalid(format!("input '{what}' must be an integer tensor, got {}", t.dtype())));
        }
        Ok(Some(t.to_i64_vec()))
    }

    /// Constant scalar float input (clip bounds, pad value), None when absent.
    pub fn opt_const_scalar_f32(&self, i: usize, what: &str) -> Result<Option<f32>> {
        let Some(t) = self.opt_const_input(i, what)? else { return Ok(None) };
        match t.to_f32_vec().as_slice() {
            [] => Ok(None),
            [x] => Ok(Some(*x)),
            _ => Err(self.invalid(format!("input '{what}' must be a scalar, got shape {:?}", t.shape()))),
        }
    }

    // ----- attributes ---------------------------------------------------------------------

    pub fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    fn check_type(&self, a: &AttributeProto, want: AttributeType) -> Result<()> {
        let t = attr_type(a);
        if t == want || t == AttributeType::Undefined {
            Ok(())
        } else {
            Err(self.invalid(format!("attribute '{}' must be {}, got {}", a.name, want.as_str_name(), t.as_str_name())))
        }
    }

    pub fn attr_opt_i(&self, name: &str) -> Result<Option<i64>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Int)?;
                Ok(Some(a.i))
            }
        }
    }
    pub fn attr_i(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.attr_opt_i(name)?.unwrap_or(default))
    }
    pub fn attr_opt_f(&self, name: &str) -> Result<Option<f32>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Float)?;
                Ok(Some(a.f))
            }
        }
    }
    pub fn attr_f(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.attr_opt_f(name)?.unwrap_or(default))
    }
    pub fn attr_s(&self, name: &str, default: &str) -> Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(a) => {
                self.check_type(a, AttributeType::String)?;
                Ok(String::from_utf8_lossy(&a.s).into_owned())
            }
        }
    }
    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Ints)?;
                Ok(Some(a.ints.clone()))
            }
        }
    }
    pub fn attr_floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Floats)?;
                Ok(Some(a.floats.clone()))
            }
        }
    }
    pub fn attr_tensor(&self, name: &str) -> Result<Option<&'a TensorProto>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Tensor)?;
                a.t.as_ref().map(Some).ok_or_else(|| self.invalid(format!("attribute '{name}' holds no tensor")))
            }
        }
    }

    // ----- emitting -----------------------------------------------------------------------

    fn node_name(&self, suffix: &str) -> String {
        if suffix.is_empty() { self.name.clone() } else { format!("{}/{suffix}", self.name) }
    }

    /// Emit one IR node. The node carrying the ONNX node's own name uses `suffix == ""`;
    /// extra nodes from lowering pass a short suffix. When every input is constant the op is
    /// evaluated and its results become constants instead of a node.
    pub fn emit(&mut self, suffix: &str, op: Op, inputs: Vec<ValueId>) -> Result<Vec<ValueId>> {
        let name = self.node_name(suffix);
        if !inputs.is_empty() && inputs.iter().all(|&i| self.st.graph.is_const(i))
            && let Some(outs) = self.try_fold(&op, &inputs) {
                let mut ids = Vec::with_capacity(outs.len());
                for (k, t) in outs.into_iter().enumerate() {
                    let vname = if k == 0 { name.clone() } else { format!("{name}:{k}") };
                    let id = self.st.graph.add_const(&vname, t);
                    self.created.push(id);
                    ids.push(id);
                }
                return Ok(ids);
            }
        let source_op = self.node.op_type.clone();
        let outs = self.st.graph.add_node(&name, &source_op, op, inputs, &[])?;
        self.created.extend(outs.iter().copied());
        Ok(outs)
    }

    fn try_fold(&self, op: &Op, inputs: &[ValueId]) -> Option<Vec<Tensor>> {
        let tensors: Vec<Arc<Tensor>> = inputs.iter().map(|&i| self.const_of(i)).collect::<Option<_>>()?;
        let refs: Vec<&Tensor> = tensors.iter().map(|t| t.as_ref()).collect();
        match op {
            // The IR's generic concat evaluation is slow on large float tensors.
            Op::Concat { axis } => return common::concat_tensors(&refs, *axis),
            // Keep import time bounded: big constant products stay nodes for later passes.
            Op::MatMul => {
                let cost = refs.iter().try_fold(1usize, |acc, t| acc.checked_mul(t.len().max(1)));
                if cost.is_none_or(|c| c > 1 << 26) {
                    return None;
                }
            }
            _ => {}
        }
        match eval::eval(op, &refs) {
            Ok(Some(outs)) => Some(outs),
            _ => None,
        }
    }

    /// Emit a single-output node.
    pub fn emit1(&mut self, suffix: &str, op: Op, inputs: Vec<ValueId>) -> Result<ValueId> {
        let outs = self.emit(suffix, op, inputs)?;
        outs.first().copied().ok_or_else(|| self.invalid("internal: emitted op has no output"))
    }

    /// Add a constant value named after this node.
    pub fn constant(&mut self, suffix: &str, t: Tensor) -> ValueId {
        let name = self.node_name(if suffix.is_empty() { "const" } else { suffix });
        let id = self.st.graph.add_const(&name, t);
        self.created.push(id);
        id
    }

    // ----- outputs ------------------------------------------------------------------------

    pub fn num_outputs(&self) -> usize {
        self.node.output.len()
    }

    /// The ONNX name of output `i` (empty when absent).
    pub fn output_name(&self, i: usize) -> String {
        self.node.output.get(i).cloned().unwrap_or_default()
    }

    /// True when output `i` exists and some node or the graph reads it.
    pub fn output_used(&self, i: usize) -> bool {
        self.node.output.get(i).is_some_and(|n| !n.is_empty() && self.st.used.contains(n))
    }

    /// Bind ONNX output `i` to `id` (an emitted value, a constant, or an input when the op
    /// is an alias such as Identity).
    pub fn set_output(&mut self, i: usize, id: ValueId) -> Result<()> {
        match self.bound.get_mut(i) {
            Some(slot) => {
                *slot = Some(id);
                Ok(())
            }
            None => {
                if i == 0 {
                    Err(self.invalid("node has no outputs"))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Record the bound outputs in the value table, naming values created by this node after
    /// their ONNX outputs. Errors when a used output was left unbound.
    pub(crate) fn finish(self) -> Result<()> {
        let Ctx { st, node, name, bound, created } = self;
        let mut renamed: HashSet<ValueId> = HashSet::new();
        for (i, out) in node.output.iter().enumerate() {
            if out.is_empty() {
                continue;
            }
            match bound.get(i).copied().flatten() {
                Some(id) => {
                    if created.contains(&id) && renamed.insert(id) && st.graph.value(id).name != *out {
                        st.graph.rename_value(id, out);
                    }
                    st.values.insert(out.clone(), id);
                }
                None if st.used.contains(out) => {
                    return Err(OnnxError::UnsupportedNode(UnsupportedNode {
                        name: clean(&name),
                        op_type: clean(&node.op_type),
                        reason: Some(clean(&format!("output #{i} ('{out}') is not supported"))),
                    }));
                }
                None => {}
            }
        }
        Ok(())
    }
}

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::{limits, IrError, IrResult, Op, QuantParams, Tensor, TensorType};

/// Index of a value in its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub u32);

/// Index of a node in `Graph::nodes`; only stable until the node list is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A tensor flowing through the graph. Constants carry their data.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub ty: TensorType,
    pub constant: Option<Arc<Tensor>>,
    /// Set when the artifact stores this activation as int8 (full-integer quantization).
    pub quant: Option<QuantParams>,
}

/// One operation. `name` is the source node's name; `source_op` the source op type
/// (e.g. the ONNX op it came from), kept for reports and error messages.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub source_op: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// Computes on int8 tensors (full-integer quantization): its activation inputs and
    /// outputs carry `QuantParams`. A float node may still read or write quantized values;
    /// the artifact then dequantizes or quantizes at its edges.
    pub int8: bool,
}

/// A static-shaped dataflow graph. Invariant (after `toposort`): every node's inputs are graph
/// inputs, constants, or outputs of earlier nodes.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub name: String,
    values: Vec<Value>,
    names: BTreeSet<String>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph { name: name.into(), ..Graph::default() }
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0 as usize]
    }
    pub fn ty(&self, id: ValueId) -> &TensorType {
        &self.values[id.0 as usize].ty
    }
    pub fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.values[id.0 as usize].constant.as_deref()
    }
    pub fn is_const(&self, id: ValueId) -> bool {
        self.values[id.0 as usize].constant.is_some()
    }
    pub fn value_ids(&self) -> impl Iterator<Item = ValueId> {
        (0..self.values.len() as u32).map(ValueId)
    }

    /// A name not used yet in this graph, derived from `base`.
    pub fn unique_name(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "v" } else { base };
        if !self.names.contains(base) {
            return base.to_string();
        }
        (1..)
            .map(|i| format!("{base}_{i}"))
            .find(|n| !self.names.contains(n))
            .unwrap_or_default()
    }

    /// Add a non-constant value. The name is made unique.
    pub fn add_value(&mut self, name: &str, ty: TensorType) -> IrResult<ValueId> {
        limits::checked_elements(name, &ty.shape)?;
        let name = self.unique_name(name);
        self.names.insert(name.clone());
        self.values.push(Value { name, ty, constant: None, quant: None });
        Ok(ValueId(self.values.len() as u32 - 1))
    }

    /// Add a constant value. The name is made unique.
    pub fn add_const(&mut self, name: &str, t: Tensor) -> ValueId {
        let name = self.unique_name(name);
        self.names.insert(name.clone());
        self.values.push(Value { name, ty: t.ty(), constant: Some(Arc::new(t)), quant: None });
        ValueId(self.values.len() as u32 - 1)
    }

    /// Turn an existing value into a constant (after folding its producer away).
    pub fn set_const(&mut self, id: ValueId, t: Tensor) {
        let v = &mut self.values[id.0 as usize];
        v.ty = t.ty();
        v.constant = Some(Arc::new(t));
    }

    /// Mark a value as stored in int8 with `q` (or as float with `None`).
    pub fn set_quant(&mut self, id: ValueId, q: Option<QuantParams>) {
        self.values[id.0 as usize].quant = q;
    }

    /// Rename a value (e.g. to keep a model output's name on the value that now produces it).
    pub fn rename_value(&mut self, id: ValueId, name: &str) {
        let old = std::mem::take(&mut self.values[id.0 as usize].name);
        self.names.remove(&old);
        let name = self.unique_name(name);
        self.names.insert(name.clone());
        self.values[id.0 as usize].name = name;
    }

    /// Infer output types for `op` applied to `inputs`.
    pub fn infer(&self, name: &str, op: &Op, inputs: &[ValueId]) -> IrResult<Vec<TensorType>> {
        let tys: Vec<&TensorType> = inputs.iter().map(|&i| self.ty(i)).collect();
        let consts: Vec<Option<&Tensor>> = inputs.iter().map(|&i| self.constant(i)).collect();
        op.infer(&tys, &consts).map_err(|e| e.at_node(name))
    }

    /// Append a node, inferring its output types; outputs are named `output_names` (or after
    /// the node). Constant inputs are not folded here: see `eval::try_fold`.
    pub fn add_node(
        &mut self,
        name: &str,
        source_op: &str,
        op: Op,
        inputs: Vec<ValueId>,
        output_names: &[&str],
    ) -> IrResult<Vec<ValueId>> {
        if self.nodes.len() >= limits::MAX_NODES {
            return Err(IrError::Limit {
                value: name.to_string(),
                message: format!("graph exceeds the limit of {} nodes", limits::MAX_NODES),
            });
        }
        let tys = self.infer(name, &op, &inputs)?;
        let mut outputs = Vec::with_capacity(tys.len());
        for (i, ty) in tys.into_iter().enumerate() {
            let vname = match output_names.get(i) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ if i == 0 => name.to_string(),
                _ => format!("{name}:{i}"),
            };
            outputs.push(self.add_value(&vname, ty)?);
        }
        self.nodes.push(Node {
            name: name.to_string(),
            source_op: source_op.to_string(),
            op,
            inputs,
            outputs: outputs.clone(),
            int8: false,
        });
        Ok(outputs)
    }

    /// Convenience for single-output nodes.
    pub fn add_node1(&mut self, name: &str, source_op: &str, op: Op, inputs: Vec<ValueId>) -> IrResult<ValueId> {
        let outs = self.add_node(name, source_op, op, inputs, &[])?;
        outs.first().copied().ok_or_else(|| IrError::Invalid(format!("node '{name}' has no output")))
    }

    /// Append a node whose output values already exist (rewrites that keep a value's id so its
    /// consumers stay wired). The caller guarantees the output types; `validate` re-checks.
    pub fn push_node(&mut self, node: Node) {
        self.nodes.push(node);
    }

    /// Node that produces `id`, if any (linear scan; use `producers` in loops).
    pub fn producer_of(&self, id: ValueId) -> Option<usize> {
        self.nodes.iter().position(|n| n.outputs.contains(&id))
    }

    /// For each value, the node producing it (None for inputs and constants).
    pub fn producers(&self) -> Vec<Option<usize>> {
        let mut p = vec![None; self.values.len()];
        for (n, node) in self.nodes.iter().enumerate() {
            for &o in &node.outputs {
                p[o.0 as usize] = Some(n);
            }
        }
        p
    }

    /// For each value, the indices of the nodes reading it (in node order, repeated per use).
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut c = vec![Vec::new(); self.values.len()];
        for (n, node) in self.nodes.iter().enumerate() {
            for &i in &node.inputs {
                c[i.0 as usize].push(n);
            }
        }
        c
    }

    /// Point every use of `old` (node inputs and graph outputs) at `new`.
    pub fn replace_uses(&mut self, old: ValueId, new: ValueId) {
        for node in &mut self.nodes {
            for i in &mut node.inputs {
                if *i == old {
                    *i = new;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == old {
                *o = new;
            }
        }
    }

    /// Drop nodes whose outputs do not reach a graph output (in any node order).
    pub fn remove_dead(&mut self) {
        let producers = self.producers();
        let mut keep = vec![false; self.nodes.len()];
        let mut work: Vec<ValueId> = self.outputs.clone();
        while let Some(v) = work.pop() {
            if let Some(n) = producers[v.0 as usize]
                && !keep[n]
            {
                keep[n] = true;
                work.extend_from_slice(&self.nodes[n].inputs);
            }
        }
        let mut k = keep.into_iter();
        self.nodes.retain(|_| k.next().unwrap_or(false));
    }

    /// Order nodes so that producers come before consumers (stable for already-ordered graphs).
    pub fn toposort(&mut self) -> IrResult<()> {
        let producers = self.producers();
        let n = self.nodes.len();
        // 0 = unvisited, 1 = on stack, 2 = done
        let mut state = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let inputs = &self.nodes[node].inputs;
                if *next < inputs.len() {
                    let input = inputs[*next];
                    *next += 1;
                    if let Some(p) = producers[input.0 as usize] {
                        match state[p] {
                            0 => {
                                state[p] = 1;
                                stack.push((p, 0));
                            }
                            1 => return Err(IrError::Cycle { node: self.nodes[p].name.clone() }),
                            _ => {}
                        }
                    }
                } else {
                    state[node] = 2;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        let mut slots: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order.into_iter().filter_map(|i| slots[i].take()).collect();
        Ok(())
    }

    /// Re-run shape inference over every node and check it agrees with the stored types.
    /// Passes call this in tests to prove they kept the graph well-typed.
    pub fn validate(&self) -> IrResult<()> {
        let mut defined = vec![false; self.values.len()];
        for &i in &self.inputs {
            defined[i.0 as usize] = true;
        }
        for (i, v) in self.values.iter().enumerate() {
            if v.constant.is_some() {
                defined[i] = true;
            }
        }
        for node in &self.nodes {
            for &i in &node.inputs {
                if !defined[i.0 as usize] {
                    return Err(IrError::Invalid(format!(
                        "node '{}' reads '{}' before it is defined",
                        node.name,
                        self.value(i).name
                    )));
                }
            }
            let tys = self.infer(&node.name, &node.op, &node.inputs)?;
            if tys.len() != node.outputs.len() {
                return Err(IrError::Invalid(format!("node '{}' output count mismatch", node.name)));
            }
            for (t, &o) in tys.iter().zip(&node.outputs) {
                if t != self.ty(o) {
                    return Err(IrError::Invalid(format!(
                        "node '{}': output '{}' is typed {:?} but infers to {:?}",
                        node.name,
                        self.value(o).name,
                        self.ty(o),
                        t
                    )));
                }
                defined[o.0 as usize] = true;
            }
        }
        for &o in &self.outputs {
            if !defined[o.0 as usize] {
                return Err(IrError::Invalid(format!("graph output '{}' is never produced", self.value(o).name)));
            }
        }
        Ok(())
    }
}

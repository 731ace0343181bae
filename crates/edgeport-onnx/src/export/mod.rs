//! edgeport IR -> ONNX (default domain, opset 21, IR version 10), for ONNX Runtime (Mobile).
//!
//! The exporter writes the optimized NCHW graph as it is: every IR node becomes the standard
//! ONNX op of the same semantics (`ops.rs`, the one match over the IR op set), keeping its
//! name; values keep their names, dtypes and static shapes (graph inputs, outputs, and every
//! intermediate as `value_info`); constants become initializers, and so do the attributes
//! ONNX takes as inputs since newer opsets (Reshape shape, Slice bounds, Pad pads, Clip bounds,
//! Split sizes, Reduce axes, Resize sizes). Quantization is written in the QDQ format of
//! onnxruntime's `quantize_static` (`qdq.rs`): int8 weights as int8 initializers behind a
//! per-axis DequantizeLinear, int8 activations as QuantizeLinear -> DequantizeLinear pairs.
//!
//! The output is deterministic: everything is emitted in graph order or value order, and
//! generated names are derived from the IR's names. An op that cannot be written is an
//! [`ExportError`] naming the node and its op; nothing here panics on graph data.

mod ops;
mod proto;
mod qdq;

use std::collections::BTreeSet;

use edgeport_ir::{Graph, Tensor, TensorType, ValueId};
use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};

/// The default-domain opset of exported models.
pub const OPSET: i64 = 21;
/// The ONNX IR version of exported models (the one that goes with opset 21).
pub const IR_VERSION: i64 = 10;

/// Caller choices for an export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {}

/// Errors of the ONNX exporter.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ExportError {
    #[error("node '{node}' ({op}): {message}")]
    Node {
        node: String,
        op: String,
        message: String,
    },
}

impl ExportError {
    pub(crate) fn node(node: &str, op: &str, message: impl Into<String>) -> ExportError {
        ExportError::Node {
            node: node.to_string(),
            op: op.to_string(),
            message: message.into(),
        }
    }
}

/// Write `graph` as an ONNX model (protobuf bytes).
pub fn export(graph: &Graph, _opts: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    let mut w = Writer::new(graph);
    qdq::constants(&mut w);

    let mut inputs = Vec::with_capacity(graph.inputs.len());
    for &i in &graph.inputs {
        let v = graph.value(i);
        inputs.push(proto::value_info(&v.name, &v.ty));
        if let Some(q) = v.quant {
            qdq::activation(&mut w, i, q, &v.name)?;
        }
    }

    for (index, node) in graph.nodes.iter().enumerate() {
        let ins: Vec<String> = node.inputs.iter().map(|&i| w.read(i).to_string()).collect();
        let outs: Vec<(String, TensorType)> = node
            .outputs
            .iter()
            .map(|&o| (w.output_name(o), graph.ty(o).clone()))
            .collect();
        let name = if node.name.is_empty() {
            format!("{}_{index}", node.op.name())
        } else {
            node.name.clone()
        };
        ops::emit(&mut w, node, &name, ins, &outs)?;
        for (&o, (written, _)) in node.outputs.iter().zip(&outs) {
            w.reads[o.0 as usize] = written.clone();
            if let Some(q) = graph.value(o).quant {
                qdq::activation(&mut w, o, q, &name)?;
            }
        }
    }

    // A graph output no node writes (a constant) is copied out by an Identity.
    for &o in &graph.outputs {
        if graph.is_const(o) {
            let v = graph.value(o);
            w.node(
                &v.name,
                "Identity",
                vec![w.read(o).to_string()],
                &[(v.name.clone(), v.ty.clone())],
                vec![],
            );
        }
    }

    let outputs: Vec<ValueInfoProto> = graph
        .outputs
        .iter()
        .map(|&o| proto::value_info(&graph.value(o).name, graph.ty(o)))
        .collect();
    let Writer {
        nodes,
        initializers,
        value_info,
        ..
    } = w;
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "edgeport".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            name: if graph.name.is_empty() {
                "edgeport".into()
            } else {
                graph.name.clone()
            },
            node: nodes,
            initializer: initializers,
            input: inputs,
            output: outputs,
            value_info,
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    };
    Ok(model.encode_to_vec())
}

/// The model being written: names taken so far, and what has been emitted.
pub(crate) struct Writer<'g> {
    g: &'g Graph,
    /// Every tensor name in use (the IR's value names, then the generated ones).
    names: BTreeSet<String>,
    node_names: BTreeSet<String>,
    /// The graph outputs' names (they get no `value_info`).
    graph_outputs: BTreeSet<String>,
    /// Per value: the tensor its consumers read (the dequantized one after a QDQ pair).
    reads: Vec<String>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    value_info: Vec<ValueInfoProto>,
}

impl<'g> Writer<'g> {
    fn new(g: &'g Graph) -> Writer<'g> {
        Writer {
            g,
            names: g.values().iter().map(|v| v.name.clone()).collect(),
            node_names: BTreeSet::new(),
            graph_outputs: g.outputs.iter().map(|&o| g.value(o).name.clone()).collect(),
            reads: g.values().iter().map(|v| v.name.clone()).collect(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            value_info: Vec::new(),
        }
    }

    pub(crate) fn graph(&self) -> &'g Graph {
        self.g
    }

    /// The tensor consumers of `v` read.
    pub(crate) fn read(&self, v: ValueId) -> &str {
        self.reads.get(v.0 as usize).map_or("", String::as_str)
    }

    /// The tensor a node writes for its output `v`: the value's name, except for a quantized
    /// graph output, whose name goes to the DequantizeLinear after it (so it stays float).
    fn output_name(&mut self, v: ValueId) -> String {
        let value = self.g.value(v);
        if value.quant.is_some() && self.g.outputs.contains(&v) {
            self.fresh(&format!("{}_float", value.name))
        } else {
            value.name.clone()
        }
    }

    /// A tensor name not used yet, derived from `base`.
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let name = if self.names.contains(base) {
            (1..)
                .map(|i| format!("{base}_{i}"))
                .find(|n| !self.names.contains(n))
                .unwrap_or_default()
        } else {
            base.to_string()
        };
        self.names.insert(name.clone());
        name
    }

    /// Add `t` as an initializer named after `base`; returns its name.
    pub(crate) fn initializer(&mut self, base: &str, t: &Tensor) -> String {
        let name = self.fresh(base);
        self.initializers.push(proto::tensor(&name, t));
        name
    }

    /// Add an initializer under a name already reserved (an IR constant's own name).
    pub(crate) fn named_initializer(&mut self, name: &str, t: &Tensor) {
        self.initializers.push(proto::tensor(name, t));
    }

    /// Append a node; its outputs get `value_info` unless they are graph outputs. A node
    /// name already taken gets a numeric suffix.
    pub(crate) fn node(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: Vec<String>,
        outputs: &[(String, TensorType)],
        attribute: Vec<AttributeProto>,
    ) {
        let unique = if self.node_names.contains(name) {
            (1..)
                .map(|i| format!("{name}_{i}"))
                .find(|n| !self.node_names.contains(n))
                .unwrap_or_default()
        } else {
            name.to_string()
        };
        self.node_names.insert(unique.clone());
        for (o, ty) in outputs {
            if !self.graph_outputs.contains(o) {
                self.value_info.push(proto::value_info(o, ty));
            }
        }
        self.nodes.push(NodeProto {
            name: unique,
            op_type: op_type.to_string(),
            input: inputs,
            output: outputs.iter().map(|(o, _)| o.clone()).collect(),
            attribute,
            ..NodeProto::default()
        });
    }
}

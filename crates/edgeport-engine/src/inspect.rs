//! `inspect`: what a model is and what it costs, computed on the imported graph (shapes
//! resolved, constants folded, before any optimization). Schema documented in docs/inspect.md.

use std::collections::BTreeMap;

use edgeport_ir::{Graph, ValueId};
use serde::Serialize;

pub const SCHEMA: &str = "edgeport.inspect/1";

#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub schema: &'static str,
    pub model: ModelSummary,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub op_histogram: BTreeMap<String, usize>,
    pub params: Params,
    pub nodes: Vec<NodeStats>,
    pub total: Totals,
    pub peak_activation_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub ir_version: i64,
    pub opsets: BTreeMap<String, i64>,
    pub producer: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub count: usize,
    pub bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStats {
    pub name: String,
    pub op: String,
    pub macs: u64,
    pub flops: u64,
    pub output_shapes: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub macs: u64,
    pub flops: u64,
}

fn tensor_info(g: &Graph, id: ValueId) -> TensorInfo {
    let v = g.value(id);
    TensorInfo { name: v.name.clone(), dtype: v.ty.dtype.name(), shape: v.ty.shape.clone() }
}

pub(crate) fn report(imported: &edgeport_onnx::Imported, sha256: String) -> InspectReport {
    let g = &imported.graph;
    let info = &imported.info;
    let nodes = node_stats(g);
    let total = Totals { macs: nodes.iter().map(|n| n.macs).sum(), flops: nodes.iter().map(|n| n.flops).sum() };
    InspectReport {
        schema: SCHEMA,
        model: ModelSummary {
            ir_version: info.ir_version,
            opsets: info.opsets.clone(),
            producer: info.producer.clone(),
            sha256,
        },
        inputs: g.inputs.iter().map(|&i| tensor_info(g, i)).collect(),
        outputs: g.outputs.iter().map(|&o| tensor_info(g, o)).collect(),
        op_histogram: info.op_histogram.clone(),
        params: Params { count: info.params, bytes: info.param_bytes },
        nodes,
        total,
        peak_activation_bytes: peak_activation_bytes(g),
    }
}

/// One entry per source node: the importer names nodes it adds while lowering one ONNX node
/// `<onnx name>/<suffix>` with the same source op, and those are summed into their origin.
fn node_stats(g: &Graph) -> Vec<NodeStats> {
    let own: BTreeMap<(&str, &str), usize> =
        g.nodes.iter().enumerate().map(|(i, n)| ((n.name.as_str(), n.source_op.as_str()), i)).collect();
    let mut stats: Vec<NodeStats> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for n in &g.nodes {
        let ins: Vec<_> = n.inputs.iter().map(|&i| g.ty(i)).collect();
        let outs: Vec<_> = n.outputs.iter().map(|&o| g.ty(o)).collect();
        let cost = n.op.cost(&ins, &outs);
        let origin = match n.name.rsplit_once('/') {
            Some((prefix, _)) if own.contains_key(&(prefix, n.source_op.as_str())) => prefix,
            _ => n.name.as_str(),
        };
        let slot = *index.entry(origin.to_string()).or_insert_with(|| {
            stats.push(NodeStats { name: origin.to_string(), op: n.source_op.clone(), macs: 0, flops: 0, output_shapes: Vec::new() });
            stats.len() - 1
        });
        let entry = &mut stats[slot];
        entry.macs += cost.macs;
        entry.flops += cost.flops;
        if n.name == origin {
            entry.output_shapes = outs.iter().map(|t| t.shape.clone()).collect();
        }
    }
    stats
}

/// Peak of the summed sizes of live activations when nodes run in graph order: a value is live
/// from its producer (or the start, for inputs) to its last reader; outputs live to the end.
pub fn peak_activation_bytes(g: &Graph) -> u64 {
    let n = g.values().len();
    let mut last_use = vec![None; n];
    for (i, node) in g.nodes.iter().enumerate() {
        for &v in &node.inputs {
            last_use[v.0 as usize] = Some(i);
        }
    }
    for &o in &g.outputs {
        last_use[o.0 as usize] = Some(usize::MAX);
    }
    let bytes = |v: ValueId| g.ty(v).bytes() as u64;
    let mut live: u64 = g.inputs.iter().map(|&i| bytes(i)).sum();
    let mut peak = live;
    for (i, node) in g.nodes.iter().enumerate() {
        live += node.outputs.iter().map(|&o| bytes(o)).sum::<u64>();
        peak = peak.max(live);
        let mut freed: Vec<ValueId> = node
            .inputs
            .iter()
            .chain(&node.outputs)
            .copied()
            .filter(|&v| !g.is_const(v) && last_use[v.0 as usize].is_none_or(|l| l == i))
            .collect();
        freed.sort();
        freed.dedup();
        live -= freed.iter().map(|&v| bytes(v)).sum::<u64>();
    }
    peak
}

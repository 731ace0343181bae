//! The import driver: decode, check the model, order the source nodes, run one op importer
//! per node, then fix up graph outputs and check the result.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use edgeport_ir::{limits, Graph, Op, TensorType, ValueId};
use prost::Message;
use tract_onnx::pb::type_proto;
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};

use crate::context::{Ctx, State};
use crate::error::{clean, ErrorKind, OnnxError, Result, UnsupportedNode};
use crate::tensor::{dtype_of, dtype_from_code, is_external, proto_elements, tensor_from_proto};
use crate::{ops, ImportOptions, Imported, ModelInfo};

/// Supported range of ONNX IR versions.
pub const IR_VERSIONS: std::ops::RangeInclusive<i64> = 3..=10;
/// Supported range of default-domain opsets.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;

fn is_default_domain(d: &str) -> bool {
    d.is_empty() || d == "ai.onnx"
}

/// The op type as shown in reports: domain-qualified outside the default domain.
fn qualified_op(n: &NodeProto) -> String {
    if is_default_domain(&n.domain) { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) }
}

/// Name of node `i`, generated as `<op>_<index>` when the model left it empty.
fn node_name(n: &NodeProto, i: usize) -> String {
    if n.name.is_empty() { format!("{}_{i}", n.op_type) } else { n.name.clone() }
}

pub(crate) fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported> {
    if bytes.is_empty() {
        return Err(OnnxError::Decode("the input is empty".into()));
    }
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(clean(&format!("protobuf decode failed: {e}"))))?;
    let Some(g) = model.graph.as_ref() else { return Err(OnnxError::NoGraph) };
    if !IR_VERSIONS.contains(&model.ir_version) {
        return Err(OnnxError::IrVersion(model.ir_version));
    }
    let mut opsets = BTreeMap::new();
    for o in &model.opset_import {
        let key = if is_default_domain(&o.domain) { "ai.onnx".to_string() } else { clean(&o.domain) };
        opsets.insert(key, o.version);
    }
    let opset = *opsets.get("ai.onnx").ok_or(OnnxError::NoDefaultOpset)?;
    if !OPSETS.contains(&opset) {
        return Err(OnnxError::Opset(opset));
    }
    if g.node.is_empty() {
        return Err(OnnxError::EmptyGraph("nodes"));
    }
    if g.output.is_empty() {
        return Err(OnnxError::EmptyGraph("outputs"));
    }
    let info = model_info(&model, g, opsets);
    check_external(g)?;
    if let Some(s) = g.sparse_initializer.first() {
        let name = s.values.as_ref().map(|v| v.name.as_str()).unwrap_or("");
        return Err(OnnxError::Tensor { name: clean(name), message: "sparse initializers are not supported".into() });
    }

    // Constants first: initializers (which also shadow graph inputs of the same name).
    let mut graph = Graph::new(clean(&g.name));
    let mut values: HashMap<String, ValueId> = HashMap::new();
    for t in &g.initializer {
        let tensor = tensor_from_proto(t, &t.name)?;
        let id = graph.add_const(&t.name, tensor);
        values.insert(t.name.clone(), id);
    }

    let order = source_order(g, &values)?;

    // Every node whose op type has no importer, reported before anything shape-related.
    let mut unsupported: Vec<(usize, UnsupportedNode)> = Vec::new();
    for (i, n) in g.node.iter().enumerate() {
        if !is_default_domain(&n.domain) || ops::lookup(&n.op_type).is_none() {
            unsupported.push((i, UnsupportedNode { name: clean(&node_name(n, i)), op_type: clean(&qualified_op(n)), reason: None }));
        }
    }

    let inputs = match graph_inputs(g, opts, &values) {
        Ok(v) => v,
        Err(e) if !unsupported.is_empty() && e.kind() != ErrorKind::Limit => {
            return Err(OnnxError::UnsupportedOps(unsupported.into_iter().map(|(_, u)| u).collect()));
        }
        Err(e) => return Err(e),
    };
    for (name, ty) in inputs {
        let id = graph.add_value(&name, ty)?;
        graph.inputs.push(id);
        values.insert(name, id);
    }

    let mut used: HashSet<String> = HashSet::new();
    for n in &g.node {
        used.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
    }
    used.extend(g.output.iter().map(|o| o.name.clone()));

    let mut st = State { graph, values, used, opset };
    let pre: BTreeSet<usize> = unsupported.iter().map(|(i, _)| *i).collect();
    let mut poisoned: HashSet<&str> = HashSet::new();
    for &i in &order {
        let Some(node) = g.node.get(i) else { continue };
        if pre.contains(&i) || node.input.iter().any(|s| poisoned.contains(s.as_str())) {
            // Already listed, or downstream of a node that is: nothing to convert.
            poisoned.extend(node.output.iter().map(|s| s.as_str()));
            continue;
        }
        let Some(f) = ops::lookup(&node.op_type) else { continue };
        let mut ctx = Ctx::new(&mut st, node, node_name(node, i));
        match f(&mut ctx).and_then(|()| ctx.finish()) {
            Ok(()) => {}
            Err(OnnxError::UnsupportedNode(u)) => {
                unsupported.push((i, u));
                poisoned.extend(node.output.iter().map(|s| s.as_str()));
            }
            Err(e) => return Err(e),
        }
    }
    if !unsupported.is_empty() {
        unsupported.sort_by_key(|(i, _)| *i);
        return Err(OnnxError::UnsupportedOps(unsupported.into_iter().map(|(_, u)| u).collect()));
    }

    let State { mut graph, values, .. } = st;
    bind_outputs(&mut graph, g, &values)?;
    graph.remove_dead();
    graph.toposort()?;
    graph.validate()?;
    Ok(Imported { graph, info })
}

fn model_info(model: &ModelProto, g: &GraphProto, opsets: BTreeMap<String, i64>) -> ModelInfo {
    let mut op_histogram = BTreeMap::new();
    for n in &g.node {
        *op_histogram.entry(clean(&qualified_op(n))).or_insert(0usize) += 1;
    }
    // (elements, bytes) of one floating-point tensor.
    let float_size = |t: &TensorProto| -> (usize, usize) {
        match (proto_elements(t), dtype_from_code(t.data_type)) {
            (Some(n), Some(dt)) if dt.is_float() => (n, n.saturating_mul(dt.size_bytes())),
            _ => (0, 0),
        }
    };
    let mut sizes: Vec<(usize, usize)> = g.initializer.iter().map(float_size).collect();
    for n in g.node.iter().filter(|n| n.op_type == "Constant" && is_default_domain(&n.domain)) {
        for a in &n.attribute {
            match a.name.as_str() {
                "value" => sizes.extend(a.t.iter().map(float_size)),
                "value_float" => sizes.push((1, 4)),
                "value_floats" => sizes.push((a.floats.len(), a.floats.len().saturating_mul(4))),
                _ => {}
            }
        }
    }
    let params = sizes.iter().fold(0usize, |acc, s| acc.saturating_add(s.0));
    let param_bytes = sizes.iter().fold(0usize, |acc, s| acc.saturating_add(s.1));
    let producer = format!("{} {}", model.producer_name, model.producer_version).trim().to_string();
    ModelInfo { ir_version: model.ir_version, opsets, producer: clean(&producer), op_histogram, params, param_bytes }
}

/// Reject tensors whose data lives outside the file, naming the first one.
fn check_external(g: &GraphProto) -> Result<()> {
    for t in &g.initializer {
        if is_external(t) {
            return Err(OnnxError::ExternalData(clean(&t.name)));
        }
    }
    for n in &g.node {
        for a in &n.attribute {
            for t in a.t.iter().chain(&a.tensors) {
                if is_external(t) {
                    let name = if t.name.is_empty() { n.output.first().cloned().unwrap_or_default() } else { t.name.clone() };
                    return Err(OnnxError::ExternalData(clean(&name)));
                }
            }
        }
    }
    Ok(())
}

/// Topological order of the source nodes (ONNX allows any order), keeping the file order
/// among ready nodes. Errors on undefined inputs, values produced twice, and cycles.
fn source_order(g: &GraphProto, consts: &HashMap<String, ValueId>) -> Result<Vec<usize>> {
    let n = g.node.len();
    let graph_inputs: HashSet<&str> = g.input.iter().map(|v| v.name.as_str()).collect();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in g.node.iter().enumerate() {
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o.as_str(), i).is_some() || consts.contains_key(o) || graph_inputs.contains(o.as_str()) {
                return Err(OnnxError::Graph(format!("value '{}' is produced more than once", clean(o))));
            }
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in g.node.iter().enumerate() {
        for inp in node.input.iter().filter(|s| !s.is_empty()) {
            match producer.get(inp.as_str()) {
                Some(&p) => {
                    deps[i].push(p);
                    users[p].push(i);
                }
                None if consts.contains_key(inp) || graph_inputs.contains(inp.as_str()) => {}
                None => {
                    return Err(OnnxError::Node {
                        node: clean(&node_name(node, i)),
                        op: clean(&node.op_type),
                        message: format!("input '{}' is not produced by any node, initializer or graph input", clean(inp)),
                    });
                }
            }
        }
    }
    let mut indegree: Vec<usize> = deps.iter().map(|d| d.len()).collect();
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            indegree[u] -= 1;
            if indegree[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        // Walk producers among the remaining nodes until one repeats: it lies on a cycle.
        let mut on_cycle = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
        let mut seen = vec![false; n];
        while !seen[on_cycle] {
            seen[on_cycle] = true;
            match deps[on_cycle].iter().find(|&&d| indegree[d] > 0) {
                Some(&d) => on_cycle = d,
                None => break,
            }
        }
        let name = g.node.get(on_cycle).map(|nd| node_name(nd, on_cycle)).unwrap_or_default();
        return Err(OnnxError::Cycle(clean(&name)));
    }
    Ok(order)
}

/// Types of the real graph inputs (those without an initializer), with the caller's shapes
/// applied first. Every dim must end up static.
fn graph_inputs(
    g: &GraphProto,
    opts: &ImportOptions,
    consts: &HashMap<String, ValueId>,
) -> Result<Vec<(String, TensorType)>> {
    let real: Vec<&ValueInfoProto> = g.input.iter().filter(|v| !consts.contains_key(&v.name)).collect();
    for name in opts.input_shapes.keys() {
        if !real.iter().any(|v| &v.name == name) {
            let names: Vec<String> = real.iter().map(|v| format!("'{}'", clean(&v.name))).collect();
            return Err(OnnxError::UnknownInput { name: clean(name), inputs: names.join(", ") });
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(real.len());
    for v in real {
        if !seen.insert(v.name.as_str()) {
            return Err(OnnxError::Input { input: clean(&v.name), message: "listed twice".into() });
        }
        let Some(type_proto::Value::TensorType(tt)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
            return Err(OnnxError::Input { input: clean(&v.name), message: "is not a tensor (sequences and maps are not supported)".into() });
        };
        let dtype = dtype_of(tt.elem_type, "input", &v.name)?;
        let shape = match (opts.input_shapes.get(&v.name), &tt.shape) {
            (Some(given), model) => {
                if let Some(m) = model
                    && m.dim.len() != given.len() {
                        return Err(OnnxError::Input {
                            input: clean(&v.name),
                            message: format!("the model gives rank {} but the input shape {given:?} has rank {}", m.dim.len(), given.len()),
                        });
                    }
                given.clone()
            }
            (None, None) => return Err(OnnxError::UnknownRank { input: clean(&v.name) }),
            (None, Some(m)) => {
                let mut shape = Vec::with_capacity(m.dim.len());
                for (axis, d) in m.dim.iter().enumerate() {
                    let dynamic = |dim: String| OnnxError::DynamicDim { input: clean(&v.name), dim: clean(&dim), axis };
                    match &d.value {
                        Some(dimension::Value::DimValue(x)) if *x >= 0 => {
                            shape.push(usize::try_from(*x).map_err(|_| OnnxError::Limit {
                                value: clean(&v.name),
                                message: format!("dimension {x} does not fit this platform"),
                            })?);
                        }
                        Some(dimension::Value::DimValue(x)) => return Err(dynamic(x.to_string())),
                        Some(dimension::Value::DimParam(p)) if !p.is_empty() => return Err(dynamic(p.clone())),
                        _ => return Err(dynamic("?".into())),
                    }
                }
                shape
            }
        };
        limits::checked_elements(&v.name, &shape)?;
        out.push((v.name.clone(), TensorType::new(dtype, shape)));
    }
    Ok(out)
}

/// Point the IR graph outputs at the ONNX outputs, keeping their names. Outputs that are
/// graph inputs, constants or already used by another output get an identity Reshape.
fn bind_outputs(graph: &mut Graph, g: &GraphProto, values: &HashMap<String, ValueId>) -> Result<()> {
    let mut taken: HashSet<ValueId> = HashSet::new();
    for o in &g.output {
        let Some(&id) = values.get(&o.name) else {
            return Err(OnnxError::MissingOutput(clean(&o.name)));
        };
        let id = if graph.is_const(id) || graph.inputs.contains(&id) || taken.contains(&id) {
            let shape = graph.ty(id).shape.clone();
            graph.add_node1(&o.name, "Identity", Op::Reshape { shape }, vec![id])?
        } else {
            id
        };
        taken.insert(id);
        if graph.value(id).name != o.name {
            let holder = graph.value_ids().find(|&v| graph.value(v).name == o.name);
            if let Some(other) = holder.filter(|v| !graph.inputs.contains(v)) {
                let tmp = format!("{}_renamed", o.name);
                graph.rename_value(other, &tmp);
            }
            graph.rename_value(id, &o.name);
        }
        graph.outputs.push(id);
    }
    Ok(())
}

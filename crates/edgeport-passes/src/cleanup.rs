//! Local simplifications of data-movement ops, run after other passes.

use std::collections::BTreeMap;

use edgeport_ir::{Graph, Op, ValueId};

use crate::util::{is_identity, use_counts};
use crate::PassResult;

/// Merge nodes that compute the same op on the same inputs (common after layout rewrites
/// duplicate transposes on fan-out). Graph outputs keep their own producers.
pub fn merge_duplicate_nodes(g: &mut Graph) {
    let mut seen: BTreeMap<Vec<ValueId>, Vec<usize>> = BTreeMap::new();
    let mut replace: Vec<(ValueId, ValueId)> = Vec::new();
    let mut dead = vec![false; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        let same = seen.entry(n.inputs.clone()).or_default();
        let twin = same.iter().copied().find(|&j| g.nodes[j].op == n.op && g.nodes[j].outputs.len() == n.outputs.len());
        match twin {
            Some(j) if !n.outputs.iter().any(|o| g.outputs.contains(o)) => {
                replace.extend(n.outputs.iter().copied().zip(g.nodes[j].outputs.iter().copied()));
                dead[i] = true;
            }
            _ => same.push(i),
        }
    }
    if replace.is_empty() {
        return;
    }
    for (old, new) in replace {
        g.replace_uses(old, new);
    }
    let mut d = dead.into_iter();
    g.nodes.retain(|_| !d.next().unwrap_or(false));
}

/// - a transpose that only moves size-1 dims becomes a reshape;
/// - reshape of reshape and transpose of transpose collapse;
/// - identity reshapes and transposes disappear (a graph output keeps its name).
pub fn simplify_reshapes_and_transposes(g: &mut Graph) -> PassResult<()> {
    loop {
        let mut changed = false;
        let prods = g.producers();
        for i in 0..g.nodes.len() {
            let x = g.nodes[i].inputs.first().copied();
            let Some(x) = x else { continue };
            let in_shape = g.ty(x).shape.clone();
            let out_shape = g.ty(g.nodes[i].outputs[0]).shape.clone();
            let producer = prods[x.0 as usize].map(|p| (g.nodes[p].op.clone(), g.nodes[p].inputs[0]));
            let node = &mut g.nodes[i];
            match (&node.op, producer) {
                (Op::Transpose { perm }, _) if moves_only_unit_dims(&in_shape, perm) => {
                    node.op = Op::Reshape { shape: out_shape };
                    changed = true;
                }
                (Op::Reshape { .. }, Some((Op::Reshape { .. }, src))) => {
                    node.inputs[0] = src;
                    changed = true;
                }
                (Op::Transpose { perm }, Some((Op::Transpose { perm: inner }, src))) => {
                    let composed: Vec<usize> = perm.iter().map(|&j| inner[j]).collect();
                    node.inputs[0] = src;
                    node.op = Op::Transpose { perm: composed };
                    changed = true;
                }
                _ => {}
            }
        }
        changed |= remove_identities(g);
        if !changed {
            break;
        }
        g.remove_dead();
    }
    g.toposort()?;
    Ok(())
}

/// True when `perm` keeps the order of all dims larger than 1.
fn moves_only_unit_dims(shape: &[usize], perm: &[usize]) -> bool {
    let moved: Vec<usize> = perm.iter().copied().filter(|&p| shape[p] != 1).collect();
    moved.windows(2).all(|w| w[0] < w[1])
}

/// Drop no-op reshapes and transposes. Returns whether anything changed.
fn remove_identities(g: &mut Graph) -> bool {
    let uses = use_counts(g);
    let prods = g.producers();
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        let noop = match &n.op {
            Op::Reshape { shape } => g.ty(n.inputs[0]).shape == *shape,
            Op::Transpose { perm } => is_identity(perm),
            _ => false,
        };
        if !noop {
            continue;
        }
        let (x, y) = (n.inputs[0], n.outputs[0]);
        if g.outputs.contains(&y) {
            // Keep the output's name: only possible when x is a node output used nowhere else.
            let x_is_plain = prods[x.0 as usize].is_some() && uses[x.0 as usize] == 1 && !g.outputs.contains(&x);
            if !x_is_plain {
                continue;
            }
            let name = g.value(y).name.clone();
            g.rename_value(y, &format!("{name}.alias"));
            g.rename_value(x, &name);
        }
        g.replace_uses(y, x);
        g.nodes.remove(i);
        return true;
    }
    false
}

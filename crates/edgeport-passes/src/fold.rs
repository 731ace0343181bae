use edgeport_ir::{eval, Graph};

use crate::PassResult;

/// Replace every node whose inputs are all constant (and whose op `eval` folds) by constants.
pub fn fold_constants(g: &mut Graph) -> PassResult<()> {
    let mut i = 0;
    while i < g.nodes.len() {
        let node = &g.nodes[i];
        if !node.inputs.iter().all(|&v| g.is_const(v)) {
            i += 1;
            continue;
        }
        let inputs: Vec<_> = node.inputs.iter().filter_map(|&v| g.constant(v)).collect();
        let Some(outs) = eval::eval(&node.op, &inputs).map_err(|e| e.at_node(&node.name))? else {
            i += 1;
            continue;
        };
        let ids = node.outputs.clone();
        for (id, t) in ids.into_iter().zip(outs) {
            g.set_const(id, t);
        }
        g.nodes.remove(i);
    }
    Ok(())
}

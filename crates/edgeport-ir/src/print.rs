use crate::Graph;

/// Stable text dump of a graph, one line per node, for golden tests and debugging.
pub fn print_graph(g: &Graph) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let fmt_v = |id| {
        let v = g.value(id);
        format!("%{}: {}{:?}", v.name, v.ty.dtype, v.ty.shape)
    };
    let _ = writeln!(s, "graph {} (", g.name);
    for &i in &g.inputs {
        let _ = writeln!(s, "  {}", fmt_v(i));
    }
    let _ = writeln!(s, ")");
    for n in &g.nodes {
        let ins: Vec<String> = n
            .inputs
            .iter()
            .map(|&i| if g.is_const(i) { format!("const {}", fmt_v(i)) } else { fmt_v(i) })
            .collect();
        let outs: Vec<String> = n.outputs.iter().map(|&o| fmt_v(o)).collect();
        let _ = writeln!(s, "  {} = {:?} ({}) # {}", outs.join(", "), n.op, ins.join(", "), n.name);
    }
    let outs: Vec<String> = g.outputs.iter().map(|&o| fmt_v(o)).collect();
    let _ = writeln!(s, "return {}", outs.join(", "));
    s
}

//! Planning shared by the runtimes (edgeport-cpu, edgeport-gpu): which nodes become steps
//! (reshapes alias their input, elementwise activations fold into their producer), how long
//! each runtime value lives, and offsets in one arena so that values alive at the same time
//! never overlap and dead ones are reused.

use crate::{Graph, Node, Op, ValueId};

/// One step of a run: a node, and the activation node folded into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub node: usize,
    pub folded: Option<usize>,
}

/// A graph's steps for a runtime.
#[derive(Debug, Clone)]
pub struct Steps {
    pub steps: Vec<Step>,
    /// Per value, the value whose memory it uses (itself, or what a reshape or a folded
    /// activation aliases).
    root: Vec<ValueId>,
}

impl Steps {
    /// Reshapes alias their input; an activation whose input is read by it alone (and is no
    /// graph output) folds into the step producing that input when `takes_activation` accepts
    /// the producer, which must have one output and no activation folded in yet.
    pub fn plan(graph: &Graph, takes_activation: impl Fn(&Node) -> bool) -> Steps {
        let nvalues = graph.values().len();
        let mut root: Vec<ValueId> = (0..nvalues as u32).map(ValueId).collect();
        let consumers = graph.consumers();
        let mut steps: Vec<Step> = Vec::new();
        let mut producer_step: Vec<Option<usize>> = vec![None; nvalues];
        for (i, node) in graph.nodes.iter().enumerate() {
            if let (Op::Reshape { .. }, [input], [output]) = (&node.op, node.inputs.as_slice(), node.outputs.as_slice()) {
                root[output.0 as usize] = root[input.0 as usize];
                continue;
            }
            if let (true, [input], [output]) = (node.op.is_activation(), node.inputs.as_slice(), node.outputs.as_slice()) {
                let src = root[input.0 as usize];
                let fusable = producer_step[src.0 as usize].filter(|&s| {
                    let producer = &graph.nodes[steps[s].node];
                    takes_activation(producer)
                        && steps[s].folded.is_none()
                        && producer.outputs.len() == 1
                        && src == *input
                        && consumers[input.0 as usize].len() == 1
                        && !graph.outputs.contains(input)
                });
                if let Some(s) = fusable {
                    steps[s].folded = Some(i);
                    root[output.0 as usize] = src;
                    continue;
                }
            }
            for &o in &node.outputs {
                producer_step[o.0 as usize] = Some(steps.len());
            }
            steps.push(Step { node: i, folded: None });
        }
        Steps { steps, root }
    }

    /// The value whose memory `v` uses.
    pub fn resolve(&self, v: ValueId) -> ValueId {
        self.root[v.0 as usize]
    }

    /// Lifetimes of the runtime values (constants excluded): step s runs at time s + 1,
    /// inputs are written at 0, outputs live to the end. Returns the intervals and, per
    /// value, its index among them.
    pub fn value_intervals(&self, graph: &Graph) -> (Vec<Interval>, Vec<Option<usize>>) {
        let nvalues = graph.values().len();
        let end = self.steps.len() + 1;
        let mut first: Vec<Option<usize>> = vec![None; nvalues];
        let mut last: Vec<usize> = vec![0; nvalues];
        for &v in &graph.inputs {
            first[v.0 as usize] = Some(0);
        }
        for (s, step) in self.steps.iter().enumerate() {
            for &o in &graph.nodes[step.node].outputs {
                first[o.0 as usize] = Some(s + 1);
                last[o.0 as usize] = last[o.0 as usize].max(s + 1);
            }
            for &v in &graph.nodes[step.node].inputs {
                let r = self.resolve(v);
                last[r.0 as usize] = last[r.0 as usize].max(s + 1);
            }
        }
        for &v in &graph.outputs {
            let r = self.resolve(v);
            last[r.0 as usize] = end;
        }
        let mut intervals = Vec::new();
        let mut slot_of: Vec<Option<usize>> = vec![None; nvalues];
        for v in 0..nvalues {
            if let Some(f) = first[v].filter(|_| graph.constant(ValueId(v as u32)).is_none()) {
                slot_of[v] = Some(intervals.len());
                intervals.push(Interval { first: f, last: last[v].max(f), len: graph.values()[v].ty.elements() });
            }
        }
        (intervals, slot_of)
    }
}

/// A value's lifetime in step indices (inclusive at both ends) and its length in floats.
#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub first: usize,
    pub last: usize,
    pub len: usize,
}

/// Offsets for `intervals` such that values alive at the same time never overlap. Greedy by
/// size (largest first), each at the lowest offset that fits; offsets are 16-float aligned.
pub fn assign_offsets(intervals: &[Interval]) -> (Vec<usize>, usize) {
    const ALIGN: usize = 16;
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by(|&a, &b| intervals[b].len.cmp(&intervals[a].len).then(a.cmp(&b)));
    let mut offsets = vec![0usize; intervals.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut total = 0usize;
    for &i in &order {
        let me = intervals[i];
        let mut taken: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| intervals[j].first <= me.last && me.first <= intervals[j].last)
            .map(|&j| (offsets[j], offsets[j] + intervals[j].len))
            .collect();
        taken.sort_unstable();
        let mut at = 0usize;
        for (start, end) in taken {
            if at + me.len <= start {
                break;
            }
            at = at.max(end.div_ceil(ALIGN) * ALIGN);
        }
        offsets[i] = at;
        total = total.max(at + me.len);
        placed.push(i);
    }
    (offsets, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_values_never_overlap_and_dead_ones_are_reused() {
        let iv = [
            Interval {
                first: 0,
                last: 1,
                len: 100,
            },
            Interval {
                first: 1,
                last: 2,
                len: 50,
            },
            Interval {
                first: 2,
                last: 3,
                len: 100,
            },
            Interval {
                first: 3,
                last: 3,
                len: 10,
            },
        ];
        let (off, total) = assign_offsets(&iv);
        for i in 0..iv.len() {
            for j in 0..i {
                let live = iv[i].first <= iv[j].last && iv[j].first <= iv[i].last;
                let overlap = off[i] < off[j] + iv[j].len && off[j] < off[i] + iv[i].len;
                assert!(!(live && overlap), "{i} and {j} overlap");
            }
        }
        // value 2 reuses value 0's range
        assert!(total < 250, "total {total}");
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn activations_fold_into_takers_and_reshapes_alias() {
        use crate::ops::{BinaryOp, UnaryOp};
        use crate::{DType, TensorType};
        let mut g = Graph::new("t");
        let x = g.add_value("x", TensorType::new(DType::F32, vec![2, 3])).unwrap();
        g.inputs.push(x);
        let sum = g.add_node1("add", "Add", Op::Binary(BinaryOp::Add), vec![x, x]).unwrap();
        let relu = g.add_node1("relu", "Relu", Op::Unary(UnaryOp::Relu), vec![sum]).unwrap();
        let flat = g.add_node1("flat", "Reshape", Op::Reshape { shape: vec![6] }, vec![relu]).unwrap();
        let out = g.add_node1("exp", "Exp", Op::Unary(UnaryOp::Exp), vec![flat]).unwrap();
        g.outputs.push(out);

        let taking = Steps::plan(&g, |n| matches!(n.op, Op::Binary(_)));
        assert_eq!(taking.steps, [Step { node: 0, folded: Some(1) }, Step { node: 3, folded: None }]);
        assert_eq!(taking.resolve(flat), sum, "reshape and folded relu share the add's memory");
        let (intervals, slot) = taking.value_intervals(&g);
        assert_eq!(intervals.len(), 3, "x, the add's output and the exp's output");
        assert_eq!(slot[sum.0 as usize].map(|s| intervals[s].last), Some(2), "read by the exp step");

        let refusing = Steps::plan(&g, |_| false);
        assert_eq!(refusing.steps.len(), 3);
        assert_eq!(refusing.resolve(flat), relu);
    }
}

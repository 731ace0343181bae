//! `reduce_mean`, `reduce_sum`, `reduce_max`, `reduce_min`, `reduce_prod` (iOS15) over
//! explicit axes with `keep_dims`.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var};

use super::i32s;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduce {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

impl Reduce {
    pub(crate) fn def(self) -> OpDef {
        let name = match self {
            Reduce::Mean => "reduce_mean",
            Reduce::Sum => "reduce_sum",
            Reduce::Max => "reduce_max",
            Reduce::Min => "reduce_min",
            Reduce::Prod => "reduce_prod",
        };
        OpDef {
            name,
            since: Target::Ios15,
        }
    }
}

pub(crate) fn reduce(
    mil: &mut Mil,
    op: Reduce,
    out: &str,
    x: &Var,
    axes: &[usize],
    keep_dims: bool,
) -> R<Var> {
    let shape: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    mil.op(op.def(), out)
        .x("x", x)
        .ints("axes", &i32s(axes)?)
        .boolean("keep_dims", keep_dims)
        .out(out, x.dtype, &shape)
}

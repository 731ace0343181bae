//! `slice_by_index` (iOS15): numpy-style x[begin:end:stride] on every axis, with `end_mask`
//! meaning "to the end" (numpy's omitted end, so the front for a negative stride).

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

pub(crate) const SLICE_BY_INDEX: OpDef = OpDef {
    name: "slice_by_index",
    since: Target::Ios15,
};

/// Per-axis slice; all vectors have x's rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SliceParams {
    pub begin: Vec<i32>,
    pub end: Vec<i32>,
    pub stride: Vec<i32>,
    pub end_mask: Vec<bool>,
}

fn extent(dim: i64, begin: i64, end: Option<i64>, stride: i64) -> usize {
    if stride > 0 {
        let e = end.unwrap_or(dim).min(dim);
        if e > begin {
            ((e - begin + stride - 1) / stride) as usize
        } else {
            0
        }
    } else {
        let e = end.unwrap_or(-1);
        if begin > e {
            ((begin - e - stride - 1) / -stride) as usize
        } else {
            0
        }
    }
}

pub(crate) fn slice_by_index(mil: &mut Mil, out: &str, x: &Var, p: &SliceParams) -> R<Var> {
    let r = x.rank();
    if p.begin.len() != r || p.end.len() != r || p.stride.len() != r || p.end_mask.len() != r {
        return Err(invalid(format!(
            "slice_by_index '{out}': parameters do not match rank {r}"
        )));
    }
    let shape: Vec<usize> = (0..r)
        .map(|a| {
            let end = (!p.end_mask[a]).then_some(p.end[a] as i64);
            extent(
                x.shape[a] as i64,
                p.begin[a] as i64,
                end,
                p.stride[a] as i64,
            )
        })
        .collect();
    mil.op(SLICE_BY_INDEX, out)
        .x("x", x)
        .ints("begin", &p.begin)
        .ints("end", &p.end)
        .ints("stride", &p.stride)
        .bools("begin_mask", &vec![false; r])
        .bools("end_mask", &p.end_mask)
        .bools("squeeze_mask", &vec![false; r])
        .out(out, x.dtype, &shape)
}

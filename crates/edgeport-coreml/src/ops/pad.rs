//! `pad` (iOS15): pads the last N axes of a float tensor; `pad` lists (before, after) per
//! axis; mode `constant` (with `constant_val` of x's dtype), `reflect` or `replicate`.

use crate::Target;
use crate::mil::{Mil, OpDef, R, Var, invalid};

use super::i32s;

pub(crate) const PAD: OpDef = OpDef {
    name: "pad",
    since: Target::Ios15,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PadMode {
    Constant(f32),
    Reflect,
    Replicate,
}

/// `pads` holds (before, after) for the last `pads.len()` axes of x.
pub(crate) fn pad(mil: &mut Mil, out: &str, x: &Var, pads: &[[usize; 2]], mode: PadMode) -> R<Var> {
    let r = x.rank();
    if pads.len() > r || pads.is_empty() {
        return Err(invalid(format!(
            "pad '{out}': {} pad pairs for rank {r}",
            pads.len()
        )));
    }
    let mut shape = x.shape.clone();
    for (k, [b, a]) in pads.iter().enumerate() {
        shape[r - pads.len() + k] += b + a;
    }
    let flat: Vec<usize> = pads.iter().flat_map(|p| p.iter().copied()).collect();
    let b = mil.op(PAD, out).x("x", x).ints("pad", &i32s(&flat)?);
    let b = match mode {
        PadMode::Constant(v) => b
            .string("mode", "constant")
            .float("constant_val", v, x.dtype),
        PadMode::Reflect => b.string("mode", "reflect"),
        PadMode::Replicate => b.string("mode", "replicate"),
    };
    b.out(out, x.dtype, &shape)
}

//! Helpers shared by op importers: axes, dims, constants, and the common shapes of importer
//! (unary, binary, variadic, alias).

use edgeport_ir::ops::{BinaryOp, UnaryOp};
use edgeport_ir::{eval, limits, DType, Op, Tensor, TensorData, ValueId};

use crate::context::Ctx;
use crate::error::Result;

/// Normalize a possibly negative axis against `rank`.
pub fn norm_axis(ctx: &Ctx, axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis.saturating_add(r) } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(ctx.invalid(format!("axis {axis} is out of range for rank {rank}")))
    }
}

/// Normalize a list of axes; sorted, and duplicates rejected.
pub fn norm_axes(ctx: &Ctx, axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = axes.iter().map(|&a| norm_axis(ctx, a, rank)).collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(ctx.invalid(format!("axes {axes:?} repeat an axis")));
    }
    Ok(out)
}

/// Convert integers from the model to a dim list, checked against the IR limits.
pub fn to_dims(ctx: &Ctx, v: &[i64], what: &str) -> Result<Vec<usize>> {
    let mut dims = Vec::with_capacity(v.len());
    for &d in v {
        if d < 0 || d as u64 > limits::MAX_DIM as u64 {
            if d < 0 {
                return Err(ctx.invalid(format!("{what} {v:?} has a negative dim")));
            }
            return Err(crate::OnnxError::Limit {
                value: ctx.name().to_string(),
                message: format!("{what} {v:?}: dimension {d} exceeds the limit of {}", limits::MAX_DIM),
            });
        }
        dims.push(d as usize);
    }
    checked(ctx, &dims)?;
    Ok(dims)
}

/// Check a shape against the IR limits before anything of that size is built.
pub fn checked(ctx: &Ctx, shape: &[usize]) -> Result<usize> {
    Ok(limits::checked_elements(ctx.name(), shape)?)
}

/// Check the size of a constant an op would create at import (folding-only ops, ConstantOfShape):
/// it must stay within what the importer folds, or the model could make import allocate
/// gigabytes.
pub fn fold_size(ctx: &Ctx, shape: &[usize]) -> Result<usize> {
    let n = checked(ctx, shape)?;
    if n > eval::MAX_FOLD_ELEMENTS {
        return Err(ctx.unsupported(format!(
            "would create a constant of {n} elements (shape {shape:?}); at most {} are folded",
            eval::MAX_FOLD_ELEMENTS
        )));
    }
    Ok(n)
}

/// A small non-negative integer attribute value (kernel sizes, strides, pads) as usize.
pub fn small(ctx: &Ctx, v: i64, what: &str) -> Result<usize> {
    if v < 0 || v as u64 > limits::MAX_DIM as u64 {
        return Err(ctx.invalid(format!("{what} value {v} is out of range")));
    }
    Ok(v as usize)
}

/// A float constant holding `values` in `dtype` (float32 data cast when needed).
pub fn float_const(ctx: &mut Ctx, suffix: &str, dtype: DType, shape: Vec<usize>, values: Vec<f32>) -> Result<ValueId> {
    let t = Tensor::from_f32(shape, values).map_err(|e| ctx.invalid(e.to_string()))?;
    let t = if dtype == DType::F32 { t } else { t.cast(dtype) };
    Ok(ctx.constant(suffix, t))
}

/// A scalar constant of `dtype`.
pub fn scalar_const(ctx: &mut Ctx, suffix: &str, dtype: DType, x: f32) -> Result<ValueId> {
    float_const(ctx, suffix, dtype, vec![], vec![x])
}

/// Reshape `x` to `shape` (an IR Reshape node, folded when `x` is constant).
pub fn reshape(ctx: &mut Ctx, suffix: &str, x: ValueId, shape: Vec<usize>) -> Result<ValueId> {
    checked(ctx, &shape)?;
    if ctx.shape(x) == shape {
        return Ok(x);
    }
    ctx.emit1(suffix, Op::Reshape { shape }, vec![x])
}

/// Output 0 is input 0 (Identity, Dropout, no-op reshapes).
pub fn alias(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    ctx.set_output(0, x)
}

/// One-input elementwise op.
pub fn unary(ctx: &mut Ctx, u: UnaryOp) -> Result<()> {
    let x = ctx.input(0)?;
    if !ctx.dtype(x).is_float() {
        return Err(ctx.unsupported(format!("{} on {} data", ctx.op_type(), ctx.dtype(x))));
    }
    let y = ctx.emit1("", Op::Unary(u), vec![x])?;
    ctx.set_output(0, y)
}

/// Two-input broadcasting op.
pub fn binary(ctx: &mut Ctx, b: BinaryOp) -> Result<()> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    let out = ctx.emit1("", Op::Binary(b), vec![x, y])?;
    ctx.set_output(0, out)
}

/// Variadic op as a chain of binary ops (Sum, Min, Max); the last link carries the node name.
pub fn variadic(ctx: &mut Ctx, b: BinaryOp) -> Result<ValueId> {
    let inputs = ctx.inputs()?;
    let Some((&first, rest)) = inputs.split_first() else {
        return Err(ctx.invalid("needs at least one input"));
    };
    let mut acc = first;
    for (k, &v) in rest.iter().enumerate() {
        let suffix = if k + 1 == rest.len() { String::new() } else { format!("{}_{k}", b.name().to_lowercase()) };
        acc = ctx.emit1(&suffix, Op::Binary(b), vec![acc, v])?;
    }
    Ok(acc)
}

/// Concatenate constant tensors along `axis`; None when they do not fit together.
pub fn concat_tensors(ts: &[&Tensor], axis: usize) -> Option<Vec<Tensor>> {
    let first = ts.first()?;
    let rank = first.shape().len();
    if axis >= rank {
        return None;
    }
    let mut shape = first.shape().to_vec();
    *shape.get_mut(axis)? = 0;
    for t in ts {
        let fits = t.dtype() == first.dtype()
            && t.shape().len() == rank
            && t.shape().iter().zip(first.shape()).enumerate().all(|(a, (x, y))| a == axis || x == y);
        if !fits {
            return None;
        }
        shape[axis] = shape[axis].checked_add(t.shape()[axis])?;
    }
    let total = limits::checked_elements("", &shape).ok()?;
    if total > eval::MAX_FOLD_ELEMENTS {
        return None;
    }
    let outer: usize = shape[..axis].iter().product();
    macro_rules! cat {
        ($variant:ident) => {{
            let mut out = Vec::with_capacity(total);
            for o in 0..outer {
                for t in ts {
                    let TensorData::$variant(v) = t.data() else { return None };
                    let block: usize = t.shape()[axis..].iter().product();
                    out.extend_from_slice(v.get(o * block..(o + 1) * block)?);
                }
            }
            TensorData::$variant(out)
        }};
    }
    let data = match first.data() {
        TensorData::F32(_) => cat!(F32),
        TensorData::F16(_) => cat!(F16),
        TensorData::I64(_) => cat!(I64),
        TensorData::I32(_) => cat!(I32),
        TensorData::I8(_) => cat!(I8),
        TensorData::U8(_) => cat!(U8),
        TensorData::Bool(_) => cat!(Bool),
    };
    Tensor::new(shape, data).ok().map(|t| vec![t])
}

/// Elementwise select between two tensors of the same dtype and shape.
pub fn select(cond: &[bool], a: &Tensor, b: &Tensor) -> Option<Tensor> {
    if a.dtype() != b.dtype() || a.shape() != b.shape() || a.len() != cond.len() {
        return None;
    }
    macro_rules! sel {
        ($variant:ident) => {{
            let (TensorData::$variant(x), TensorData::$variant(y)) = (a.data(), b.data()) else { return None };
            TensorData::$variant(cond.iter().zip(x.iter().zip(y)).map(|(&c, (x, y))| if c { *x } else { *y }).collect())
        }};
    }
    let data = match a.data() {
        TensorData::F32(_) => sel!(F32),
        TensorData::F16(_) => sel!(F16),
        TensorData::I64(_) => sel!(I64),
        TensorData::I32(_) => sel!(I32),
        TensorData::I8(_) => sel!(I8),
        TensorData::U8(_) => sel!(U8),
        TensorData::Bool(_) => sel!(Bool),
    };
    Tensor::new(a.shape().to_vec(), data).ok()
}

/// numpy broadcast of two shapes, as an error naming the node when impossible.
pub fn broadcast(ctx: &Ctx, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let s = edgeport_ir::ops::broadcast_shapes(a, b)
        .ok_or_else(|| ctx.invalid(format!("shapes {a:?} and {b:?} do not broadcast")))?;
    checked(ctx, &s)?;
    Ok(s)
}

/// Broadcast a constant to `shape` (caller checked compatibility and limits).
pub fn broadcast_const(ctx: &Ctx, t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if t.shape() == shape {
        return Ok(t.clone());
    }
    fold_size(ctx, shape)?;
    eval::broadcast_to(t, shape).map_err(|e| ctx.invalid(e.to_string()))
}

/// Require that every input of a folding-only op is constant.
pub fn require_all_const(ctx: &Ctx) -> Result<Vec<std::sync::Arc<Tensor>>> {
    let mut out = Vec::new();
    for i in 0..ctx.num_inputs() {
        if let Some(id) = ctx.opt_input(i)? {
            match ctx.const_of(id) {
                Some(t) => out.push(t),
                None => {
                    return Err(ctx.unsupported(format!(
                        "only supported when all inputs are constant, but input #{i} is computed at run time"
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Bind output 0 to a new constant.
pub fn output_const(ctx: &mut Ctx, t: Tensor) -> Result<()> {
    let id = ctx.constant("", t);
    ctx.set_output(0, id)
}

/// ReduceMean/Sum/Max/Min/Prod: axes from the attribute, or from the constant input once the
/// op takes them as one (`input_from` = 13 for ReduceSum, 18 for the others). No axes means
/// every axis, unless noop_with_empty_axes makes it an identity.
pub fn reduce(ctx: &mut Ctx, kind: edgeport_ir::ops::ReduceKind, input_from: i64) -> Result<()> {
    use edgeport_ir::ops::Reduce;
    let x = ctx.input(0)?;
    let rank = ctx.rank(x);
    let keep_dims = ctx.attr_i("keepdims", 1)? != 0;
    let (axes, noop) = if ctx.opset() >= input_from {
        (ctx.opt_const_ints(1, "axes")?, ctx.attr_i("noop_with_empty_axes", 0)? != 0)
    } else {
        (ctx.attr_ints("axes")?, false)
    };
    let axes = match axes {
        Some(a) if !a.is_empty() => norm_axes(ctx, &a, rank)?,
        _ if noop => return ctx.set_output(0, x),
        _ => (0..rank).collect(),
    };
    if axes.is_empty() {
        return ctx.set_output(0, x); // a scalar: nothing to reduce
    }
    let y = ctx.emit1("", Op::Reduce(Reduce { kind, axes, keep_dims }), vec![x])?;
    ctx.set_output(0, y)
}

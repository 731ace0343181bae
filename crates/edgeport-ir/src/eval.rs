//! Evaluation of ops on constant inputs: used to fold shape arithmetic at import and to
//! rewrite weights in passes. Data-movement ops work on every dtype, arithmetic on float32 and
//! integers. Heavy compute ops (conv, pooling, resize) are not folded: `eval` returns Ok(None).

use crate::ops::{BinaryOp, PadMode, ReduceKind, Slice};
use crate::{DType, IrError, IrResult, Op, Tensor, TensorData};

/// Largest constant result the importer folds (bigger results stay as nodes).
pub const MAX_FOLD_ELEMENTS: usize = 1 << 22;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f(flat_out_index, multi_index)` for every element of `shape` in row-major order.
fn for_each_index(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &idx);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Gather elements of `data` at flat indices `src`.
fn take(data: &TensorData, src: &[usize]) -> TensorData {
    match data {
        TensorData::F32(v) => TensorData::F32(src.iter().map(|&i| v[i]).collect()),
        TensorData::F16(v) => TensorData::F16(src.iter().map(|&i| v[i]).collect()),
        TensorData::I64(v) => TensorData::I64(src.iter().map(|&i| v[i]).collect()),
        TensorData::I32(v) => TensorData::I32(src.iter().map(|&i| v[i]).collect()),
        TensorData::I8(v) => TensorData::I8(src.iter().map(|&i| v[i]).collect()),
        TensorData::U8(v) => TensorData::U8(src.iter().map(|&i| v[i]).collect()),
        TensorData::Bool(v) => TensorData::Bool(src.iter().map(|&i| v[i]).collect()),
    }
}

/// Flat source index in a tensor of `shape` broadcast to an output multi-index.
fn broadcast_src(shape: &[usize], st: &[usize], out_idx: &[usize]) -> usize {
    let off = out_idx.len() - shape.len();
    shape.iter().enumerate().map(|(i, &d)| if d == 1 { 0 } else { out_idx[i + off] * st[i] }).sum()
}

pub fn transpose(t: &Tensor, perm: &[usize]) -> IrResult<Tensor> {
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape()[p]).collect();
    let st = strides(t.shape());
    let mut src = Vec::with_capacity(t.len());
    for_each_index(&shape, |_, idx| src.push(idx.iter().zip(perm).map(|(&i, &p)| i * st[p]).sum()));
    Tensor::new(shape, take(t.data(), &src))
}

/// Broadcast a tensor to `shape` (numpy rules; caller checked compatibility).
pub fn broadcast_to(t: &Tensor, shape: &[usize]) -> IrResult<Tensor> {
    let st = strides(t.shape());
    let mut src = Vec::with_capacity(shape.iter().product());
    for_each_index(shape, |_, idx| src.push(broadcast_src(t.shape(), &st, idx)));
    Tensor::new(shape.to_vec(), take(t.data(), &src))
}

fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> IrResult<Tensor> {
    let (sa, sb) = (strides(a.shape()), strides(b.shape()));
    let mut pairs = Vec::with_capacity(shape.iter().product());
    for_each_index(shape, |_, idx| pairs.push((broadcast_src(a.shape(), &sa, idx), broadcast_src(b.shape(), &sb, idx))));
    let data = match (a.data(), b.data()) {
        (TensorData::F32(x), _) => {
            let y = b.to_f32_vec();
            TensorData::F32(pairs.iter().map(|&(i, j)| op.apply_f32(x[i], y[j])).collect())
        }
        (TensorData::I64(_) | TensorData::I32(_), _) => {
            let (x, y) = (a.to_i64_vec(), b.to_i64_vec());
            let v = pairs
                .iter()
                .map(|&(i, j)| op.apply_i64(x[i], y[j]))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| IrError::Invalid(format!("integer {} overflows or divides by zero", op.name())))?;
            if a.dtype() == DType::I32 {
                TensorData::I32(v.into_iter().map(|x| x as i32).collect())
            } else {
                TensorData::I64(v)
            }
        }
        _ => return Err(IrError::Invalid(format!("{} on {} is not folded", op.name(), a.dtype()))),
    };
    Tensor::new(shape.to_vec(), data)
}

fn map_f32(t: &Tensor, f: impl Fn(f32) -> f32) -> IrResult<Tensor> {
    let v = t.as_f32().ok_or_else(|| IrError::Invalid(format!("expected float32, got {}", t.dtype())))?;
    Tensor::from_f32(t.shape().to_vec(), v.iter().map(|&x| f(x)).collect())
}

pub fn concat(ts: &[&Tensor], axis: usize, shape: &[usize]) -> IrResult<Tensor> {
    // Output = for each outer index, the inner blocks of each input in turn.
    let outer: usize = shape[..axis].iter().product();
    let mut src: Vec<(usize, usize)> = Vec::with_capacity(shape.iter().product());
    for o in 0..outer {
        for (k, t) in ts.iter().enumerate() {
            let block: usize = t.shape()[axis..].iter().product();
            src.extend((0..block).map(|i| (k, o * block + i)));
        }
    }
    let first = ts.first().ok_or_else(|| IrError::Invalid("concat of nothing".into()))?;
    if first.dtype() == DType::F32 {
        let all: Vec<Vec<f32>> = ts.iter().map(|t| t.to_f32_vec()).collect();
        return Tensor::from_f32(shape.to_vec(), src.iter().map(|&(k, i)| all[k][i]).collect());
    }
    let all: Vec<Vec<i64>> = ts.iter().map(|t| t.to_i64_vec()).collect();
    let v: Vec<i64> = src.iter().map(|&(k, i)| all[k][i]).collect();
    Tensor::from_i64(shape.to_vec(), v).map(|t| t.cast(first.dtype()))
}

pub fn slice(t: &Tensor, s: &Slice, shape: &[usize]) -> IrResult<Tensor> {
    let st = strides(t.shape());
    let rank = t.shape().len();
    let mut start = vec![0i64; rank];
    let mut step = vec![1i64; rank];
    for i in 0..s.axes.len() {
        start[s.axes[i]] = s.starts[i];
        step[s.axes[i]] = s.steps[i];
    }
    let mut src = Vec::with_capacity(shape.iter().product());
    for_each_index(shape, |_, idx| {
        src.push(idx.iter().enumerate().map(|(d, &i)| (start[d] + i as i64 * step[d]) as usize * st[d]).sum())
    });
    Tensor::new(shape.to_vec(), take(t.data(), &src))
}

pub fn gather(t: &Tensor, indices: &Tensor, axis: usize, shape: &[usize]) -> IrResult<Tensor> {
    let dim = t.shape()[axis] as i64;
    let idx: Vec<usize> = indices
        .to_i64_vec()
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) { Ok(j as usize) } else { Err(IrError::Invalid(format!("gather index {i} out of range for axis of size {dim}"))) }
        })
        .collect::<IrResult<_>>()?;
    let outer: usize = t.shape()[..axis].iter().product();
    let inner: usize = t.shape()[axis + 1..].iter().product();
    let mut src = Vec::with_capacity(shape.iter().product());
    for o in 0..outer {
        for &i in &idx {
            src.extend((0..inner).map(|k| (o * t.shape()[axis] + i) * inner + k));
        }
    }
    Tensor::new(shape.to_vec(), take(t.data(), &src))
}

fn reduce(t: &Tensor, kind: ReduceKind, axes: &[usize], shape: &[usize]) -> IrResult<Tensor> {
    let x = t.to_f32_vec();
    let kept: Vec<usize> = t.shape().iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    let n_out: usize = kept.iter().product();
    let count = (t.len() / n_out.max(1)) as f32;
    let init = match kind {
        ReduceKind::Mean | ReduceKind::Sum => 0.0,
        ReduceKind::Max => f32::NEG_INFINITY,
        ReduceKind::Min => f32::INFINITY,
        ReduceKind::Prod => 1.0,
    };
    let mut acc = vec![init; n_out];
    let ks = strides(&kept);
    for_each_index(t.shape(), |flat, idx| {
        let o: usize = idx.iter().enumerate().map(|(d, &i)| if axes.contains(&d) { 0 } else { i * ks[d] }).sum();
        acc[o] = match kind {
            ReduceKind::Mean | ReduceKind::Sum => acc[o] + x[flat],
            ReduceKind::Max => acc[o].max(x[flat]),
            ReduceKind::Min => acc[o].min(x[flat]),
            ReduceKind::Prod => acc[o] * x[flat],
        };
    });
    if kind == ReduceKind::Mean {
        acc.iter_mut().for_each(|a| *a /= count);
    }
    Tensor::from_f32(shape.to_vec(), acc).map(|r| if t.dtype() == DType::F32 { r } else { r.cast(t.dtype()) })
}

fn pad_constant(t: &Tensor, pads: &[[usize; 2]], value: f32, shape: &[usize]) -> IrResult<Tensor> {
    let x = t.to_f32_vec();
    let os = strides(shape);
    let mut out = vec![value; shape.iter().product()];
    for_each_index(t.shape(), |flat, idx| {
        let o: usize = idx.iter().enumerate().map(|(d, &i)| (i + pads[d][0]) * os[d]).sum();
        out[o] = x[flat];
    });
    Tensor::from_f32(shape.to_vec(), out).map(|r| if t.dtype() == DType::F32 { r } else { r.cast(t.dtype()) })
}

fn matmul(a: &Tensor, b: &Tensor, shape: &[usize]) -> IrResult<Tensor> {
    if a.shape().len() != 2 || b.shape().len() != 2 {
        return Err(IrError::Invalid("only rank-2 matmul is folded".into()));
    }
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let (x, y) = (a.to_f32_vec(), b.to_f32_vec());
    let mut out = vec![0.0f32; m * n];
    for i in 0..m {
        for p in 0..k {
            let xv = x[i * k + p];
            for j in 0..n {
                out[i * n + j] += xv * y[p * n + j];
            }
        }
    }
    Tensor::from_f32(shape.to_vec(), out)
}

/// Evaluate `op` on constant inputs. Returns Ok(None) for ops that are not folded.
pub fn eval(op: &Op, inputs: &[&Tensor]) -> IrResult<Option<Vec<Tensor>>> {
    let tys: Vec<_> = inputs.iter().map(|t| t.ty()).collect();
    let refs: Vec<_> = tys.iter().collect();
    let consts: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
    let out_tys = op.infer(&refs, &consts)?;
    if out_tys.iter().any(|t| t.elements() > MAX_FOLD_ELEMENTS) {
        return Ok(None);
    }
    let shape = &out_tys[0].shape;
    let x = inputs[0];
    let one = |t: Tensor| Ok(Some(vec![t]));
    match op {
        Op::Unary(u) => one(map_f32(x, |v| u.apply(v))?),
        Op::Clip { min, max } => one(map_f32(x, |v| v.clamp(*min, *max))?),
        Op::LeakyRelu { alpha } => one(map_f32(x, |v| if v < 0.0 { alpha * v } else { v })?),
        Op::HardSigmoid { alpha, beta } => one(map_f32(x, |v| (alpha * v + beta).clamp(0.0, 1.0))?),
        Op::Binary(b) => one(binary(*b, x, inputs[1], shape)?),
        Op::Reshape { shape } => one(x.clone().reshaped(shape.clone())?),
        Op::Transpose { perm } => one(transpose(x, perm)?),
        Op::Concat { axis } => one(concat(inputs, *axis, shape)?),
        Op::Split { axis, sizes } => {
            let mut outs = Vec::with_capacity(sizes.len());
            let mut start = 0i64;
            for (t, &s) in out_tys.iter().zip(sizes) {
                let sl = Slice { axes: vec![*axis], starts: vec![start], ends: vec![start + s as i64], steps: vec![1] };
                outs.push(slice(x, &sl, &t.shape)?);
                start += s as i64;
            }
            Ok(Some(outs))
        }
        Op::Slice(s) => one(slice(x, s, shape)?),
        Op::Gather { axis } => one(gather(x, inputs[1], *axis, shape)?),
        Op::Cast { to } => one(x.cast(*to)),
        Op::Reduce(r) => one(reduce(x, r.kind, &r.axes, shape)?),
        Op::Pad(p) => match p.mode {
            PadMode::Constant(v) => one(pad_constant(x, &p.pads, v, shape)?),
            _ => Ok(None),
        },
        Op::MatMul if x.shape().len() == 2 && inputs[1].shape().len() == 2 => one(matmul(x, inputs[1], shape)?),
        Op::MatMul
        | Op::PRelu
        | Op::Conv(_)
        | Op::ConvTranspose(_)
        | Op::Pool(_)
        | Op::Resize(_)
        | Op::Softmax { .. }
        | Op::LayerNorm(_) => Ok(None),
    }
}

//! Reductions, softmax and layer normalization.

use edgeport_ir::ops::{LayerNorm, Reduce, ReduceKind};
use edgeport_ir::{Graph, Node};

use super::{unsupported, Compiled, Kernel, StepIo};
use crate::strided::{for_each_run, strides};
use crate::CpuError;

pub struct ReduceKernel {
    kind: ReduceKind,
    shape: Vec<usize>,
    in_strides: Vec<isize>,
    /// Output offset stride per input axis (0 on reduced axes).
    out_strides: Vec<isize>,
    count: usize,
}

impl ReduceKernel {
    pub fn new(r: &Reduce, x: &[usize]) -> ReduceKernel {
        let kept: Vec<usize> = x.iter().enumerate().map(|(i, &d)| if r.axes.contains(&i) { 1 } else { d }).collect();
        let ks = strides(&kept);
        let out_strides = (0..x.len()).map(|i| if r.axes.contains(&i) { 0 } else { ks[i] }).collect();
        ReduceKernel {
            kind: r.kind,
            shape: x.to_vec(),
            in_strides: strides(x),
            out_strides,
            count: r.axes.iter().map(|&a| x[a]).product(),
        }
    }

    pub fn run(&self, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let init = match self.kind {
            ReduceKind::Mean | ReduceKind::Sum => 0.0,
            ReduceKind::Max => f32::NEG_INFINITY,
            ReduceKind::Min => f32::INFINITY,
            ReduceKind::Prod => 1.0,
        };
        out.fill(init);
        let kind = self.kind;
        for_each_run(&self.shape, &self.in_strides, &self.out_strides, 0, 0, |ix, io_, n, _, so| {
            let src = &x[ix..ix + n];
            if so == 0 {
                let o = &mut out[io_];
                *o = match kind {
                    ReduceKind::Mean | ReduceKind::Sum => *o + src.iter().sum::<f32>(),
                    ReduceKind::Max => src.iter().copied().fold(*o, f32::max),
                    ReduceKind::Min => src.iter().copied().fold(*o, f32::min),
                    ReduceKind::Prod => src.iter().product::<f32>() * *o,
                };
            } else {
                for (o, &v) in out[io_..io_ + n].iter_mut().zip(src) {
                    *o = match kind {
                        ReduceKind::Mean | ReduceKind::Sum => *o + v,
                        ReduceKind::Max => o.max(v),
                        ReduceKind::Min => o.min(v),
                        ReduceKind::Prod => *o * v,
                    };
                }
            }
        });
        if self.kind == ReduceKind::Mean {
            let inv = 1.0 / self.count.max(1) as f32;
            out.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

pub struct SoftmaxKernel {
    outer: usize,
    dim: usize,
    inner: usize,
}

impl SoftmaxKernel {
    pub fn new(x: &[usize], axis: usize) -> SoftmaxKernel {
        SoftmaxKernel { outer: x[..axis].iter().product(), dim: x[axis], inner: x[axis + 1..].iter().product() }
    }

    pub fn run(&self, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let (d, inner) = (self.dim, self.inner);
        for o in 0..self.outer {
            let base = o * d * inner;
            if inner == 1 {
                let src = &x[base..base + d];
                let dst = &mut out[base..base + d];
                let max = src.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for (y, &v) in dst.iter_mut().zip(src) {
                    *y = (v - max).exp();
                    sum += *y;
                }
                let inv = 1.0 / sum;
                dst.iter_mut().for_each(|y| *y *= inv);
                continue;
            }
            for i in 0..inner {
                let at = |j: usize| base + j * inner + i;
                let max = (0..d).map(|j| x[at(j)]).fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for j in 0..d {
                    let e = (x[at(j)] - max).exp();
                    out[at(j)] = e;
                    sum += e;
                }
                for j in 0..d {
                    out[at(j)] /= sum;
                }
            }
        }
    }
}

pub struct LayerNormKernel {
    rows: usize,
    n: usize,
    epsilon: f32,
    scale: Operand,
    bias: Option<Operand>,
}

/// Where scale and bias come from: an expanded constant or the runtime input itself.
#[derive(Clone, Copy)]
enum Operand {
    Extra(usize),
    Input(usize),
}

impl LayerNormKernel {
    /// Scale and bias are expanded to the normalized shape at compile time when they are
    /// constants that broadcast; runtime ones must already have that many elements (or one).
    pub fn compile(graph: &Graph, node: &Node, l: &LayerNorm) -> Result<Compiled, CpuError> {
        let x = &graph.ty(node.inputs[0]).shape;
        let norm = &x[l.axis..];
        let n: usize = norm.iter().product();
        let mut extra_consts = Vec::new();
        let mut operands = Vec::new();
        for (i, &v) in node.inputs.iter().enumerate().skip(1) {
            let ty = graph.ty(v);
            if let Some(t) = graph.constant(v) {
                let expanded = edgeport_ir::eval::broadcast_to(t, norm)
                    .map_err(|e| unsupported(node, format!("scale/bias {:?}: {e}", ty.shape)))?;
                operands.push(Operand::Extra(extra_consts.len()));
                extra_consts.push(expanded.to_f32_vec());
            } else if ty.elements() == n {
                operands.push(Operand::Input(i));
            } else {
                return Err(unsupported(node, format!("runtime scale/bias {:?} must have the normalized shape {norm:?}", ty.shape)));
            }
        }
        let rows = x[..l.axis].iter().product();
        let (scale, bias) = (operands[0], operands.get(1).copied());
        Ok(Compiled {
            kernel: Kernel::LayerNorm(LayerNormKernel { rows, n, epsilon: l.epsilon, scale, bias }),
            scratch: 0,
            extra_consts,
        })
    }

    pub fn run(&self, io: &StepIo) {
        let (x, out) = (io.input(0), io.output(0));
        let operand = |o: Operand| match o {
            Operand::Extra(i) => io.extra(i),
            Operand::Input(i) => io.input(i),
        };
        let scale = operand(self.scale);
        let bias = self.bias.map(operand);
        let n = self.n;
        for r in 0..self.rows {
            let src = &x[r * n..][..n];
            let dst = &mut out[r * n..][..n];
            let mean = src.iter().sum::<f32>() / n as f32;
            let var = src.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
            let inv = 1.0 / (var + self.epsilon).sqrt();
            match bias {
                Some(b) => {
                    for (((y, &v), &s), &b) in dst.iter_mut().zip(src).zip(scale).zip(b) {
                        *y = (v - mean) * inv * s + b;
                    }
                }
                None => {
                    for ((y, &v), &s) in dst.iter_mut().zip(src).zip(scale) {
                        *y = (v - mean) * inv * s;
                    }
                }
            }
        }
    }
}

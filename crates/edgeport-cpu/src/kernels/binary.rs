//! Broadcasting binary arithmetic (numpy rules) and PRelu.

use edgeport_ir::ops::BinaryOp;

use super::StepIo;
use crate::strided::{broadcast_strides, for_each_run};

#[derive(Debug, Clone, Copy)]
pub enum BinaryFn {
    Op(BinaryOp),
    /// x where x >= 0, else x * slope.
    PRelu,
}

pub struct BinaryKernel {
    f: BinaryFn,
    shape: Vec<usize>,
    sa: Vec<isize>,
    sb: Vec<isize>,
    /// Both operands have the output's shape: one flat loop.
    same_shape: bool,
}

impl BinaryKernel {
    pub fn new(f: BinaryFn, a: &[usize], b: &[usize], out: &[usize]) -> BinaryKernel {
        BinaryKernel {
            f,
            shape: out.to_vec(),
            sa: broadcast_strides(a, out.len()),
            sb: broadcast_strides(b, out.len()),
            same_shape: a == out && b == out,
        }
    }

    pub fn run(&self, io: &StepIo) {
        let (a, b, out) = (io.input(0), io.input(1), io.output(0));
        match self.f {
            BinaryFn::Op(BinaryOp::Add) => self.apply(a, b, out, |x, y| x + y),
            BinaryFn::Op(BinaryOp::Sub) => self.apply(a, b, out, |x, y| x - y),
            BinaryFn::Op(BinaryOp::Mul) => self.apply(a, b, out, |x, y| x * y),
            BinaryFn::Op(BinaryOp::Div) => self.apply(a, b, out, |x, y| x / y),
            BinaryFn::Op(op) => self.apply(a, b, out, |x, y| op.apply_f32(x, y)),
            BinaryFn::PRelu => self.apply(a, b, out, |x, s| if x < 0.0 { x * s } else { x }),
        }
    }

    #[inline(always)]
    fn apply(&self, a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
        if self.same_shape {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
            return;
        }
        let mut pos = 0usize;
        for_each_run(&self.shape, &self.sa, &self.sb, 0, 0, |ia, ib, n, step_a, step_b| {
            let o = &mut out[pos..pos + n];
            match (step_a, step_b) {
                (1, 1) => o.iter_mut().zip(&a[ia..ia + n]).zip(&b[ib..ib + n]).for_each(|((o, &x), &y)| *o = f(x, y)),
                (1, 0) => {
                    let y = b[ib];
                    o.iter_mut().zip(&a[ia..ia + n]).for_each(|(o, &x)| *o = f(x, y));
                }
                (0, 1) => {
                    let x = a[ia];
                    o.iter_mut().zip(&b[ib..ib + n]).for_each(|(o, &y)| *o = f(x, y));
                }
                _ => {
                    let (mut i, mut j) = (ia as isize, ib as isize);
                    for o in o.iter_mut() {
                        *o = f(a[i as usize], b[j as usize]);
                        i += step_a;
                        j += step_b;
                    }
                }
            }
            pos += n;
        });
    }
}

//! numpy matmul: batch dims broadcast, rank-1 operands promoted; one gemm per batch entry.

use super::conv::gemm_strided;
use super::StepIo;
use crate::strided::{broadcast_strides, for_each_run};

pub struct MatMulKernel {
    m: usize,
    k: usize,
    n: usize,
    /// (lhs offset, rhs offset) per batch entry, in output order.
    batches: Vec<(usize, usize)>,
}

impl MatMulKernel {
    pub fn new(a: &[usize], b: &[usize]) -> MatMulKernel {
        let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
        let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
        let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
        let n = b2[b2.len() - 1];
        let (ba, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
        let batch = edgeport_ir::ops::broadcast_shapes(ba, bb).unwrap_or_default();
        // batch strides in units of whole matrices
        let sa: Vec<isize> = broadcast_strides(ba, batch.len()).iter().map(|s| s * (m * k) as isize).collect();
        let sb: Vec<isize> = broadcast_strides(bb, batch.len()).iter().map(|s| s * (k * n) as isize).collect();
        let mut batches = Vec::new();
        for_each_run(&batch, &sa, &sb, 0, 0, |ia, ib, len, step_a, step_b| {
            for j in 0..len as isize {
                batches.push(((ia as isize + j * step_a) as usize, (ib as isize + j * step_b) as usize));
            }
        });
        MatMulKernel { m, k, n, batches }
    }

    pub fn run(&self, io: &StepIo) {
        let (a, b, out) = (io.input(0), io.input(1), io.output(0));
        let (m, k, n) = (self.m, self.k, self.n);
        out.fill(0.0);
        for (i, &(oa, ob)) in self.batches.iter().enumerate() {
            let dst = &mut out[i * m * n..][..m * n];
            gemm_strided(m, n, k, dst, n, true, &a[oa..oa + m * k], k, 1, &b[ob..ob + k * n], n, 1, io.parallelism);
        }
    }
}

//! Row-major iteration over a shape with per-operand strides; the one loop behind broadcast
//! arithmetic, transposes, slices and reductions. Counters live on the stack (rank <= 8).

use edgeport_ir::limits::MAX_RANK;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<isize> {
    let mut s = vec![1isize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1] as isize;
    }
    s
}

/// Strides of `shape` right-aligned against a broadcast target of `rank` dims, 0 where the
/// operand is broadcast.
pub fn broadcast_strides(shape: &[usize], rank: usize) -> Vec<isize> {
    let own = strides(shape);
    let mut out = vec![0isize; rank];
    for (i, (&d, &s)) in shape.iter().zip(&own).enumerate() {
        if d != 1 {
            out[rank - shape.len() + i] = s;
        }
    }
    out
}

/// Calls `f(a, b, n, step_a, step_b)` for every run of the innermost dim of `shape`, where `a`
/// and `b` are the operands' offsets at the start of the run (plus `base_a`/`base_b`). The
/// output offset of a run is its index times the innermost extent.
pub fn for_each_run(
    shape: &[usize],
    sa: &[isize],
    sb: &[isize],
    base_a: isize,
    base_b: isize,
    mut f: impl FnMut(usize, usize, usize, isize, isize),
) {
    let rank = shape.len();
    if rank == 0 {
        f(base_a as usize, base_b as usize, 1, 0, 0);
        return;
    }
    if shape.contains(&0) {
        return;
    }
    debug_assert!(rank <= MAX_RANK);
    let inner = shape[rank - 1];
    let (ia, ib) = (sa[rank - 1], sb[rank - 1]);
    let mut idx = [0usize; MAX_RANK];
    let (mut a, mut b) = (base_a, base_b);
    loop {
        f(a as usize, b as usize, inner, ia, ib);
        // advance the outer counters
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            a += sa[d];
            b += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            a -= sa[d] * shape[d] as isize;
            b -= sb[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
}

/// Copies the strided view (`shape`, `src_strides`, `base`) of `src` into contiguous `dst`.
pub fn copy_view(dst: &mut [f32], src: &[f32], shape: &[usize], src_strides: &[isize], base: isize) {
    let zeros = [0isize; MAX_RANK];
    let mut out = 0usize;
    for_each_run(shape, src_strides, &zeros[..shape.len()], base, 0, |a, _, n, step, _| {
        let dst = &mut dst[out..out + n];
        if step == 1 {
            dst.copy_from_slice(&src[a..a + n]);
        } else {
            let mut i = a as isize;
            for d in dst.iter_mut() {
                *d = src[i as usize];
                i += step;
            }
        }
        out += n;
    });
}

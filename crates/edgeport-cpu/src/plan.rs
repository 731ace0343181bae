//! Memory planning: one arena for every runtime value and scratch buffer, ranges reused once
//! a value is dead; one packed buffer for constants.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// A range of floats in the arena or in the weights.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Buf {
    pub weights: bool,
    pub offset: usize,
    pub len: usize,
}

/// Sizes decided at planning time (bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPlan {
    /// The activation arena: every intermediate value and scratch buffer, with reuse.
    pub arena_bytes: u64,
    /// What the arena would be without reuse (each value its own buffer).
    pub unshared_bytes: u64,
    /// Constants (weights) as the runtime holds them.
    pub weights_bytes: u64,
    /// Steps after fusion (activations folded into their producer, reshapes aliased).
    pub steps: usize,
}

/// A value's lifetime in step indices (inclusive at both ends) and its length in floats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interval {
    pub first: usize,
    pub last: usize,
    pub len: usize,
}

/// Offsets for `intervals` such that values alive at the same time never overlap. Greedy by
/// size (largest first), each at the lowest offset that fits; offsets are 16-float aligned.
pub(crate) fn assign_offsets(intervals: &[Interval]) -> (Vec<usize>, usize) {
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

/// The arena and weights during one run. Kernels get slices of it through `StepIo`.
pub(crate) struct Memory<'a> {
    arena: *mut f32,
    arena_len: usize,
    weights: &'a [f32],
    _arena: PhantomData<&'a mut [f32]>,
}

impl<'a> Memory<'a> {
    pub fn new(arena: &'a mut [f32], weights: &'a [f32]) -> Memory<'a> {
        Memory { arena: arena.as_mut_ptr(), arena_len: arena.len(), weights, _arena: PhantomData }
    }

    pub fn read(&self, b: Buf) -> &'a [f32] {
        if b.weights {
            return &self.weights[b.offset..b.offset + b.len];
        }
        assert!(b.offset + b.len <= self.arena_len, "buffer outside the arena");
        // SAFETY: in bounds (checked above); no `&mut` to this range exists while the step
        // that reads it runs (planner invariant: a step's outputs never overlap its inputs).
        unsafe { std::slice::from_raw_parts(self.arena.add(b.offset), b.len) }
    }

    /// # Safety
    /// The caller must not hold any other reference to this range while the result lives.
    pub unsafe fn write(&self, b: Buf) -> &'a mut [f32] {
        assert!(!b.weights && b.offset + b.len <= self.arena_len, "write outside the arena");
        // SAFETY: in bounds; exclusivity is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.arena.add(b.offset), b.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_values_never_overlap_and_dead_ones_are_reused() {
        let iv = [
            Interval { first: 0, last: 1, len: 100 },
            Interval { first: 1, last: 2, len: 50 },
            Interval { first: 2, last: 3, len: 100 },
            Interval { first: 3, last: 3, len: 10 },
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
}

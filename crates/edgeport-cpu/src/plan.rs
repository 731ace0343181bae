//! Memory layout of a run: one arena for every runtime value and scratch buffer (offsets from
//! `edgeport_ir::arena`), one packed buffer for constants.

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

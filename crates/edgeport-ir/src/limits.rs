//! Size limits checked before anything is allocated. Models beyond them are rejected with
//! an error naming the value; they are far above anything that runs on a phone.

use crate::{IrError, IrResult};

/// Largest single dimension.
pub const MAX_DIM: usize = 1 << 24;
/// Largest element count of one tensor (256 Mi elements = 1 GiB of float32).
pub const MAX_ELEMENTS: usize = 1 << 28;
/// Largest rank.
pub const MAX_RANK: usize = 8;
/// Largest node count of one graph.
pub const MAX_NODES: usize = 100_000;

/// Element count of `shape`, or an error naming `value` when a limit is exceeded.
pub fn checked_elements(value: &str, shape: &[usize]) -> IrResult<usize> {
    if shape.len() > MAX_RANK {
        return Err(IrError::Limit {
            value: value.to_string(),
            message: format!("rank {} exceeds the limit of {MAX_RANK}", shape.len()),
        });
    }
    let mut n: usize = 1;
    for &d in shape {
        if d > MAX_DIM {
            return Err(IrError::Limit {
                value: value.to_string(),
                message: format!("dimension {d} exceeds the limit of {MAX_DIM}"),
            });
        }
        n = n.checked_mul(d).filter(|&n| n <= MAX_ELEMENTS).ok_or_else(|| IrError::Limit {
            value: value.to_string(),
            message: format!("shape {shape:?} exceeds the limit of {MAX_ELEMENTS} elements"),
        })?;
    }
    Ok(n)
}

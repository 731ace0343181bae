//! Magnitude pruning: the smallest weights by magnitude become exact zeros, either a target
//! fraction of every weight tensor (`Sparsity`) or every value below a threshold (`Threshold`),
//! as coremltools' `OpMagnitudePrunerConfig` does. Exporters that store sparse weights (Core
//! ML's `constexpr_sparse_to_dense`) recover the mask from the zeros ([`sparse`]).

use edgeport_ir::{DType, Graph, Tensor};

use crate::Quantized;
use crate::weights;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prune {
    /// Fraction of each weight tensor set to zero, in [0, 1).
    Sparsity(f32),
    /// Values with |w| below this become zero.
    Threshold(f32),
}

impl Prune {
    /// Whether the amount is usable: sparsity in [0, 1), a finite non-negative threshold.
    pub fn check(self) -> Result<(), String> {
        match self {
            Prune::Sparsity(s) if !(0.0..1.0).contains(&s) => Err(format!("sparsity {s} is outside [0, 1)")),
            Prune::Threshold(t) if !(t.is_finite() && t >= 0.0) => Err(format!("threshold {t} must be a finite value >= 0")),
            _ => Ok(()),
        }
    }
}

/// Zeroes the smallest weights of every weight tensor of `g`; returns what changed.
pub fn prune_weights(g: &mut Graph, how: Prune) -> Vec<Quantized> {
    let mut done = Vec::new();
    for (v, axis) in weights::candidates(g) {
        let Some(t) = g.constant(v) else { continue };
        let mut values = t.to_f32_vec();
        prune(&mut values, how);
        let Ok(t) = Tensor::from_f32(t.shape().to_vec(), values) else { continue };
        let t = if g.ty(v).dtype == DType::F32 { t } else { t.cast(g.ty(v).dtype) };
        done.push(Quantized { name: g.value(v).name.clone(), elements: t.len(), axis });
        g.set_const(v, t);
    }
    done
}

/// Zeroes the values `how` selects. For a sparsity, the `round(s * n)` smallest magnitudes,
/// ties broken by position, so the result does not depend on the sort.
pub fn prune(values: &mut [f32], how: Prune) {
    match how {
        Prune::Threshold(t) => {
            for x in values.iter_mut().filter(|x| x.abs() < t) {
                *x = 0.0;
            }
        }
        Prune::Sparsity(s) => {
            let k = ((f64::from(s) * values.len() as f64).round() as usize).min(values.len());
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()).then(a.cmp(&b)));
            for &i in &order[..k] {
                values[i] = 0.0;
            }
        }
    }
}

/// A tensor stored sparse: a bit per value (set where it is nonzero, least significant bit
/// first) and the nonzero values in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse {
    pub mask: Vec<u8>,
    pub nonzero: Vec<f32>,
}

impl Sparse {
    /// The entries of `values` (one per value of the tensor) where the mask is set, in order:
    /// another encoding of the nonzero values.
    pub fn select<T: Copy>(&self, values: &[T]) -> Vec<T> {
        values.iter().enumerate().filter(|&(i, _)| self.mask.get(i / 8).is_some_and(|m| m >> (i % 8) & 1 == 1)).map(|(_, &v)| v).collect()
    }
}

/// The sparse form of `values` when it is smaller than dense storage of `bytes_per_value`
/// (more than one value in `8 * bytes_per_value + 1` is zero); `None` otherwise.
pub fn sparse(values: &[f32], bytes_per_value: usize) -> Option<Sparse> {
    let nonzero: Vec<f32> = values.iter().copied().filter(|&x| x != 0.0).collect();
    let sparse_bytes = nonzero.len() * bytes_per_value + values.len().div_ceil(8);
    if sparse_bytes >= values.len() * bytes_per_value {
        return None;
    }
    let mut mask = vec![0u8; values.len().div_ceil(8)];
    for (i, &x) in values.iter().enumerate() {
        if x != 0.0 {
            mask[i / 8] |= 1 << (i % 8);
        }
    }
    Some(Sparse { mask, nonzero })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sparsity_zeroes_the_smallest_magnitudes() {
        let mut v = vec![0.5, -0.1, 3.0, -2.0, 0.2, 0.1, -0.3, 1.0];
        prune(&mut v, Prune::Sparsity(0.5));
        // |0.1| twice (position breaks the tie), 0.2, 0.3
        assert_eq!(v, vec![0.5, 0.0, 3.0, -2.0, 0.0, 0.0, 0.0, 1.0]);
        let mut t = vec![0.5, -0.1, 3.0, 0.05];
        prune(&mut t, Prune::Threshold(0.2));
        assert_eq!(t, vec![0.5, 0.0, 3.0, 0.0]);
        assert!(Prune::Sparsity(1.0).check().is_err() && Prune::Sparsity(-0.1).check().is_err());
        assert!(Prune::Threshold(f32::NAN).check().is_err() && Prune::Sparsity(0.0).check().is_ok());
    }

    #[test]
    fn sparse_form_packs_the_mask_lsb_first() {
        let mut v = vec![0.0f32; 16];
        v[1] = 2.0;
        v[9] = -1.0;
        let s = sparse(&v, 2).unwrap();
        assert_eq!(s.mask, vec![0b0000_0010, 0b0000_0010]);
        assert_eq!(s.nonzero, vec![2.0, -1.0]);
        // dense data is cheaper dense
        assert!(sparse(&[1.0; 16], 2).is_none());
    }
}

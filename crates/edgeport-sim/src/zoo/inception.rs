//! Inception-v4.

use crate::workload::{T, Workload, WorkloadBuilder};

/// Conv + ReLU with "same" padding (batch norm folded), rectangular kernel `[kh, kw]`.
fn same(b: &mut WorkloadBuilder, x: T, cout: usize, k: [usize; 2], stride: usize) -> T {
    let y = b.conv_rect(x, cout, k, stride, 1);
    b.act(y, "Relu")
}

/// Conv + ReLU without padding (the paper's "V" convolutions).
fn valid(b: &mut WorkloadBuilder, x: T, cout: usize, k: usize, stride: usize) -> T {
    let y = b.conv_pad(x, cout, [k, k], stride, 1, [0, 0]);
    b.act(y, "Relu")
}

/// Inception-v4 (Szegedy et al. 2016, arXiv:1602.07261, Figures 3-9; layer names and depths as
/// in TF-slim `inception_v4.py`), 299x299, 1001 classes, no auxiliary head (inference).
/// Published (OpenVINO Open Model Zoo `googlenet-v4-tf`, the TF-slim checkpoint): 24.584 GFLOPs
/// (= 12.29 G MACs), 42.648 M params.
pub fn inception_v4(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("Inception-v4 {res}"));
    let x = b.input(&[3, res, res]);
    let mut x = stem(&mut b, x);
    for _ in 0..4 {
        x = block_a(&mut b, x);
    }
    x = reduction_a(&mut b, x);
    for _ in 0..7 {
        x = block_b(&mut b, x);
    }
    x = reduction_b(&mut b, x);
    for _ in 0..3 {
        x = block_c(&mut b, x);
    }
    let x = b.global_pool(x);
    let x = b.linear(x, 1001);
    let x = b.softmax(x);
    b.output(x);
    b.finish()
}

/// Figure 3: 299 -> 35x35x384.
fn stem(b: &mut WorkloadBuilder, x: T) -> T {
    let x = valid(b, x, 32, 3, 2); // 149
    let x = valid(b, x, 32, 3, 1); // 147
    let x = same(b, x, 64, [3, 3], 1);
    let p = b.pool_valid(x, "MaxPool", 3, 2); // 73
    let c = valid(b, x, 96, 3, 2);
    let x = b.concat(&[p, c]); // 160
    let b0 = same(b, x, 64, [1, 1], 1);
    let b0 = valid(b, b0, 96, 3, 1); // 71
    let b1 = same(b, x, 64, [1, 1], 1);
    let b1 = same(b, b1, 64, [1, 7], 1);
    let b1 = same(b, b1, 64, [7, 1], 1);
    let b1 = valid(b, b1, 96, 3, 1);
    let x = b.concat(&[b0, b1]); // 192
    let c = valid(b, x, 192, 3, 2); // 35
    let p = b.pool_valid(x, "MaxPool", 3, 2);
    b.concat(&[c, p]) // 384
}

/// Figure 4: Inception-A, 35x35x384.
fn block_a(b: &mut WorkloadBuilder, x: T) -> T {
    let b0 = same(b, x, 96, [1, 1], 1);
    let b1 = same(b, x, 64, [1, 1], 1);
    let b1 = same(b, b1, 96, [3, 3], 1);
    let b2 = same(b, x, 64, [1, 1], 1);
    let b2 = same(b, b2, 96, [3, 3], 1);
    let b2 = same(b, b2, 96, [3, 3], 1);
    let b3 = b.pool(x, "AveragePool", 3, 1);
    let b3 = same(b, b3, 96, [1, 1], 1);
    b.concat(&[b0, b1, b2, b3])
}

/// Figure 7: Reduction-A (k, l, m, n = 192, 224, 256, 384), 35 -> 17, 1024 channels.
fn reduction_a(b: &mut WorkloadBuilder, x: T) -> T {
    let b0 = valid(b, x, 384, 3, 2);
    let b1 = same(b, x, 192, [1, 1], 1);
    let b1 = same(b, b1, 224, [3, 3], 1);
    let b1 = valid(b, b1, 256, 3, 2);
    let b2 = b.pool_valid(x, "MaxPool", 3, 2);
    b.concat(&[b0, b1, b2])
}

/// Figure 5: Inception-B, 17x17x1024.
fn block_b(b: &mut WorkloadBuilder, x: T) -> T {
    let b0 = same(b, x, 384, [1, 1], 1);
    let b1 = same(b, x, 192, [1, 1], 1);
    let b1 = same(b, b1, 224, [1, 7], 1);
    let b1 = same(b, b1, 256, [7, 1], 1);
    let b2 = same(b, x, 192, [1, 1], 1);
    let b2 = same(b, b2, 192, [7, 1], 1);
    let b2 = same(b, b2, 224, [1, 7], 1);
    let b2 = same(b, b2, 224, [7, 1], 1);
    let b2 = same(b, b2, 256, [1, 7], 1);
    let b3 = b.pool(x, "AveragePool", 3, 1);
    let b3 = same(b, b3, 128, [1, 1], 1);
    b.concat(&[b0, b1, b2, b3])
}

/// Figure 8: Reduction-B, 17 -> 8, 1536 channels.
fn reduction_b(b: &mut WorkloadBuilder, x: T) -> T {
    let b0 = same(b, x, 192, [1, 1], 1);
    let b0 = valid(b, b0, 192, 3, 2);
    let b1 = same(b, x, 256, [1, 1], 1);
    let b1 = same(b, b1, 256, [1, 7], 1);
    let b1 = same(b, b1, 320, [7, 1], 1);
    let b1 = valid(b, b1, 320, 3, 2);
    let b2 = b.pool_valid(x, "MaxPool", 3, 2);
    b.concat(&[b0, b1, b2])
}

/// Figure 6: Inception-C, 8x8x1536 (the 1x3 / 3x1 pairs each read the same input).
fn block_c(b: &mut WorkloadBuilder, x: T) -> T {
    let b0 = same(b, x, 256, [1, 1], 1);
    let b1 = same(b, x, 384, [1, 1], 1);
    let b1a = same(b, b1, 256, [1, 3], 1);
    let b1b = same(b, b1, 256, [3, 1], 1);
    let b2 = same(b, x, 384, [1, 1], 1);
    let b2 = same(b, b2, 448, [3, 1], 1);
    let b2 = same(b, b2, 512, [1, 3], 1);
    let b2a = same(b, b2, 256, [1, 3], 1);
    let b2b = same(b, b2, 256, [3, 1], 1);
    let b3 = b.pool(x, "AveragePool", 3, 1);
    let b3 = same(b, b3, 256, [1, 1], 1);
    b.concat(&[b0, b1a, b1b, b2a, b2b, b3])
}

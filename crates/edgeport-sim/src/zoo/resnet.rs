//! ResNet-50.

use super::{Act, conv_act};
use crate::workload::{T, Workload, WorkloadBuilder};

/// ResNet-50 (He et al. 2016, arXiv:1512.03385, Table 1), torchvision layout ("v1.5": the stride
/// of a downsampling bottleneck is on its 3x3 conv; batch norm folded into the convs).
/// Published (torchvision model card, 224): 4.09 G MACs ("GFLOPS"), 25.6 M params.
/// At 299x299 (Coral's "ResNet-50 V1 (299x299)") the maps are 150/75/38/19/10.
pub fn resnet50(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("ResNet-50 {res}"));
    let x = b.input(&[3, res, res]);
    let x = conv_act(&mut b, x, 64, 7, 2, 1, Act::Relu);
    let mut x = b.pool(x, "MaxPool", 3, 2);
    // (bottleneck width, blocks, first stride): conv2_x .. conv5_x.
    for (width, blocks, stride) in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)] {
        for i in 0..blocks {
            x = bottleneck(&mut b, x, width, if i == 0 { stride } else { 1 });
        }
    }
    let x = b.global_pool(x);
    let x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

/// 1x1 -> 3x3 (stride) -> 1x1 (4x width), projection shortcut when the shape changes.
fn bottleneck(b: &mut WorkloadBuilder, x: T, width: usize, stride: usize) -> T {
    let cout = 4 * width;
    let mut y = conv_act(b, x, width, 1, 1, 1, Act::Relu);
    y = conv_act(b, y, width, 3, stride, 1, Act::Relu);
    y = b.conv(y, cout, 1, 1, 1);
    let shortcut = if stride != 1 || b.channels(x) != cout { b.conv(x, cout, 1, stride, 1) } else { x };
    let y = b.add(y, shortcut);
    b.act(y, "Relu")
}

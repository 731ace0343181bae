//! EfficientNet-B0 and EfficientNet-Lite.

use super::{Act, conv_act, make_divisible, se};
use crate::workload::{Workload, WorkloadBuilder};

/// EfficientNet-B0 stages (Tan & Le 2019, arXiv:1905.11946, Table 1):
/// (kernel, stride, expansion, channels, repeats).
const B0_STAGES: [(usize, usize, usize, usize, usize); 7] =
    [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)];

/// EfficientNet (reference implementation tensorflow/tpu `efficientnet_builder.py` /
/// `efficientnet_lite_builder.py`).
///
/// - B0 (`lite = false`, width = depth = 1.0): MBConv blocks with SE (squeeze to a quarter of the
///   block's input channels) and swish (`Sigmoid` + `Mul`). Published (paper Table 2): 0.39 G
///   FLOPs (counted as mult-adds), 5.3 M params.
/// - Lite (`lite = true`): no SE, ReLU6, stem (32) and head (1280) not scaled, and the first and
///   last stages keep their repeats. Published (EfficientNet-lite README): Lite0 (1.0, 1.0, 224)
///   407 M MAdds, 4.7 M params; Lite4 (1.4, 1.8, 300) 2.64 B MAdds, 13.0 M params.
pub fn efficientnet(res: usize, width: f64, depth: f64, lite: bool) -> Workload {
    let name = if lite { "EfficientNet-Lite" } else { "EfficientNet" };
    let mut b = WorkloadBuilder::new(&format!("{name} w{width} d{depth} {res}"));
    let act = if lite { Act::Relu6 } else { Act::Silu };
    let filters = |c: usize| make_divisible(c as f64 * width, 8);
    let x = b.input(&[3, res, res]);
    let stem = if lite { 32 } else { filters(32) };
    let mut x = conv_act(&mut b, x, stem, 3, 2, 1, act);
    for (i, &(k, s, e, c, n)) in B0_STAGES.iter().enumerate() {
        let fixed = lite && (i == 0 || i == B0_STAGES.len() - 1);
        let repeats = if fixed { n } else { (depth * n as f64).ceil() as usize };
        let cout = filters(c);
        for r in 0..repeats {
            let stride = if r == 0 { s } else { 1 };
            let cin = b.channels(x);
            let mut y = x;
            if e != 1 {
                y = conv_act(&mut b, y, cin * e, 1, 1, 1, act);
            }
            let hidden = b.channels(y);
            y = conv_act(&mut b, y, hidden, k, stride, hidden, act);
            if !lite {
                y = se(&mut b, y, (cin / 4).max(1), Act::Silu, Act::Sigmoid);
            }
            y = b.conv(y, cout, 1, 1, 1);
            x = if stride == 1 && cin == cout { b.add(x, y) } else { y };
        }
    }
    let head = if lite { 1280 } else { filters(1280) };
    x = conv_act(&mut b, x, head, 1, 1, 1, act);
    x = b.global_pool(x);
    x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

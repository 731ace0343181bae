//! MobileNet V1, V2 and V3.

use super::{Act, conv_act, make_divisible, se};
use crate::workload::{T, Workload, WorkloadBuilder};

/// MobileNetV1 (Howard et al. 2017, arXiv:1704.04861, Table 1): a 3x3 stride-2 stem and 13
/// depthwise-separable blocks, ReLU6 (as in the TF-slim / TFLite model), 1000-way classifier.
/// Published (Table 8 / TF-slim mobilenet_v1.md, 1.0 224): 569 M mult-adds, 4.24 M params.
pub fn mobilenet_v1(res: usize, width: f64) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("MobileNetV1 {width} {res}"));
    let x = b.input(&[3, res, res]);
    let (_, out) = mobilenet_v1_features(&mut b, x, width, 8);
    let x = b.global_pool(out);
    let x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

/// The MobileNetV1 body: returns (`Conv2d_11_pointwise`, `Conv2d_13_pointwise`), the two layers
/// SSD takes its first feature maps from. Channels are `max(c * width, min_depth)`.
pub fn mobilenet_v1_features(b: &mut WorkloadBuilder, x: T, width: f64, min_depth: usize) -> (T, T) {
    let d = |c: usize| ((c as f64 * width) as usize).max(min_depth);
    let mut x = conv_act(b, x, d(32), 3, 2, 1, Act::Relu6);
    // (pointwise channels, depthwise stride): Table 1.
    let cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)];
    let mut conv11 = x;
    for (i, (c, s)) in cfg.into_iter().enumerate() {
        let cin = b.channels(x);
        x = conv_act(b, x, cin, 3, s, cin, Act::Relu6);
        x = conv_act(b, x, d(c), 1, 1, 1, Act::Relu6);
        if i == 10 {
            conv11 = x;
        }
    }
    (conv11, x)
}

/// Taps into a MobileNetV2 body for detection and segmentation heads.
pub struct V2Features {
    /// Output of the last 24-channel block (stride 4): DeepLabV3+'s low-level features.
    pub stride4: T,
    /// `layer_15/expansion_output`: the expansion of the first 160-channel block (SSD's first map).
    pub expansion_15: T,
    /// Output of the 320-channel block (before the 1x1 1280 conv).
    pub out: T,
}

/// The MobileNetV2 body (Sandler et al. 2018, arXiv:1801.04381, Table 2): inverted residual
/// blocks with ReLU6. `output_stride` 16 turns the stride of the 160-channel stage into a
/// dilation (same arithmetic, the map stays at 1/16), as DeepLab does.
pub fn mobilenet_v2_features(b: &mut WorkloadBuilder, x: T, width: f64, output_stride: usize) -> V2Features {
    let mut x = conv_act(b, x, make_divisible(32.0 * width, 8), 3, 2, 1, Act::Relu6);
    let mut stride_so_far = 2;
    // (expansion t, channels c, repeats n, first stride s): Table 2.
    let cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
    let (mut stride4, mut expansion_15) = (x, x);
    for (t, c, n, s) in cfg {
        let cout = make_divisible(c as f64 * width, 8);
        for i in 0..n {
            let mut stride = if i == 0 { s } else { 1 };
            if stride_so_far * stride > output_stride {
                stride = 1; // dilated instead
            }
            stride_so_far *= stride;
            let cin = b.channels(x);
            let mut y = x;
            if t != 1 {
                y = conv_act(b, y, cin * t, 1, 1, 1, Act::Relu6);
                if c == 160 && i == 0 {
                    expansion_15 = y;
                }
            }
            let hidden = b.channels(y);
            y = conv_act(b, y, hidden, 3, stride, hidden, Act::Relu6);
            y = b.conv(y, cout, 1, 1, 1);
            x = if stride == 1 && cin == cout { b.add(x, y) } else { y };
        }
        if c == 24 {
            stride4 = x;
        }
    }
    V2Features { stride4, expansion_15, out: x }
}

/// MobileNetV2 classifier. Published (paper Table 4, 1.0 224): 300 M mult-adds, 3.4 M params.
pub fn mobilenet_v2(res: usize, width: f64) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("MobileNetV2 {width} {res}"));
    let x = b.input(&[3, res, res]);
    let f = mobilenet_v2_features(&mut b, x, width, 32);
    let last = if width > 1.0 { make_divisible(1280.0 * width, 8) } else { 1280 };
    let mut x = conv_act(&mut b, f.out, last, 1, 1, 1, Act::Relu6);
    x = b.global_pool(x);
    x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

/// One MobileNetV3 bneck row: (kernel, expanded size, out channels, SE, activation, stride).
type Bneck = (usize, usize, usize, bool, Act, usize);

/// MobileNetV3-Large, Table 1 of Howard et al. 2019 (arXiv:1905.02244).
const V3_LARGE: [Bneck; 15] = [
    (3, 16, 16, false, Act::Relu, 1),
    (3, 64, 24, false, Act::Relu, 2),
    (3, 72, 24, false, Act::Relu, 1),
    (5, 72, 40, true, Act::Relu, 2),
    (5, 120, 40, true, Act::Relu, 1),
    (5, 120, 40, true, Act::Relu, 1),
    (3, 240, 80, false, Act::HardSwish, 2),
    (3, 200, 80, false, Act::HardSwish, 1),
    (3, 184, 80, false, Act::HardSwish, 1),
    (3, 184, 80, false, Act::HardSwish, 1),
    (3, 480, 112, true, Act::HardSwish, 1),
    (3, 672, 112, true, Act::HardSwish, 1),
    (5, 672, 160, true, Act::HardSwish, 2),
    (5, 960, 160, true, Act::HardSwish, 1),
    (5, 960, 160, true, Act::HardSwish, 1),
];

/// MobileNetV3-Small, Table 2 of the same paper.
const V3_SMALL: [Bneck; 11] = [
    (3, 16, 16, true, Act::Relu, 2),
    (3, 72, 24, false, Act::Relu, 2),
    (3, 88, 24, false, Act::Relu, 1),
    (5, 96, 40, true, Act::HardSwish, 2),
    (5, 240, 40, true, Act::HardSwish, 1),
    (5, 240, 40, true, Act::HardSwish, 1),
    (5, 120, 48, true, Act::HardSwish, 1),
    (5, 144, 48, true, Act::HardSwish, 1),
    (5, 288, 96, true, Act::HardSwish, 2),
    (5, 576, 96, true, Act::HardSwish, 1),
    (5, 576, 96, true, Act::HardSwish, 1),
];

/// MobileNetV3 (torchvision layout, as AI Hub and Core ML export it): HardSwish stem, bneck
/// blocks with SE (squeeze to `make_divisible(exp / 4)`, ReLU, HardSigmoid gate), a 1x1 conv to
/// 960 / 576, global pool, 1280 / 1024 fully connected with HardSwish, 1000 classes.
/// Published (paper Table 3, final version; torchvision model cards, which count 5.48 M / 2.54 M
/// params and 0.22 / 0.06 G MACs): Large 219 M MAdds, 5.4 M params; Small 56 M, 2.5 M. (The
/// older TF-slim Small checkpoint, listed at 66 M / 2.9 M, has a different head.)
pub fn mobilenet_v3(res: usize, large: bool) -> Workload {
    let name = if large { "MobileNetV3-Large" } else { "MobileNetV3-Small" };
    let mut b = WorkloadBuilder::new(&format!("{name} {res}"));
    let x = b.input(&[3, res, res]);
    let mut x = conv_act(&mut b, x, 16, 3, 2, 1, Act::HardSwish);
    let cfg: &[Bneck] = if large { &V3_LARGE } else { &V3_SMALL };
    for &(k, exp, cout, has_se, act, stride) in cfg {
        let cin = b.channels(x);
        let mut y = x;
        if exp != cin {
            y = conv_act(&mut b, y, exp, 1, 1, 1, act);
        }
        y = conv_act(&mut b, y, exp, k, stride, exp, act);
        if has_se {
            y = se(&mut b, y, make_divisible(exp as f64 / 4.0, 8), Act::Relu, Act::HardSigmoid);
        }
        y = b.conv(y, cout, 1, 1, 1);
        x = if stride == 1 && cin == cout { b.add(x, y) } else { y };
    }
    let (last_conv, last_fc) = if large { (960, 1280) } else { (576, 1024) };
    x = conv_act(&mut b, x, last_conv, 1, 1, 1, Act::HardSwish);
    x = b.global_pool(x);
    x = b.linear(x, last_fc);
    x = b.act(x, "HardSwish");
    x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

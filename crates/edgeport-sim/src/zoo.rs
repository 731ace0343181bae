//! Well-known architectures as workloads, built layer by layer with [`WorkloadBuilder`], so the
//! simulator can be calibrated against published latencies of those networks without their
//! weights. Each builder follows the paper / reference implementation's layer list; shapes are
//! exact, weights are only counted.

use crate::workload::{Workload, WorkloadBuilder};

/// Every architecture: (id, description, builder).
pub fn all() -> Vec<(&'static str, &'static str, fn() -> Workload)> {
    vec![("mobilenet_v2_224", "MobileNetV2 1.0, 224x224, 1000 classes", mobilenet_v2_224)]
}

/// One architecture by id.
pub fn get(id: &str) -> Option<Workload> {
    all().into_iter().find(|(i, _, _)| *i == id).map(|(_, _, build)| build())
}

fn mobilenet_v2_224() -> Workload {
    mobilenet_v2(224, 1.0)
}

fn make_divisible(v: f64) -> usize {
    let d = 8usize;
    let r = (((v + d as f64 / 2.0) as usize) / d * d).max(d);
    if (r as f64) < 0.9 * v { r + d } else { r }
}

/// MobileNetV2 (Sandler et al. 2018), inverted residual blocks with ReLU6.
pub fn mobilenet_v2(res: usize, width: f64) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("MobileNetV2 {width} {res}"));
    let x = b.input(&[3, res, res]);
    let mut x = b.conv(x, make_divisible(32.0 * width), 3, 2, 1);
    x = b.act(x, "Clip");
    // (expansion t, channels c, repeats n, first stride s)
    let cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
    for (t, c, n, s) in cfg {
        let cout = make_divisible(c as f64 * width);
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let cin = b.channels(x);
            let mut y = x;
            if t != 1 {
                y = b.conv(y, cin * t, 1, 1, 1);
                y = b.act(y, "Clip");
            }
            let hidden = b.channels(y);
            y = b.conv(y, hidden, 3, stride, hidden);
            y = b.act(y, "Clip");
            y = b.conv(y, cout, 1, 1, 1);
            x = if stride == 1 && cin == cout { b.add(x, y) } else { y };
        }
    }
    let last = if width > 1.0 { make_divisible(1280.0 * width) } else { 1280 };
    x = b.conv(x, last, 1, 1, 1);
    x = b.act(x, "Clip");
    x = b.global_pool(x);
    x = b.linear(x, 1000);
    b.output(x);
    b.finish()
}

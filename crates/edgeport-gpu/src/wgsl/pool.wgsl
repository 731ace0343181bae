// Max and average pooling over NCHW planes. 5: src, 6: dst, 7: h, 8: w, 9: oh, 10: ow,
// 11: kh, 12: kw, 13: stride y, 14: stride x, 15..19: pads (top, left, bottom, right),
// 19: 0 max / 1 average, 20: count padding in the average.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let h = i32(p(7u));
    let w = i32(p(8u));
    let oh = p(9u);
    let ow = p(10u);
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let y0 = i32(oy * p(13u)) - i32(p(15u));
    let x0 = i32(ox * p(14u)) - i32(p(16u));
    let y1 = min(y0 + i32(p(11u)), h + i32(p(17u)));
    let x1 = min(x0 + i32(p(12u)), w + i32(p(18u)));
    let ya = max(y0, 0);
    let yb = max(min(y1, h), 0);
    let xa = max(x0, 0);
    let xb = max(min(x1, w), 0);
    let base = p(5u) + plane * u32(h * w);
    let avg = p(19u) == 1u;
    var acc = select(-inf(), 0.0, avg);
    for (var y = ya; y < yb; y++) {
        for (var x = xa; x < xb; x++) {
            let v = ld(base + u32(y * w + x));
            if (avg) { acc += v; } else { acc = max(acc, v); }
        }
    }
    if (avg) {
        var count = f32((yb - ya) * (xb - xa));
        if (p(20u) == 1u) { count = f32((y1 - y0) * (x1 - x0)); }
        acc = acc / max(count, 1.0);
    }
    mem[p(6u) + i] = epilogue(acc);
}

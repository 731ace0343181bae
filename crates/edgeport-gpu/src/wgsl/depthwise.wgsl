// Depthwise convolution (NCHW, one input channel per group), one thread per output.
// 5: x, 6: w, 7: out, 8: bias (NONE: none), 9: C, 10: H, 11: W, 12: OH, 13: OW, 14: kh,
// 15: kw, 16: stride y, 17: stride x, 18: pad top, 19: pad left, 20: dilation y,
// 21: dilation x, 22: channel multiplier, 23: O.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let ow = p(13u);
    let oh = p(12u);
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let o = (i / (ow * oh)) % p(23u);
    let nb = i / (ow * oh * p(23u));
    let c = o / p(22u);
    let h = i32(p(10u));
    let w = i32(p(11u));
    let kh = p(14u);
    let kw = p(15u);
    let src = p(5u) + (nb * p(9u) + c) * u32(h * w);
    let wt = p(6u) + o * kh * kw;
    var acc = 0.0;
    if (p(8u) != NONE) { acc = ld(p(8u) + o); }
    let y0 = i32(oy * p(16u)) - i32(p(18u));
    let x0 = i32(ox * p(17u)) - i32(p(19u));
    for (var ky = 0u; ky < kh; ky++) {
        let iy = y0 + i32(ky * p(20u));
        if (iy < 0 || iy >= h) { continue; }
        for (var kx = 0u; kx < kw; kx++) {
            let ix = x0 + i32(kx * p(21u));
            if (ix < 0 || ix >= w) { continue; }
            acc += ld(src + u32(iy * w + ix)) * ld(wt + ky * kw + kx);
        }
    }
    mem[p(7u) + i] = epilogue(acc);
}

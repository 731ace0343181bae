// ConvTranspose (NCHW), one thread per output gathering the inputs that reach it.
// Weight [C, O/g, kh, kw]. 5: x, 6: w, 7: out, 8: bias (NONE: none), 9: C, 10: H, 11: W,
// 12: O, 13: OH, 14: OW, 15: kh, 16: kw, 17: stride y, 18: stride x, 19: pad top,
// 20: pad left, 21: dilation y, 22: dilation x, 23: groups.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let ow = p(14u);
    let oh = p(13u);
    let big_o = p(12u);
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let o = (i / (ow * oh)) % big_o;
    let nb = i / (ow * oh * big_o);
    let groups = p(23u);
    let og = big_o / groups;
    let cg = p(9u) / groups;
    let g = o / og;
    let h = i32(p(10u));
    let w = i32(p(11u));
    let kh = p(15u);
    let kw = p(16u);
    let sy = i32(p(17u));
    let sx = i32(p(18u));
    var acc = 0.0;
    if (p(8u) != NONE) { acc = ld(p(8u) + o); }
    for (var ci = 0u; ci < cg; ci++) {
        let c = g * cg + ci;
        let src = p(5u) + (nb * p(9u) + c) * u32(h * w);
        let wt = p(6u) + ((c * og) + (o - g * og)) * kh * kw;
        for (var ky = 0u; ky < kh; ky++) {
            let ty = i32(oy + p(19u)) - i32(ky * p(21u));
            if (ty < 0 || ty % sy != 0) { continue; }
            let iy = ty / sy;
            if (iy >= h) { continue; }
            for (var kx = 0u; kx < kw; kx++) {
                let tx = i32(ox + p(20u)) - i32(kx * p(22u));
                if (tx < 0 || tx % sx != 0) { continue; }
                let ix = tx / sx;
                if (ix >= w) { continue; }
                acc += ld(src + u32(iy * w + ix)) * ld(wt + ky * kw + kx);
            }
        }
    }
    mem[p(7u) + i] = epilogue(acc);
}

// Convolution (NCHW) as an implicit gemm: the gemm variant. A is the weight [O/g, C/g*kh*kw]
// of group g, B the input patches gathered on the fly, z = batch * groups + group.
// 8: x, 9: w, 10: out, 11: bias (NONE: none), 12: C/g, 13: H, 14: W, 15: OW, 16: kh, 17: kw,
// 18: stride y, 19: stride x, 20: pad top, 21: pad left, 22: dilation y, 23: dilation x,
// 24: groups, 25: C, 26: O.
var<private> base_x: u32;
var<private> base_w: u32;
var<private> base_c: u32;
var<private> first_o: u32;

fn setup(z: u32) {
    let groups = p(24u);
    let nb = z / groups;
    let g = z % groups;
    let og = p(5u);
    let hw = p(13u) * p(14u);
    base_x = p(8u) + (nb * p(25u) + g * p(12u)) * hw;
    base_w = p(9u) + g * og * p(7u);
    first_o = g * og;
    base_c = p(10u) + (nb * p(26u) + first_o) * p(6u);
}

fn load_a(m: u32, k: u32) -> f32 { return ld(base_w + m * p(7u) + k); }

fn load_b(k: u32, n: u32) -> f32 {
    let kw = p(17u);
    let kh = p(16u);
    let kx = k % kw;
    let ky = (k / kw) % kh;
    let c = k / (kw * kh);
    let ow = p(15u);
    let ox = n % ow;
    let oy = n / ow;
    let iy = i32(oy * p(18u) + ky * p(22u)) - i32(p(20u));
    let ix = i32(ox * p(19u) + kx * p(23u)) - i32(p(21u));
    let h = i32(p(13u));
    let w = i32(p(14u));
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) { return 0.0; }
    return ld(base_x + c * u32(h * w) + u32(iy * w + ix));
}

fn store(m: u32, n: u32, v: f32) {
    var b = 0.0;
    if (p(11u) != NONE) { b = ld(p(11u) + first_o + m); }
    mem[base_c + m * p(6u) + n] = epilogue(v + b);
}

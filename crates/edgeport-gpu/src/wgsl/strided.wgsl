// Strided copy: transpose, slice, reshape copies, concat (one launch per input, into its
// region) and split (one per output), with casts. 5: src, 6: dst, 7: rank, 8: cast,
// 10..18: shape walked, 18..26: src strides (signed), 26..34: dst strides.

// Casts between values carried as float32, saturating like Rust's `as` (NaN to 0).
fn cast_to(v: f32, mode: u32) -> f32 {
    if (mode == 0u) { return v; }
    if (mode == 1u) { return round_f16(v); }
    if (mode == 2u) { return select(0.0, 1.0, v != 0.0); }
    let t = select(0.0, trunc(v), v == v);
    switch mode {
        case 3u: { return clamp(t, -128.0, 127.0); }
        case 4u: { return clamp(t, 0.0, 255.0); }
        case 5u: { return clamp(t, -2147483648.0, 2147483520.0); }
        default: { return t; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    var rest = i;
    var src = i32(p(5u));
    var dst = p(6u);
    let rank = p(7u);
    for (var d = 0u; d < rank; d++) {
        let axis = rank - 1u - d;
        let dim = p(10u + axis);
        let c = rest % dim;
        rest = rest / dim;
        src += i32(c) * pi(18u + axis);
        dst += c * p(26u + axis);
    }
    mem[dst] = epilogue(cast_to(ld(u32(src)), p(8u)));
}

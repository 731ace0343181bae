// Broadcasting binary op. 5: a, 6: b, 7: out, 8: op, 9: rank,
// 10..18: output shape, 18..26: a strides, 26..34: b strides (0 along broadcast axes).

// Powers of negative bases with integral exponents, as powf gives them.
fn pow_any(a: f32, b: f32) -> f32 {
    if (a >= 0.0) {
        if (a == 0.0) { return select(select(0.0, 1.0, b == 0.0), inf(), b < 0.0); }
        return pow(a, b);
    }
    if (b != floor(b)) { return nan(); }
    let m = pow(-a, b);
    return select(m, -m, (abs(b) % 2.0) == 1.0);
}

fn binary_op(a: f32, b: f32, op: u32) -> f32 {
    switch op {
        case 0u: { return a + b; }
        case 1u: { return a - b; }
        case 2u: { return a * b; }
        case 3u: { return a / b; }
        case 4u: { return pow_any(a, b); }
        case 5u: { return min(a, b); }
        case 6u: { return max(a, b); }
        case 7u: { return select(a, a * b, a < 0.0); }
        default: { return a; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    var rest = i;
    var ia = p(5u);
    var ib = p(6u);
    let rank = p(9u);
    for (var d = 0u; d < rank; d++) {
        let axis = rank - 1u - d;
        let dim = p(10u + axis);
        let c = rest % dim;
        rest = rest / dim;
        ia += c * p(18u + axis);
        ib += c * p(26u + axis);
    }
    mem[p(7u) + i] = epilogue(binary_op(ld(ia), ld(ib), p(8u)));
}

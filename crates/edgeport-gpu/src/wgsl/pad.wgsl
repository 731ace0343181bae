// Pad. 5: src, 6: dst, 7: rank, 8: constant value, 10..18: output shape, 18..26: input
// strides, 26..34: per-axis tables (output coordinate -> input coordinate, -1 inside
// constant padding).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    var rest = i;
    var src = p(5u);
    var inside = true;
    let rank = p(7u);
    for (var d = 0u; d < rank; d++) {
        let axis = rank - 1u - d;
        let dim = p(10u + axis);
        let c = rest % dim;
        rest = rest / dim;
        let s = ld(p(26u + axis) + c);
        if (s < 0.0) {
            inside = false;
        } else {
            src += u32(s) * p(18u + axis);
        }
    }
    var v = pf(8u);
    if (inside) { v = ld(src); }
    mem[p(6u) + i] = epilogue(v);
}

// Reduction over any set of axes, one thread per output. 5: src, 6: dst, 7: kind
// (0 mean, 1 sum, 2 max, 3 min, 4 prod), 8: rank, 9: reduced count,
// 10..18: output shape (reduced axes 1), 18..26: reduced shape (kept axes 1),
// 26..34: input strides.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let rank = p(8u);
    var rest = i;
    var base = p(5u);
    for (var d = 0u; d < rank; d++) {
        let axis = rank - 1u - d;
        let dim = p(10u + axis);
        base += (rest % dim) * p(26u + axis);
        rest = rest / dim;
    }
    let kind = p(7u);
    var acc = 0.0;
    if (kind == 2u) { acc = -inf(); }
    if (kind == 3u) { acc = inf(); }
    if (kind == 4u) { acc = 1.0; }
    let count = p(9u);
    for (var j = 0u; j < count; j++) {
        var r = j;
        var at = base;
        for (var d = 0u; d < rank; d++) {
            let axis = rank - 1u - d;
            let dim = p(18u + axis);
            at += (r % dim) * p(26u + axis);
            r = r / dim;
        }
        let v = ld(at);
        switch kind {
            case 2u: { acc = max(acc, v); }
            case 3u: { acc = min(acc, v); }
            case 4u: { acc *= v; }
            default: { acc += v; }
        }
    }
    if (kind == 0u) { acc = acc / f32(count); }
    mem[p(6u) + i] = epilogue(acc);
}

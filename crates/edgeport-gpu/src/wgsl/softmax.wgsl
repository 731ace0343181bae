// Softmax along one axis, one thread per (outer, inner) line. 5: src, 6: dst,
// 7: axis length, 8: inner size.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let dim = p(7u);
    let inner = p(8u);
    let start = (i / inner) * dim * inner + i % inner;
    var m = -inf();
    for (var k = 0u; k < dim; k++) { m = max(m, ld(p(5u) + start + k * inner)); }
    var sum = 0.0;
    for (var k = 0u; k < dim; k++) { sum += exp(ld(p(5u) + start + k * inner) - m); }
    for (var k = 0u; k < dim; k++) {
        mem[p(6u) + start + k * inner] = epilogue(exp(ld(p(5u) + start + k * inner) - m) / sum);
    }
}

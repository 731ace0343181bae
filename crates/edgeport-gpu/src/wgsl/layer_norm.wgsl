// Layer normalization, one workgroup per row: 64 threads share the sums. 4: rows, 5: src,
// 6: dst, 7: row length, 8: scale, 9: bias (NONE: no bias), 10: epsilon.
var<workgroup> partial: array<f32, 64>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) { partial[lid] += partial[lid + s]; }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    let lid = lid3.x;
    // Uniform control flow: whole workgroups leave together.
    if (row >= p(4u)) { return; }
    let n = p(7u);
    let src = p(5u) + row * n;
    let dst = p(6u) + row * n;
    var s = 0.0;
    for (var k = lid; k < n; k += 64u) { s += ld(src + k); }
    let mean = workgroup_sum(s, lid) / f32(n);
    var q = 0.0;
    for (var k = lid; k < n; k += 64u) { let d = ld(src + k) - mean; q += d * d; }
    let inv = 1.0 / sqrt(workgroup_sum(q, lid) / f32(n) + pf(10u));
    let has_bias = p(9u) != NONE;
    for (var k = lid; k < n; k += 64u) {
        var v = (ld(src + k) - mean) * inv * ld(p(8u) + k);
        if (has_bias) { v += ld(p(9u) + k); }
        mem[dst + k] = epilogue(v);
    }
}

// Gather along one axis. 5: data, 6: indices, 7: out, 8: axis length, 9: inner size,
// 10: number of indices. Indices out of range give NaN (constant indices are checked when
// the model is planned).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let dim = p(8u);
    let inner = p(9u);
    let count = p(10u);
    let e = i % inner;
    let j = (i / inner) % count;
    let o = i / (inner * count);
    var k = i32(ld(p(6u) + j));
    if (k < 0) { k += i32(dim); }
    var v = nan();
    if (k >= 0 && u32(k) < dim) {
        v = ld(p(5u) + (o * dim + u32(k)) * inner + e);
    }
    mem[p(7u) + i] = epilogue(v);
}

// Elementwise activation (the epilogue is the op). 5: src, 6: dst.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    mem[p(6u) + i] = epilogue(ld(p(5u) + i));
}

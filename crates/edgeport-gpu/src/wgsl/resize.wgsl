// Resize of NCHW planes from per-axis tap tables (3 floats per output coordinate: i0, i1,
// weight of i1; see `Resize::taps`). 5: src, 6: dst, 7: h, 8: w, 9: oh, 10: ow,
// 11: y table, 12: x table, 13: nearest.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg, 64u);
    if (i >= p(4u)) { return; }
    let w = p(8u);
    let oh = p(9u);
    let ow = p(10u);
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let base = p(5u) + plane * p(7u) * w;
    let ty = p(11u) + 3u * oy;
    let tx = p(12u) + 3u * ox;
    let y0 = u32(ld(ty));
    let x0 = u32(ld(tx));
    var v = ld(base + y0 * w + x0);
    if (p(13u) == 0u) {
        let y1 = u32(ld(ty + 1u));
        let x1 = u32(ld(tx + 1u));
        let fy = ld(ty + 2u);
        let fx = ld(tx + 2u);
        let r0 = base + y0 * w;
        let r1 = base + y1 * w;
        let top = ld(r0 + x0) + (ld(r0 + x1) - ld(r0 + x0)) * fx;
        let bottom = ld(r1 + x0) + (ld(r1 + x1) - ld(r1 + x0)) * fx;
        v = top + (bottom - top) * fy;
    }
    mem[p(6u) + i] = epilogue(v);
}

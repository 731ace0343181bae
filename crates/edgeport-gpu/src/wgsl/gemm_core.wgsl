// Tiled matrix product: for each z, C = A (M x K) * B (K x N), 32x32 outputs per workgroup of
// 64 threads (4x4 each), K in steps of 16 through workgroup memory. The variant before this
// file defines `setup(z)`, `load_a(m, k)`, `load_b(k, n)` and `store(m, n, v)`.
// 5: M, 6: N, 7: K.

const TM: u32 = 32u;
const TN: u32 = 32u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, 512>; // [TK][TM]
var<workgroup> tile_b: array<f32, 512>; // [TK][TN]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let m_count = p(5u);
    let n_count = p(6u);
    let k_count = p(7u);
    let m0 = wid.y * TM;
    let n0 = wid.x * TN;
    let tm = (lid / 8u) * 4u;
    let tn = (lid % 8u) * 4u;
    setup(wid.z);
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < k_count; k0 += TK) {
        for (var e = lid; e < 512u; e += 64u) {
            let am = e / TK;
            let ak = e % TK;
            var a = 0.0;
            if (m0 + am < m_count && k0 + ak < k_count) { a = load_a(m0 + am, k0 + ak); }
            tile_a[ak * TM + am] = a;
            let bk = e / TN;
            let bn = e % TN;
            var b = 0.0;
            if (k0 + bk < k_count && n0 + bn < n_count) { b = load_b(k0 + bk, n0 + bn); }
            tile_b[bk * TN + bn] = b;
        }
        workgroupBarrier();
        for (var k = 0u; k < TK; k++) {
            let a = vec4<f32>(tile_a[k * TM + tm], tile_a[k * TM + tm + 1u], tile_a[k * TM + tm + 2u], tile_a[k * TM + tm + 3u]);
            let b = vec4<f32>(tile_b[k * TN + tn], tile_b[k * TN + tn + 1u], tile_b[k * TN + tn + 2u], tile_b[k * TN + tn + 3u]);
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + tm + i;
        if (m >= m_count) { break; }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + tn + j;
            if (n < n_count) { store(m, n, acc[i][j]); }
        }
    }
}

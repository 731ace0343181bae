// MatMul with broadcast batch axes: the gemm variant. 8: a, 9: b, 10: out,
// 12..16: batch shape (padded to 4 with 1s), 16..20: a batch strides, 20..24: b batch strides.
var<private> base_a: u32;
var<private> base_b: u32;
var<private> base_c: u32;

fn setup(z: u32) {
    var rest = z;
    base_a = p(8u);
    base_b = p(9u);
    for (var d = 0u; d < 4u; d++) {
        let axis = 3u - d;
        let dim = p(12u + axis);
        let c = rest % dim;
        rest = rest / dim;
        base_a += c * p(16u + axis);
        base_b += c * p(20u + axis);
    }
    base_c = p(10u) + z * p(5u) * p(6u);
}

fn load_a(m: u32, k: u32) -> f32 { return ld(base_a + m * p(7u) + k); }
fn load_b(k: u32, n: u32) -> f32 { return ld(base_b + k * p(6u) + n); }
fn store(m: u32, n: u32, v: f32) { mem[base_c + m * p(6u) + n] = epilogue(v); }

// Shared by every edgeport kernel. One storage buffer holds the activation arena, the weights
// and the kernels' index tables; operands are element offsets into it. Each dispatch reads its
// parameters from a 256-byte block of one uniform buffer (dynamic offset).
//
// Parameters 0..3 are the epilogue every kernel applies to what it writes: activation code,
// its two arguments, and whether to round the result to float16 (fp16 Core ML programs store
// intermediates so). Parameter 4 is the number of threads that do work.

struct Params { v: array<vec4<u32>, 16> }

@group(0) @binding(0) var<storage, read_write> mem: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;

const NONE: u32 = 0xffffffffu;

// Infinity and NaN may not be constant expressions in WGSL, so they are made at run time
// (the parameter word is never set; `& 0u` keeps the value out of constant evaluation).
fn special(bits: u32) -> f32 { return bitcast<f32>(bits | (P.v[15][3] & 0u)); }
fn inf() -> f32 { return special(0x7f800000u); }
fn nan() -> f32 { return special(0x7fc00000u); }

fn p(i: u32) -> u32 { return P.v[i >> 2u][i & 3u]; }
fn pf(i: u32) -> f32 { return bitcast<f32>(p(i)); }
fn pi(i: u32) -> i32 { return bitcast<i32>(p(i)); }

// Launches wider than 65535 workgroups continue in y.
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>, width: u32) -> u32 {
    return gid.x + gid.y * nwg.x * width;
}

// Abramowitz and Stegun 7.1.26, |error| < 1.5e-7.
fn erf_approx(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
    let y = 1.0 - poly * exp(-x * x);
    return select(-y, y, x >= 0.0);
}

// tanh through exp overflows to NaN on some drivers for large |x|; it is ±1 there anyway.
fn tanh_safe(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }

// The codes are `Act` in kernels/mod.rs.
fn activate(x: f32, code: u32, a: f32, b: f32) -> f32 {
    switch code {
        case 0u: { return x; }
        case 1u: { return max(x, 0.0); }
        case 2u: { return min(max(x, a), b); }
        case 3u: { return 1.0 / (1.0 + exp(-x)); }
        case 4u: { return tanh_safe(x); }
        case 5u: { return erf_approx(x); }
        case 6u: { return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)); }
        case 7u: { return 0.5 * x * (1.0 + tanh_safe(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
        case 8u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }
        case 9u: { return sqrt(x); }
        case 10u: { return 1.0 / sqrt(x); }
        case 11u: { return 1.0 / x; }
        case 12u: { return exp(x); }
        case 13u: { return log(x); }
        case 14u: { return -x; }
        case 15u: { return abs(x); }
        case 16u: { return floor(x); }
        case 17u: { return ceil(x); }
        case 18u: { return select(x, x * a, x < 0.0); }
        case 19u: { return clamp(a * x + b, 0.0, 1.0); }
        default: { return x; }
    }
}

// x as float16 stores it (round to nearest even, overflow to infinity), in float32 bits:
// pack2x16float leaves rounding and overflow to the implementation.
fn round_f16(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    let sign = bits & 0x80000000u;
    let mag = bits & 0x7fffffffu;
    if (mag >= 0x7f800000u) { return x; }
    if (mag >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }
    if (mag < 0x38800000u) {
        // float16 subnormals are multiples of 2^-24; `round` ties to even
        return select(1.0, -1.0, sign != 0u) * round(abs(x) * 16777216.0) / 16777216.0;
    }
    let lsb = (mag >> 13u) & 1u;
    return bitcast<f32>(sign | ((mag + 0x0fffu + lsb) & 0xffffe000u));
}

fn epilogue(x: f32) -> f32 {
    let y = activate(x, p(0u), pf(1u), pf(2u));
    if (p(3u) != 0u) {
        return round_f16(y);
    }
    return y;
}

//! BERT-family encoders (Hugging Face layouts, as AI Hub exports them with
//! `AutoModelForMaskedLM`: inputs `input_ids` and `attention_mask`, output MLM logits).

use crate::workload::{T, Workload, WorkloadBuilder};

const VOCAB: usize = 30522;
const MAX_POSITIONS: usize = 512;

/// Multi-head self-attention: q/k from `qk_in`, v from `v_in`, `heads` heads of `width / heads`,
/// scaled scores plus the additive mask, softmax, context, output projection (no residual).
fn attention(b: &mut WorkloadBuilder, qk_in: T, v_in: T, mask: T, width: usize, heads: usize) -> T {
    let seq = b.shape(qk_in)[0];
    let dh = width / heads;
    let q = b.linear(qk_in, width);
    let k = b.linear(qk_in, width);
    let v = b.linear(v_in, width);
    let q = b.reshape(q, vec![seq, heads, dh]);
    let q = b.copy(q, "Transpose", vec![heads, seq, dh]);
    let k = b.reshape(k, vec![seq, heads, dh]);
    let k = b.copy(k, "Transpose", vec![heads, dh, seq]);
    let v = b.reshape(v, vec![seq, heads, dh]);
    let v = b.copy(v, "Transpose", vec![heads, seq, dh]);
    let s = b.matmul_act(q, k, heads, seq, dh, seq);
    let s = b.act(s, "Div");
    let s = b.binary(s, mask, "Add");
    let p = b.softmax(s);
    let o = b.matmul_act(p, v, heads, seq, seq, dh);
    let o = b.copy(o, "Transpose", vec![seq, heads, dh]);
    let o = b.reshape(o, vec![seq, width]);
    b.linear(o, width)
}

/// The additive attention mask, `(1 - mask) * -10000`, shared by all layers.
fn extended_mask(b: &mut WorkloadBuilder, seq: usize) -> T {
    let m = b.input(&[seq]);
    let m = b.reshape(m, vec![1, 1, seq]);
    let m = b.act(m, "Sub");
    b.act(m, "Mul")
}

/// BERT-base-style encoder: `layers` post-LN transformer layers of `width` (FFN 4 x width,
/// GELU), `heads` heads; `token_types` adds the segment embedding (BERT, not DistilBERT);
/// `mlm_head` adds the masked-LM head (dense + GELU + LayerNorm, decoder tied to the embedding).
///
/// - BERT-base uncased (Devlin et al. 2018, arXiv:1810.04805): 12 layers, 768, 12 heads.
///   Published: 110 M params; 22.5 G FLOPs = 11.2 G MACs at 128 tokens (MobileBERT paper Table 3).
/// - DistilBERT base uncased (Sanh et al. 2019, arXiv:1910.01108): 6 layers. Published: 66 M params.
pub fn bert(name: &str, seq: usize, layers: usize, token_types: bool, mlm_head: bool) -> Workload {
    let (width, heads) = (768, 12);
    let mut b = WorkloadBuilder::new(&format!("{name} {seq}"));
    let ids = b.input(&[seq]);
    let mask = extended_mask(&mut b, seq);
    let mut x = b.embedding(ids, VOCAB, width);
    let pos = b.embedding(ids, MAX_POSITIONS, width);
    x = b.add(x, pos);
    if token_types {
        let tt = b.embedding(ids, 2, width);
        x = b.add(x, tt);
    }
    x = b.layer_norm(x);
    for _ in 0..layers {
        let a = attention(&mut b, x, x, mask, width, heads);
        let a = b.add(a, x);
        x = b.layer_norm(a);
        let f = b.linear(x, 4 * width);
        let f = b.act(f, "Gelu");
        let f = b.linear(f, width);
        let f = b.add(f, x);
        x = b.layer_norm(f);
    }
    if mlm_head {
        x = b.linear(x, width);
        x = b.act(x, "Gelu");
        x = b.layer_norm(x);
        x = b.linear_tied(x, VOCAB);
    }
    b.output(x);
    b.finish()
}

/// MobileBERT's NoNorm: an elementwise scale and shift.
fn no_norm(b: &mut WorkloadBuilder, x: T) -> T {
    let x = b.act(x, "Mul");
    b.act(x, "Add")
}

/// MobileBERT (Sun et al. 2020, arXiv:2004.02984; HF `google/mobilebert-uncased`): 128-wide
/// embeddings expanded by a trigram concat + dense to 512, 24 bottleneck layers (512 body,
/// 128 inner, shared q/k bottleneck, v from the 512 input, 4 heads, four stacked 128->512->128
/// ReLU FFNs), NoNorm. `mlm_head` adds the MLM head (dense 512 + ReLU + LayerNorm, decoder over
/// the 128-wide tied embedding plus a 384-row dense weight: counted as one 512 x 30522 matmul).
/// Published (paper Table 3, without the MLM head): 25.3 M params, 5.7 G FLOPs = 2.85 G MACs at
/// 128 tokens.
pub fn mobilebert(seq: usize, mlm_head: bool) -> Workload {
    let (width, inner, heads) = (512, 128, 4);
    let mut b = WorkloadBuilder::new(&format!("MobileBERT {seq}"));
    let ids = b.input(&[seq]);
    let mask = extended_mask(&mut b, seq);
    let e = b.embedding(ids, VOCAB, 128);
    let left = b.copy(e, "Slice", vec![seq, 128]);
    let right = b.copy(e, "Slice", vec![seq, 128]);
    let tri = b.concat(&[left, e, right]);
    let tri = b.reshape(tri, vec![seq, 3 * 128]);
    let mut x = b.linear(tri, width);
    let pos = b.embedding(ids, MAX_POSITIONS, width);
    x = b.add(x, pos);
    let tt = b.embedding(ids, 2, width);
    x = b.add(x, tt);
    x = no_norm(&mut b, x);
    for _ in 0..24 {
        let layer_in = b.linear(x, inner);
        let layer_in = no_norm(&mut b, layer_in);
        let shared = b.linear(x, inner);
        let shared = no_norm(&mut b, shared);
        let a = attention(&mut b, shared, x, mask, inner, heads);
        let a = b.add(a, layer_in);
        let mut h = no_norm(&mut b, a);
        for _ in 0..3 {
            let f = b.linear(h, 4 * inner);
            let f = b.act(f, "Relu");
            let f = b.linear(f, inner);
            let f = b.add(f, h);
            h = no_norm(&mut b, f);
        }
        let f = b.linear(h, 4 * inner);
        let f = b.act(f, "Relu");
        let f = b.linear(f, inner);
        let f = b.add(f, h);
        let f = no_norm(&mut b, f);
        let o = b.linear(f, width);
        let o = b.add(o, x);
        x = no_norm(&mut b, o);
    }
    if mlm_head {
        x = b.linear(x, width);
        x = b.act(x, "Relu");
        x = b.layer_norm(x);
        x = b.linear(x, VOCAB);
    }
    b.output(x);
    b.finish()
}

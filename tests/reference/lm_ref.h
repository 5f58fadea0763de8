#pragma once
// Reference for the decoder-only LM ("type": "lm"), written from
// docs/checkpoint-format.md ("Decoder-only LM"): token plus position
// embedding; per block pre-LN x = x + attn(ln1(x)); x = x + ffn(ln2(x)) or
// post-LN x = ln1(x + attn(x)); x = ln2(x + ffn(x)); ln_f in both cases;
// logits ln_f(x)·tok_emb.weightᵀ when tied, else head(ln_f(x)). Causal
// attention; with attention_window w > 0 only the w most recent positions,
// itself included. Defaults are docs/config.md's.
#include "reference/common_ref.h"

namespace tfm::reference {

// inputs[r] and targets[r]: row r's token ids and next-token targets.
inline Output lm_reference(const nlohmann::json& config, const Params& p, const std::vector<Ids>& inputs,
                           const std::vector<Ids>& targets, double label_smoothing = 0.0) {
  const int64_t n_layer = key<int64_t>(config, "n_layer", 4), n_head = key<int64_t>(config, "n_head", 4);
  const size_t d = key<size_t>(config, "d_model", 128);
  const size_t d_ff = key<size_t>(config, "d_ff", 4 * d), V = config.at("vocab_size").get<size_t>();
  const size_t seq_len = key<size_t>(config, "seq_len", 64);
  const std::string activation = key<std::string>(config, "activation", "gelu");
  const bool pre_norm = key<std::string>(config, "norm", "pre") == "pre";
  const bool tied = key<bool>(config, "tie_embeddings", true);
  const double eps = key<double>(config, "layer_norm_eps", 1e-5);
  const size_t window = key<size_t>(config, "attention_window", 0);

  const Vector& tok_emb = p.get("tok_emb.weight", V * d);
  const Vector& pos_emb = p.get("pos_emb.weight", seq_len * d);
  auto causal = [&](size_t i, size_t j) { return j <= i && (window == 0 || j + window > i); };

  Output out;
  for (const Ids& ids : inputs) {
    Sequence x;
    for (size_t t = 0; t < ids.size(); ++t) {
      Vector e(d);
      for (size_t c = 0; c < d; ++c) e[c] = tok_emb[ids[t] * d + c] + pos_emb[t * d + c];
      x.push_back(e);
    }
    for (int64_t l = 0; l < n_layer; ++l) {
      const std::string b = "blocks." + std::to_string(l);
      if (pre_norm) {
        Sequence h;
        for (const Vector& v : x) h.push_back(layer_norm(p, b + ".ln1", v, eps));
        const Sequence a = multi_head_attention(p, b + ".attn", h, h, n_head, causal);
        for (size_t t = 0; t < x.size(); ++t) x[t] = add(x[t], a[t]);
        for (Vector& v : x)
          v = add(v, feed_forward(p, b + ".ffn", layer_norm(p, b + ".ln2", v, eps), d_ff, activation));
      } else {
        const Sequence a = multi_head_attention(p, b + ".attn", x, x, n_head, causal);
        for (size_t t = 0; t < x.size(); ++t) x[t] = layer_norm(p, b + ".ln1", add(x[t], a[t]), eps);
        for (Vector& v : x)
          v = layer_norm(p, b + ".ln2", add(v, feed_forward(p, b + ".ffn", v, d_ff, activation)), eps);
      }
    }
    Sequence logits;
    for (const Vector& v : x) {
      const Vector h = layer_norm(p, "ln_f", v, eps);
      logits.push_back(tied ? matvec(tok_emb, h, V) : linear(p, "head", h, V, /*bias=*/false));
    }
    out.logits.push_back(logits);
  }
  cross_entropy(out, targets, label_smoothing);
  return out;
}

}  // namespace tfm::reference

#pragma once
// Reference for the encoder-decoder Transformer ("type": "transformer",
// Vaswani et al. 2017), written from docs/checkpoint-format.md
// ("Encoder-decoder"): embeddings scaled by √d_model plus sinusoidal positions
// PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
// (section 3.5); every sublayer post-LN ln(x + f(x)) or pre-LN x + f(ln(x));
// encoder self-attention over the sentence, decoder causal self-attention,
// cross-attention over the encoder output, feed-forward; encoder.ln_f and
// decoder.ln_f after the stacks with pre-LN only; logits h·Eᵀ with E the
// (unscaled) target embedding when tied, else head(h). Defaults are
// docs/config.md's for this type.
//
// Each sentence is computed alone, without padding: a batch that pads it must
// give the same numbers.
#include "reference/common_ref.h"

namespace tfm::reference {

struct SentencePair {
  Ids source;         // the source tokens (eos included), no padding
  Ids decoder_input;  // bos, then the target tokens
  Ids target;         // the target tokens, then eos (ignore_index where not counted)
};

inline Vector sinusoidal_position(size_t pos, size_t d) {
  Vector pe(d);
  for (size_t i = 0; i < d; i += 2) {
    const double angle = static_cast<double>(pos) / std::pow(10000.0, static_cast<double>(i) / static_cast<double>(d));
    pe[i] = std::sin(angle);
    if (i + 1 < d) pe[i + 1] = std::cos(angle);
  }
  return pe;
}

inline Output transformer_reference(const nlohmann::json& config, const Params& p,
                                    const std::vector<SentencePair>& pairs, double label_smoothing = 0.0) {
  const int64_t n_layer = key<int64_t>(config, "n_layer", 6);
  const int64_t n_enc = key<int64_t>(config, "n_encoder_layers", n_layer);
  const int64_t n_dec = key<int64_t>(config, "n_decoder_layers", n_layer);
  const int64_t n_head = key<int64_t>(config, "n_head", 8);
  const size_t d = key<size_t>(config, "d_model", 512);
  const size_t d_ff = key<size_t>(config, "d_ff", 4 * d), V = config.at("vocab_size").get<size_t>();
  const std::string activation = key<std::string>(config, "activation", "relu");
  // "norm_placement", or the legacy "norm": "pre" | "post".
  const std::string legacy = key<std::string>(config, "norm", "post");
  const bool pre_norm = key<std::string>(config, "norm_placement", legacy == "pre" ? "pre" : "post") == "pre";
  const bool shared = key<bool>(config, "share_embeddings", true);
  const bool tied = key<bool>(config, "tie_embeddings", true);
  const double eps = key<double>(config, "layer_norm_eps", 1e-5);

  const Vector& src_emb = p.get(shared ? "emb.weight" : "src_emb.weight", V * d);
  const Vector& tgt_emb = p.get(shared ? "emb.weight" : "tgt_emb.weight", V * d);
  auto embed = [&](const Vector& table, const Ids& ids) {
    Sequence x;
    for (size_t t = 0; t < ids.size(); ++t) {
      Vector e = sinusoidal_position(t, d);
      for (size_t c = 0; c < d; ++c) e[c] += std::sqrt(static_cast<double>(d)) * table[ids[t] * d + c];
      x.push_back(e);
    }
    return x;
  };
  // One residual sublayer f over the whole sequence x, normalised by `ln`.
  auto sublayer = [&](Sequence& x, const std::string& ln, const std::function<Sequence(const Sequence&)>& f) {
    if (pre_norm) {
      Sequence h;
      for (const Vector& v : x) h.push_back(layer_norm(p, ln, v, eps));
      const Sequence y = f(h);
      for (size_t t = 0; t < x.size(); ++t) x[t] = add(x[t], y[t]);
    } else {
      const Sequence y = f(x);
      for (size_t t = 0; t < x.size(); ++t) x[t] = layer_norm(p, ln, add(x[t], y[t]), eps);
    }
  };
  auto ffn = [&](const std::string& prefix) {
    return [&, prefix](const Sequence& h) {
      Sequence y;
      for (const Vector& v : h) y.push_back(feed_forward(p, prefix, v, d_ff, activation));
      return y;
    };
  };
  auto everything = [](size_t, size_t) { return true; };
  auto causal = [](size_t i, size_t j) { return j <= i; };

  Output out;
  for (const SentencePair& pair : pairs) {
    Sequence memory = embed(src_emb, pair.source);
    for (int64_t l = 0; l < n_enc; ++l) {
      const std::string e = "encoder.layers." + std::to_string(l);
      sublayer(memory, e + ".ln1",
               [&](const Sequence& h) { return multi_head_attention(p, e + ".self_attn", h, h, n_head, everything); });
      sublayer(memory, e + ".ln2", ffn(e + ".ffn"));
    }
    if (pre_norm)
      for (Vector& v : memory) v = layer_norm(p, "encoder.ln_f", v, eps);

    Sequence x = embed(tgt_emb, pair.decoder_input);
    for (int64_t l = 0; l < n_dec; ++l) {
      const std::string g = "decoder.layers." + std::to_string(l);
      sublayer(x, g + ".ln1",
               [&](const Sequence& h) { return multi_head_attention(p, g + ".self_attn", h, h, n_head, causal); });
      sublayer(x, g + ".ln2", [&](const Sequence& h) {
        return multi_head_attention(p, g + ".cross_attn", h, memory, n_head, everything);
      });
      sublayer(x, g + ".ln3", ffn(g + ".ffn"));
    }
    Sequence logits;
    for (Vector v : x) {
      if (pre_norm) v = layer_norm(p, "decoder.ln_f", v, eps);
      logits.push_back(tied ? matvec(tgt_emb, v, V) : linear(p, "head", v, V, /*bias=*/false));
    }
    out.logits.push_back(logits);
  }
  std::vector<Ids> targets;
  for (const SentencePair& pair : pairs) targets.push_back(pair.target);
  cross_entropy(out, targets, label_smoothing);
  return out;
}

}  // namespace tfm::reference

#include "models/transformer.h"

#include <cmath>
#include <cstring>

#include "core/config.h"
#include "layers/init.h"

namespace tfm {

TransformerConfig::TransformerConfig() {
  n_head = 8;
  d_model = 512;
  d_ff = 2048;
  activation = Activation::Relu;
  dropout = 0.1;
  pre_norm = false;
}

TransformerConfig TransformerConfig::parse(const nlohmann::json& model) {
  ConfigReader r(model, "model");
  TransformerConfig c;
  r.get_string("type", "transformer", {"transformer"});
  const int64_t n_layer = r.get_int("n_layer", 6, 1, 1024);
  c.n_encoder_layers = r.get_int("n_encoder_layers", n_layer, 1, 1024);
  c.n_decoder_layers = r.get_int("n_decoder_layers", n_layer, 1, 1024);
  c.parse_block(r);
  c.max_len = r.get_int("seq_len", c.max_len, 1, 1 << 20);
  c.vocab_size = r.get_int("vocab_size", 0, 0, 1 << 24);
  c.share_embeddings = r.get_bool("share_embeddings", c.share_embeddings);
  r.finish();
  c.check_block();
  return c;
}

nlohmann::json TransformerConfig::to_json() const {
  nlohmann::json j = {{"type", "transformer"},
                      {"n_encoder_layers", n_encoder_layers},
                      {"n_decoder_layers", n_decoder_layers},
                      {"seq_len", max_len},
                      {"vocab_size", vocab_size},
                      {"share_embeddings", share_embeddings}};
  write_block(j);
  return j;
}

namespace {
// One residual sublayer: post-norm ln(x + f(x)), pre-norm x + f(ln(x)).
template <typename F>
Variable residual(const Variable& x, SequenceLayer& ln, bool pre_norm, Dropout& drop, F&& f) {
  if (pre_norm) return x + drop(f(ln(x)));
  return ln(x + drop(f(x)));
}
}  // namespace

EncoderLayer::EncoderLayer(const TransformerConfig& c)
    : self_attn(c.make_attention()), ln1(c.make_norm()), ffn(c.make_ffn()), ln2(c.make_norm()),
      dropout_(static_cast<float>(c.residual_p())), pre_norm_(c.pre_norm) {
  register_module("self_attn", *self_attn);
  register_module("ln1", *ln1);
  register_module("ffn", *ffn);
  register_module("ln2", *ln2);
  register_module("dropout", dropout_);
}

Variable EncoderLayer::forward(const Variable& x, const AttentionMask& mask) {
  Variable y = residual(x, *ln1, pre_norm_, dropout_, [&](const Variable& h) { return self_attn->forward(h, h, mask); });
  return residual(y, *ln2, pre_norm_, dropout_, [&](const Variable& h) { return ffn->forward(h); });
}

DecoderLayer::DecoderLayer(const TransformerConfig& c)
    : self_attn(c.make_attention()), ln1(c.make_norm()), cross_attn(c.make_attention()), ln2(c.make_norm()),
      ffn(c.make_ffn()), ln3(c.make_norm()), dropout_(static_cast<float>(c.residual_p())), pre_norm_(c.pre_norm) {
  register_module("self_attn", *self_attn);
  register_module("ln1", *ln1);
  register_module("cross_attn", *cross_attn);
  register_module("ln2", *ln2);
  register_module("ffn", *ffn);
  register_module("ln3", *ln3);
  register_module("dropout", dropout_);
}

Variable DecoderLayer::forward(const Variable& x, const Variable& memory, const AttentionMask& memory_mask,
                               Tensor* cross_weights) {
  const AttentionMask causal{.causal = true, .key_padding = Tensor()};
  Variable y = residual(x, *ln1, pre_norm_, dropout_, [&](const Variable& h) { return self_attn->forward(h, h, causal); });
  y = residual(y, *ln2, pre_norm_, dropout_,
               [&](const Variable& h) { return cross_attn->forward(h, memory, memory_mask, cross_weights); });
  return residual(y, *ln3, pre_norm_, dropout_, [&](const Variable& h) { return ffn->forward(h); });
}

Variable DecoderLayer::forward_cached(const Variable& x, const Variable& memory, const AttentionMask& memory_mask,
                                      KVCache& self_cache, KVCache& cross_cache, int64_t capacity) {
  Variable y = residual(x, *ln1, pre_norm_, dropout_,
                        [&](const Variable& h) { return self_attn->forward_cached(h, self_cache, capacity); });
  y = residual(y, *ln2, pre_norm_, dropout_, [&](const Variable& h) {
    return cross_attn->forward_cross_cached(h, memory, cross_cache, memory_mask);
  });
  return residual(y, *ln3, pre_norm_, dropout_, [&](const Variable& h) { return ffn->forward(h); });
}

EncoderStack::EncoderStack(const TransformerConfig& c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    layers.push_back(std::make_unique<EncoderLayer>(c));
    register_module("layers." + std::to_string(i), *layers.back());
  }
  if (c.pre_norm) {
    ln_f = c.make_norm();
    register_module("ln_f", *ln_f);
  }
}

DecoderStack::DecoderStack(const TransformerConfig& c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    layers.push_back(std::make_unique<DecoderLayer>(c));
    register_module("layers." + std::to_string(i), *layers.back());
  }
  if (c.pre_norm) {
    ln_f = c.make_norm();
    register_module("ln_f", *ln_f);
  }
}

EncoderDecoder::EncoderDecoder(const TransformerConfig& c)
    : encoder(c, c.n_encoder_layers), decoder(c, c.n_decoder_layers), config_(c),
      positions_(sinusoidal_positions(c.max_len, c.d_model)), dropout_(static_cast<float>(c.embedding_p())) {
  TFM_CHECK(c.vocab_size > 0, "config: model.vocab_size must be set (or filled from the tokenizer), found ",
            c.vocab_size);
  if (c.share_embeddings) {
    emb = std::make_unique<Embedding>(c.vocab_size, c.d_model);
    register_module("emb", *emb);
  } else {
    src_emb = std::make_unique<Embedding>(c.vocab_size, c.d_model);
    tgt_emb = std::make_unique<Embedding>(c.vocab_size, c.d_model);
    register_module("src_emb", *src_emb);
    register_module("tgt_emb", *tgt_emb);
  }
  register_module("encoder", encoder);
  register_module("decoder", decoder);
  head = c.make_head(c.vocab_size, target_embedding().weight);
  register_module("head", *head);
  register_module("dropout", dropout_);
  init_weights(default_generator());
}

void EncoderDecoder::init_weights(Generator& gen) {
  // As the reference implementations of Vaswani et al. (InitScheme::xavier).
  reset_parameters(InitScheme::xavier(config_.d_model), gen);
}

Variable EncoderDecoder::embed(const Embedding& table, const Tensor& ids, int64_t offset) {
  TFM_CHECK(ids.ndim() == 2 && ids.dtype() == DType::I32, "transformer: ids must be I32 [batch, len], found ",
            dtype_name(ids.dtype()), " ", ids.shape());
  const int64_t T = ids.dim(1);
  TFM_CHECK(offset + T <= config_.max_len, "transformer: length ", offset + T, " exceeds model.seq_len = ",
            config_.max_len);
  Variable x = scale(table(ids), std::sqrt(static_cast<float>(config_.d_model)));
  return dropout_(x + Variable(positions_.slice(offset, offset + T)));
}

Variable EncoderDecoder::encode(const Tensor& source, const Tensor& source_padding) {
  Variable x = embed(source_embedding(), source, 0);
  const AttentionMask mask{.causal = false, .key_padding = source_padding};
  for (auto& layer : encoder.layers) x = layer->forward(x, mask);
  return encoder.ln_f ? encoder.ln_f->forward(x) : x;
}

Variable EncoderDecoder::decode(const Tensor& target_in, const Variable& memory, const Tensor& source_padding,
                                Tensor* cross_weights, int64_t weights_layer) {
  return head->logits(decoder_states(target_in, memory, source_padding, cross_weights, weights_layer));
}

Variable EncoderDecoder::decoder_states(const Tensor& target_in, const Variable& memory,
                                        const Tensor& source_padding, Tensor* cross_weights, int64_t weights_layer) {
  const int64_t n_layers = static_cast<int64_t>(decoder.layers.size());
  if (weights_layer < 0) weights_layer = n_layers - 1;
  TFM_CHECK(weights_layer < n_layers, "transformer: decoder layer ", weights_layer, " out of range [0, ", n_layers,
            ")");
  Variable x = embed(target_embedding(), target_in, 0);
  const AttentionMask mask{.causal = false, .key_padding = source_padding};
  for (size_t i = 0; i < decoder.layers.size(); ++i)
    x = decoder.layers[i]->forward(x, memory, mask,
                                   static_cast<int64_t>(i) == weights_layer ? cross_weights : nullptr);
  return decoder.ln_f ? decoder.ln_f->forward(x) : x;
}

Variable EncoderDecoder::loss(const Batch& batch, const CrossEntropyOptions& options) {
  TFM_CHECK(batch.source.defined(), "transformer: batch has no source");
  TFM_CHECK(batch.target.defined() && batch.target.shape() == batch.input.shape(),
            "transformer: target shape differs from decoder input ", batch.input.shape());
  Variable memory = encode(batch.source, batch.source_padding);
  return head->loss(decoder_states(batch.input, memory, batch.source_padding, nullptr, -1), batch.target, options);
}

DecoderState EncoderDecoder::start_decoding(const Tensor& source, const Tensor& source_padding, int64_t capacity) {
  NoGradGuard no_grad;
  DecoderState s;
  s.capacity = capacity > 0 ? std::min(capacity, config_.max_len) : config_.max_len;
  s.memory = encode(source, source_padding);
  s.memory_mask = AttentionMask{.causal = false, .key_padding = source_padding};
  s.self_caches.resize(decoder.layers.size());
  s.cross_caches.resize(decoder.layers.size());
  return s;
}

Variable EncoderDecoder::decode_step(const Tensor& target_ids, DecoderState& s) {
  NoGradGuard no_grad;
  Variable x = embed(target_embedding(), target_ids, s.length());
  for (size_t i = 0; i < decoder.layers.size(); ++i)
    x = decoder.layers[i]->forward_cached(x, s.memory, s.memory_mask, s.self_caches[i], s.cross_caches[i],
                                          s.capacity > 0 ? s.capacity : config_.max_len);
  if (decoder.ln_f) x = decoder.ln_f->forward(x);
  return head->logits(x);
}

std::vector<std::vector<int32_t>> EncoderDecoder::greedy(const Tensor& source, const Tensor& source_padding,
                                                         int32_t bos, int32_t eos, int64_t max_steps) {
  NoGradGuard no_grad;
  const int64_t B = source.dim(0), V = config_.vocab_size;
  max_steps = std::min(max_steps, config_.max_len);
  DecoderState state = start_decoding(source, source_padding, max_steps);
  std::vector<std::vector<int32_t>> out(B);
  std::vector<bool> done(B, false);
  Tensor next = Tensor::empty({B, 1}, DType::I32);
  for (int64_t b = 0; b < B; ++b) next.data_i32()[b] = bos;
  for (int64_t step = 0; step < max_steps; ++step) {
    Variable logits = decode_step(next, state);  // [B, 1, V]
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      const float* l = logits.data().data() + b * V;
      const int32_t best = static_cast<int32_t>(std::max_element(l, l + V) - l);
      if (!done[b]) {
        if (best == eos) done[b] = true;
        else out[b].push_back(best);
      }
      all_done = all_done && done[b];
      next.data_i32()[b] = best;
    }
    if (all_done) break;
  }
  return out;
}

namespace {

// Rows [0, length) of each batch entry of a cache laid out [B, capacity, d], gathered.
void reorder_cache(KVCache& cache, const std::vector<int64_t>& rows) {
  if (!cache.k.defined()) return;
  const int64_t cap = cache.k.dim(1), d = cache.k.dim(2), n = static_cast<int64_t>(rows.size());
  const size_t used = static_cast<size_t>(cache.length * d), stride = static_cast<size_t>(cap * d);
  for (Tensor* t : {&cache.k, &cache.v}) {
    Tensor out = Tensor::empty({n, cap, d});
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(out.data() + i * stride, t->data() + rows[i] * stride, used * sizeof(float));
    *t = out;
  }
}

class TransformerBeamDecoder : public BeamDecoder {
 public:
  TransformerBeamDecoder(EncoderDecoder& m, const Tensor& source, const Tensor& padding, int64_t max_steps)
      : m_(m), state_(m.start_decoding(source, padding, max_steps)) {}
  Tensor step(const std::vector<int32_t>& last) override {
    NoGradGuard no_grad;
    const int64_t N = static_cast<int64_t>(last.size());
    Tensor ids = Tensor::empty({N, 1}, DType::I32);
    std::copy(last.begin(), last.end(), ids.data_i32());
    const Variable logits = m_.decode_step(ids, state_);  // [N, 1, V]
    return log_softmax(reshape(logits, Shape({N, logits.dim(2)}))).data();
  }
  void reorder(const std::vector<int64_t>& rows) override {
    // After the first step the cross-attention caches hold the projected memory: the memory itself
    // is no longer read, so it is released rather than gathered every step.
    state_.memory = Variable();
    if (state_.memory_mask.key_padding.defined())
      state_.memory_mask.key_padding = gather_rows(state_.memory_mask.key_padding, rows);
    for (KVCache& c : state_.self_caches) reorder_cache(c, rows);
    for (KVCache& c : state_.cross_caches)
      if (c.k.defined()) c.k = gather_rows(c.k, rows), c.v = gather_rows(c.v, rows);
  }

 private:
  EncoderDecoder& m_;
  DecoderState state_;
};

}  // namespace

std::unique_ptr<BeamDecoder> EncoderDecoder::beam_decoder(const Tensor& source, const Tensor& padding,
                                                         int64_t max_steps) {
  return std::make_unique<TransformerBeamDecoder>(*this, source, padding, max_steps);
}

Tensor EncoderDecoder::cross_attention(const Tensor& source, const Tensor& target_in, int64_t layer, int64_t head) {
  TFM_CHECK(source.dim(0) == 1 && target_in.dim(0) == 1, "transformer: cross_attention takes one sentence pair");
  TFM_CHECK(head >= -1 && head < config_.n_head, "transformer: head ", head, " out of range [0, ", config_.n_head,
            ") (-1: the average)");
  NoGradGuard no_grad;
  Tensor weights;  // [1, H, T, S]
  decode(target_in, encode(source, Tensor()), Tensor(), &weights, layer);
  const int64_t H = config_.n_head, T = target_in.dim(1), S = source.dim(1);
  Tensor out = Tensor::zeros({T, S});
  for (int64_t h = 0; h < H; ++h) {
    if (head >= 0 && h != head) continue;
    for (int64_t i = 0; i < T * S; ++i) out.data()[i] += weights.data()[h * T * S + i];
  }
  if (head < 0)
    for (int64_t i = 0; i < T * S; ++i) out.data()[i] /= static_cast<float>(H);
  return out;
}

namespace {
std::vector<ConfigKey> transformer_keys() {
  return TransformerConfig().entry_keys({{"n_layer", "int", "6", "default of n_encoder_layers and n_decoder_layers"},
                                         {"n_encoder_layers", "int", "n_layer", "encoder layers"},
                                         {"n_decoder_layers", "int", "n_layer", "decoder layers"}},
                                        {{"seq_len", "int", "256", "longest sentence (positions)"},
                                         {"vocab_size", "int", "0", "0 = from the tokenizer (one joint vocabulary)"},
                                         {"share_embeddings", "bool", "true", "one embedding for source and target"}});
}
}  // namespace

TFM_REGISTER_MODEL_ENTRY(
    "transformer", [](const nlohmann::json& config) -> std::unique_ptr<Model> {
      return std::make_unique<EncoderDecoder>(TransformerConfig::parse(config));
    },
    "encoder-decoder Transformer (Vaswani et al. 2017); trains on parallel data (docs/translation.md)",
    transformer_keys(),
    ModelTraits(DataKind::Parallel, [](const nlohmann::json& config) { return TransformerConfig::parse(config).to_json(); }));

}  // namespace tfm

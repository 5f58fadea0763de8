#include "models/lm.h"

#include <cmath>

#include "core/config.h"
#include "layers/init.h"

namespace tfm {

namespace {
const char* position_encoding_name(PositionEncoding p) {
  switch (p) {
    case PositionEncoding::Sinusoidal: return "sinusoidal";
    case PositionEncoding::Rope: return "rope";
    case PositionEncoding::None: return "none";
    default: return "learned";
  }
}

void parse_attention(ConfigReader& r, LmConfig& c) {
  c.n_kv_head = r.get_int("n_kv_head", c.n_head, 1, 1024);
  c.attention_window = r.get_int("attention_window", 0, 0, 1 << 20);
  const std::string pos = r.get_string("pos_emb", "learned", {"learned", "sinusoidal", "rope", "none"});
  c.pos_emb = pos == "sinusoidal" ? PositionEncoding::Sinusoidal
              : pos == "rope"     ? PositionEncoding::Rope
              : pos == "none"     ? PositionEncoding::None
                                  : PositionEncoding::Learned;
  c.rope_theta = r.get_number("rope_theta", 10000.0, 1.0 + 1e-9, 1e12);
}
}  // namespace

LmConfig LmConfig::parse(const nlohmann::json& model) {
  ConfigReader r(model, "model");
  LmConfig c;
  r.get_string("type", "lm", {"lm"});
  c.n_layer = r.get_int("n_layer", c.n_layer, 1, 1024);
  c.parse_block(r);
  c.seq_len = r.get_int("seq_len", c.seq_len, 1, 1 << 20);
  c.vocab_size = r.get_int("vocab_size", 0, 0, 1 << 24);
  c.bias = r.get_bool("bias", c.bias);
  parse_attention(r, c);
  r.finish();
  c.check_block();
  TFM_CHECK(c.n_head % c.n_kv_head == 0, "config: model.n_kv_head = ", c.n_kv_head,
            " does not divide model.n_head = ", c.n_head);
  TFM_CHECK(c.pos_emb != PositionEncoding::Rope || (c.d_model / c.n_head) % 2 == 0,
            "config: model.pos_emb = \"rope\" needs an even head size model.d_model / model.n_head, found ",
            c.d_model, " / ", c.n_head, " = ", c.d_model / c.n_head);
  return c;
}

nlohmann::json LmConfig::to_json() const {
  nlohmann::json j = {{"type", "lm"},
                      {"n_layer", n_layer},
                      {"n_kv_head", kv_heads()},
                      {"seq_len", seq_len},
                      {"vocab_size", vocab_size},
                      {"pos_emb", position_encoding_name(pos_emb)},
                      {"rope_theta", rope_theta},
                      {"bias", bias},
                      {"attention_window", attention_window}};
  write_block(j);
  return j;
}

namespace {
AttentionLayout attention_layout(const LmConfig& c) {
  AttentionLayout layout;
  layout.n_kv_head = c.kv_heads();
  layout.bias = c.bias;
  if (c.pos_emb == PositionEncoding::Rope) {
    layout.rope_theta = c.rope_theta;
    layout.rope_positions = c.seq_len;
  }
  return layout;
}
}  // namespace

LmBlock::LmBlock(const LmConfig& c)
    : ln1(c.make_norm(c.bias)),
      attn(c.make_attention(c.attention_window, attention_layout(c))),
      ln2(c.make_norm(c.bias)),
      ffn(c.make_ffn(c.bias)),
      residual_dropout_(static_cast<float>(c.residual_p())),
      pre_norm_(c.pre_norm) {
  register_module("ln1", *ln1);
  register_module("attn", *attn);
  register_module("ln2", *ln2);
  register_module("ffn", *ffn);
  register_module("residual_dropout", residual_dropout_);
}

Variable LmBlock::forward(const Variable& x) {
  const AttentionMask causal{.causal = true, .key_padding = Tensor()};
  if (pre_norm_) {
    Variable h = ln1->forward(x);
    Variable y = x + residual_dropout_(attn->forward(h, h, causal));
    return y + residual_dropout_(ffn->forward(ln2->forward(y)));
  }
  Variable y = ln1->forward(x + residual_dropout_(attn->forward(x, x, causal)));
  return ln2->forward(y + residual_dropout_(ffn->forward(y)));
}

Variable LmBlock::forward_cached(const Variable& x, KVCache& cache, int64_t capacity) {
  if (pre_norm_) {
    Variable y = x + attn->forward_cached(ln1->forward(x), cache, capacity);
    return y + ffn->forward(ln2->forward(y));
  }
  Variable y = ln1->forward(x + attn->forward_cached(x, cache, capacity));
  return ln2->forward(y + ffn->forward(y));
}

LanguageModel::LanguageModel(const LmConfig& c)
    : tok_emb(c.vocab_size > 0 ? c.vocab_size : 1, c.d_model),
      ln_f(c.make_norm(c.bias)),
      config_(c),
      emb_dropout_(static_cast<float>(c.embedding_p())) {
  TFM_CHECK(c.vocab_size > 0, "config: model.vocab_size must be set (or filled from the tokenizer), found ",
            c.vocab_size);
  register_module("tok_emb", tok_emb);
  if (c.pos_emb == PositionEncoding::Learned) {
    pos_emb = std::make_unique<Embedding>(c.seq_len, c.d_model);
    register_module("pos_emb", *pos_emb);
  } else if (c.pos_emb == PositionEncoding::Sinusoidal) {
    sinusoids_ = sinusoidal_positions(c.seq_len, c.d_model);
  }
  for (int64_t i = 0; i < c.n_layer; ++i) {
    blocks.push_back(std::make_unique<LmBlock>(c));
    register_module("blocks." + std::to_string(i), *blocks.back());
  }
  register_module("ln_f", *ln_f);
  head = c.make_head(c.vocab_size, tok_emb.weight);
  register_module("head", *head);
  register_module("emb_dropout", emb_dropout_);
  init_weights(default_generator());
}

void LanguageModel::init_weights(Generator& gen) {
  // GPT-2 / nanoGPT; each module declares which of its parameters feed the residual stream.
  reset_parameters(InitScheme::gpt2(config_.n_layer), gen);
}

namespace {
Tensor position_ids(int64_t begin, int64_t n) {
  Tensor t = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) t.data_i32()[i] = static_cast<int32_t>(begin + i);
  return t;
}
}  // namespace

Variable LanguageModel::embed(const Tensor& ids, int64_t start) const {
  const int64_t n = ids.dim(1);
  Variable x = tok_emb(ids);
  if (pos_emb) return x + pos_emb->forward(position_ids(start, n));
  if (sinusoids_.defined()) return x + Variable(sinusoids_.slice(start, start + n));
  return x;  // "rope" (inside attention) or "none"
}

Variable LanguageModel::features(const Tensor& ids) {
  TFM_CHECK(ids.ndim() == 2 && ids.dtype() == DType::I32, "lm: ids must be I32 [batch, len], found ",
            dtype_name(ids.dtype()), " ", ids.shape());
  const int64_t T = ids.dim(1);
  TFM_CHECK(T >= 1 && T <= config_.seq_len, "lm: sequence length ", T, " exceeds model.seq_len = ", config_.seq_len);
  Variable x = emb_dropout_(embed(ids, 0));
  for (auto& block : blocks) x = block->forward(x);
  return ln_f->forward(x);
}

Variable LanguageModel::forward(const Tensor& ids) { return head->logits(features(ids)); }

Variable LanguageModel::loss(const Batch& batch, const CrossEntropyOptions& options) {
  TFM_CHECK(batch.target.defined() && batch.target.shape() == batch.input.shape(), "lm: target shape ",
            batch.target.defined() ? batch.target.shape().str() : "undefined", " differs from input ",
            batch.input.shape());
  return head->loss(features(batch.input), batch.target, options);
}

Variable LanguageModel::forward_cached(const Tensor& ids, std::vector<KVCache>& caches) {
  NoGradGuard no_grad;
  caches.resize(blocks.size());
  const int64_t start = caches[0].length, n = ids.dim(1);
  TFM_CHECK(start + n <= config_.seq_len, "lm: ", start + n, " positions exceed model.seq_len = ", config_.seq_len);
  Variable x = embed(ids, start);
  for (size_t i = 0; i < blocks.size(); ++i) x = blocks[i]->forward_cached(x, caches[i], config_.seq_len);
  return head->logits(ln_f->forward(x));
}

namespace {
std::vector<ConfigKey> lm_keys() {
  return LmConfig().entry_keys(
      {{"n_layer", "int", "4", "Transformer blocks"}},
      {{"seq_len", "int", "64", "context length (positions)"},
       {"vocab_size", "int", "0", "0 = from the tokenizer"},
       {"n_kv_head", "int", "n_head", "key/value heads, grouped-query attention (must divide n_head)"},
       {"pos_emb", "string", "\"learned\"", "learned | sinusoidal | rope | none"},
       {"rope_theta", "number", "10000", "base of the rotary angles (pos_emb \"rope\")"},
       {"bias", "bool", "true", "false: no bias in any Linear or norm"},
       {"attention_window", "int", "0", "0 = global; w = each position sees the w most recent"}});
}
}  // namespace

TFM_REGISTER_MODEL_ENTRY(
    "lm", [](const nlohmann::json& config) -> std::unique_ptr<Model> {
      return std::make_unique<LanguageModel>(LmConfig::parse(config));
    },
    "decoder-only language model (GPT-2 style); trains on text",
    lm_keys(),
    ModelTraits(DataKind::Text, [](const nlohmann::json& config) { return LmConfig::parse(config).to_json(); }));

}  // namespace tfm

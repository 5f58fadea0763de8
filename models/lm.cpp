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

// "norm": a norm type ("layernorm" | "rmsnorm"), {"type": TYPE, "eps": EPS}, or the
// legacy placement ("pre" | "post", before norm_placement existed); then "norm_placement".
// Reads layer_norm_eps first: the object's eps must agree with it when both are given.
void parse_norm(ConfigReader& r, LmConfig& c) {
  const bool eps_given = r.has("layer_norm_eps");
  c.layer_norm_eps = r.get_number("layer_norm_eps", 1e-5, 1e-12, 1.0);
  const nlohmann::json norm = r.get_json("norm");
  std::string legacy_placement;
  if (norm.is_string()) {
    const std::string s = norm.get<std::string>();
    if (s == "pre" || s == "post") {
      legacy_placement = s;
    } else {
      const std::string near = nearest(s, {"layernorm", "rmsnorm", "pre", "post"});
      TFM_CHECK(s == "layernorm" || s == "rmsnorm", "config: model.norm: expected \"layernorm\", \"rmsnorm\", ",
                "{\"type\": \"rmsnorm\", ...} or the legacy placement \"pre\" | \"post\", found \"", s, "\"",
                near.empty() ? "" : " (did you mean \"" + near + "\"?)");
      c.norm = parse_norm_type(s);
    }
  } else if (norm.is_object()) {
    ConfigReader nr(norm, "model.norm");
    c.norm = parse_norm_type(nr.get_string("type", "layernorm", {"layernorm", "rmsnorm"}));
    if (nr.has("eps")) {
      const double eps = nr.get_number("eps", 1e-5, 1e-12, 1.0);
      TFM_CHECK(!eps_given || eps == c.layer_norm_eps, "config: model.norm.eps = ", eps,
                " conflicts with model.layer_norm_eps = ", c.layer_norm_eps, " (give one of them)");
      c.layer_norm_eps = eps;
    }
    nr.finish();
  } else {
    TFM_CHECK(norm.is_null(), "config: model.norm: expected \"layernorm\", \"rmsnorm\" or {\"type\": ..., ",
              "\"eps\": ...}, found ", norm.dump());
  }
  const std::string placement = r.get_string("norm_placement", legacy_placement.empty() ? "pre" : legacy_placement,
                                             {"pre", "post"});
  TFM_CHECK(legacy_placement.empty() || placement == legacy_placement, "config: model.norm = \"", legacy_placement,
            "\" (the legacy spelling of the placement) conflicts with model.norm_placement = \"", placement, "\"");
  c.pre_norm = placement == "pre";
}

void parse_ffn(ConfigReader& r, LmConfig& c) {
  const LayerSlot ffn = LayerSlot::parse(r.get_json("ffn"), c.ffn, "model.ffn");
  c.ffn = ffn.type;
  c.ffn_options = ffn.options;
}

// "head" before "tie_embeddings": tying defaults to whether the head can share the embedding.
void parse_head(ConfigReader& r, LmConfig& c) {
  c.head = parse_head_slot(r.get_json("head"), "model.head");
  const bool can_tie = head_registry().get(c.head.type).extra.ties_to_embedding;
  c.tie_embeddings = r.get_bool("tie_embeddings", can_tie);
  TFM_CHECK(!c.tie_embeddings || can_tie, "config: model.tie_embeddings = true, but model.head \"", c.head.type,
            "\" cannot share the token embedding: set model.tie_embeddings to false");
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
  c.n_head = r.get_int("n_head", c.n_head, 1, 1024);
  c.d_model = r.get_int("d_model", c.d_model, 1, 1 << 16);
  c.d_ff = r.get_int("d_ff", 4 * c.d_model, 1, 1 << 18);
  c.seq_len = r.get_int("seq_len", c.seq_len, 1, 1 << 20);
  c.vocab_size = r.get_int("vocab_size", 0, 0, 1 << 24);
  c.activation = parse_activation(r.get_string("activation", "gelu", {"gelu", "gelu_tanh", "relu"}));
  parse_head(r, c);
  c.bias = r.get_bool("bias", c.bias);
  c.dropout = r.get_number("dropout", 0.0, 0.0, 0.99);
  parse_norm(r, c);
  parse_attention(r, c);
  parse_ffn(r, c);
  r.finish();
  TFM_CHECK(c.d_model % c.n_head == 0, "config: model.d_model = ", c.d_model, " is not divisible by model.n_head = ",
            c.n_head);
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
                      {"n_head", n_head},
                      {"n_kv_head", kv_heads()},
                      {"d_model", d_model},
                      {"d_ff", d_ff},
                      {"seq_len", seq_len},
                      {"vocab_size", vocab_size},
                      {"activation", activation_name(activation)},
                      {"norm", norm_type_name(norm)},
                      {"norm_placement", pre_norm ? "pre" : "post"},
                      {"pos_emb", position_encoding_name(pos_emb)},
                      {"rope_theta", rope_theta},
                      {"bias", bias},
                      {"tie_embeddings", tie_embeddings},
                      {"dropout", dropout},
                      {"layer_norm_eps", layer_norm_eps},
                      {"attention_window", attention_window}};
  if (ffn == "feed_forward" && ffn_options.empty()) {
    j["ffn"] = ffn;
  } else {
    nlohmann::json f = ffn_options;
    f["type"] = ffn;
    j["ffn"] = f;
  }
  if (const nlohmann::json head_json = head_slot_json(head); !head_json.is_null()) j["head"] = head_json;
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
    : ln1(c.norm, c.d_model, static_cast<float>(c.layer_norm_eps), c.bias),
      attn(c.d_model, c.n_head, static_cast<float>(c.dropout), c.attention_window, attention_layout(c)),
      ln2(c.norm, c.d_model, static_cast<float>(c.layer_norm_eps), c.bias),
      ffn(LayerRegistry::create(c.ffn, {c.d_model, c.d_ff, c.activation, static_cast<float>(c.dropout), c.bias},
                                c.ffn_options)),
      residual_dropout_(static_cast<float>(c.dropout)),
      pre_norm_(c.pre_norm) {
  register_module("ln1", ln1);
  register_module("attn", attn);
  register_module("ln2", ln2);
  register_module("ffn", *ffn);
  register_module("residual_dropout", residual_dropout_);
}

Variable LmBlock::forward(const Variable& x) {
  const AttentionMask causal{.causal = true, .key_padding = Tensor()};
  if (pre_norm_) {
    Variable h = ln1(x);
    Variable y = x + residual_dropout_(attn.forward(h, h, causal));
    return y + residual_dropout_(ffn->forward(ln2(y)));
  }
  Variable y = ln1(x + residual_dropout_(attn.forward(x, x, causal)));
  return ln2(y + residual_dropout_(ffn->forward(y)));
}

Variable LmBlock::forward_cached(const Variable& x, KVCache& cache, int64_t capacity) {
  if (pre_norm_) {
    Variable y = x + attn.forward_cached(ln1(x), cache, capacity);
    return y + ffn->forward(ln2(y));
  }
  Variable y = ln1(x + attn.forward_cached(x, cache, capacity));
  return ln2(y + ffn->forward(y));
}

LanguageModel::LanguageModel(const LmConfig& c)
    : tok_emb(c.vocab_size > 0 ? c.vocab_size : 1, c.d_model),
      ln_f(c.norm, c.d_model, static_cast<float>(c.layer_norm_eps), c.bias),
      config_(c),
      emb_dropout_(static_cast<float>(c.dropout)) {
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
  register_module("ln_f", ln_f);
  head = create_head(c.head, {c.d_model, c.vocab_size, c.tie_embeddings ? &tok_emb.weight : nullptr});
  register_module("head", *head);
  register_module("emb_dropout", emb_dropout_);
  init_weights(default_generator());
}

void LanguageModel::init_weights(Generator& gen) {
  // GPT-2 / nanoGPT: N(0, 0.02) for weights and embeddings, zero biases, and the
  // projections that feed the residual stream scaled by 1/√(2·n_layer).
  const float std = 0.02f, residual_std = std / std::sqrt(2.0f * static_cast<float>(config_.n_layer));
  for (auto& [name, p] : named_parameters()) {
    const bool is_bias = name.size() >= 5 && name.ends_with(".bias");
    if (p->shape().ndim() == 2) {
      const bool residual = name.ends_with("attn.out.weight") || name.ends_with("ffn.fc2.weight") ||
                            name.ends_with("ffn.down.weight");
      init::normal(*p, 0.0f, residual ? residual_std : std, gen);
    } else if (is_bias && name.find(".ln") == std::string::npos && !name.starts_with("ln_f")) {
      init::zeros(*p);
    } else if (name.find("ln") != std::string::npos) {
      if (name.ends_with(".weight")) init::ones(*p);
      else init::zeros(*p);
    }
  }
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
  return ln_f(x);
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
  return head->logits(ln_f(x));
}

TFM_REGISTER_MODEL_ENTRY(
    "lm", [](const nlohmann::json& config) -> std::unique_ptr<Model> {
      return std::make_unique<LanguageModel>(LmConfig::parse(config));
    },
    "decoder-only language model (GPT-2 style); trains on text",
    {{"n_layer", "int", "4", "Transformer blocks"},
     {"n_head", "int", "4", "attention heads (must divide d_model)"},
     {"d_model", "int", "128", "model width"},
     {"d_ff", "int", "4*d_model", "feed-forward hidden width"},
     {"seq_len", "int", "64", "context length (positions)"},
     {"vocab_size", "int", "0", "0 = from the tokenizer"},
     {"activation", "string", "\"gelu\"", "gelu (exact erf) | gelu_tanh | relu"},
     {"n_kv_head", "int", "n_head", "key/value heads, grouped-query attention (must divide n_head)"},
     {"norm", "string|object", "\"layernorm\"",
      "layernorm | rmsnorm | {\"type\": \"rmsnorm\", \"eps\": 1e-6} (legacy: \"pre\" | \"post\" mean norm_placement)"},
     {"norm_placement", "string", "\"pre\"", "pre | post (norm before each sublayer, or after the residual add)"},
     {"pos_emb", "string", "\"learned\"", "learned | sinusoidal | rope | none"},
     {"rope_theta", "number", "10000", "base of the rotary angles (pos_emb \"rope\")"},
     {"bias", "bool", "true", "false: no bias in any Linear or norm"},
     {"tie_embeddings", "bool", "true",
      "output head shares the token embedding (default false for a head that cannot)"},
     {"dropout", "number", "0", "dropout on embeddings, attention weights, residuals, FFN"},
     {"layer_norm_eps", "number", "1e-5", "eps of every norm (LayerNorm and RMSNorm)"},
     {"attention_window", "int", "0", "0 = global; w = each position sees the w most recent"},
     {"ffn", "string|object", "\"feed_forward\"", "registered layer for the feed-forward sublayer (model.ffn below)"},
     {"head", "string|object", "\"linear\"", "registered output head (model.head below)"}},
    DataKind::Text);

}  // namespace tfm

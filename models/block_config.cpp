#include "models/block_config.h"

namespace tfm {

namespace {
// "norm": a registered norm ("layernorm", "rmsnorm", ...), {"type": NAME, "eps": EPS,
// ...options}, or the legacy placement "pre" | "post" (before norm_placement
// existed); then "norm_placement". layer_norm_eps is read first: the slot's eps
// must agree with it when both are given.
void parse_norm(ConfigReader& r, BlockConfig& c) {
  const bool eps_given = r.has("layer_norm_eps");
  c.layer_norm_eps = r.get_number("layer_norm_eps", c.layer_norm_eps, 1e-12, 1.0);
  nlohmann::json norm = r.get_json("norm");
  std::string legacy_placement;
  if (norm.is_string() && (norm == "pre" || norm == "post")) {
    legacy_placement = norm.get<std::string>();
    norm = nullptr;
  }
  TFM_CHECK(norm.is_null() || norm.is_string() || norm.is_object(), "config: model.norm: expected a norm (",
            join_names(norm_registry().names()), "), {\"type\": NAME, \"eps\": ...} or the legacy placement ",
            "\"pre\" | \"post\", found ", norm.dump());
  if (norm.is_object() && !norm.contains("type")) norm["type"] = c.norm.type;
  if (norm.is_object() && norm.contains("eps")) {
    const nlohmann::json eps_only = {{"eps", norm["eps"]}};
    ConfigReader nr(eps_only, "model.norm");
    const double eps = nr.get_number("eps", c.layer_norm_eps, 1e-12, 1.0);
    TFM_CHECK(!eps_given || eps == c.layer_norm_eps, "config: model.norm.eps = ", eps,
              " conflicts with model.layer_norm_eps = ", c.layer_norm_eps, " (give one of them)");
    c.layer_norm_eps = eps;
    norm.erase("eps");
  }
  c.norm = LayerSlot::parse(norm_registry(), norm, c.norm.type, "model.norm");
  const std::string placement =
      r.get_string("norm_placement", legacy_placement.empty() ? (c.pre_norm ? "pre" : "post") : legacy_placement,
                   {"pre", "post"});
  TFM_CHECK(legacy_placement.empty() || placement == legacy_placement, "config: model.norm = \"", legacy_placement,
            "\" (the legacy spelling of the placement) conflicts with model.norm_placement = \"", placement, "\"");
  c.pre_norm = placement == "pre";
}
}  // namespace

void BlockConfig::parse_block(ConfigReader& r) {
  n_head = r.get_int("n_head", n_head, 1, 1024);
  d_model = r.get_int("d_model", d_model, 1, 1 << 16);
  d_ff = r.get_int("d_ff", 4 * d_model, 1, 1 << 18);
  activation = parse_activation(r.get_string("activation", activation_name(activation), {"gelu", "gelu_tanh", "relu"}));
  dropout = r.get_number("dropout", dropout, 0.0, 0.99);
  // Absent: -1, following dropout (also when a program changes dropout after parsing).
  auto site = [&](const char* key) {
    r.accept(key);  // known, for the nearest-key suggestion of a misspelt one
    return r.has(key) ? r.get_number(key, 0.0, 0.0, 0.99) : -1.0;
  };
  embedding_dropout = site("embedding_dropout");
  attention_dropout = site("attention_dropout");
  residual_dropout = site("residual_dropout");
  parse_norm(r, *this);
  attention = LayerSlot::parse(attention_registry(), r.get_json("attention"), attention.type, "model.attention");
  ffn = LayerSlot::parse(LayerRegistry::table(), r.get_json("ffn"), ffn.type, "model.ffn");
  read_head_and_tie(r, head, tie_embeddings);
}

void BlockConfig::check_block() const {
  TFM_CHECK(d_model % n_head == 0, "config: model.d_model = ", d_model, " is not divisible by model.n_head = ", n_head);
}

void BlockConfig::write_block(nlohmann::json& j) const {
  j["n_head"] = n_head;
  j["d_model"] = d_model;
  j["d_ff"] = d_ff;
  j["activation"] = activation_name(activation);
  j["dropout"] = dropout;
  j["embedding_dropout"] = embedding_p();
  j["attention_dropout"] = attention_p();
  j["residual_dropout"] = residual_p();
  j["layer_norm_eps"] = layer_norm_eps;
  j["norm"] = norm.to_json();
  j["norm_placement"] = pre_norm ? "pre" : "post";
  j["attention"] = attention.to_json();
  j["ffn"] = ffn.to_json();
  j["tie_embeddings"] = tie_embeddings;
  if (const nlohmann::json head_json = head_slot_json(head); !head_json.is_null()) j["head"] = head_json;
}

std::unique_ptr<OutputHead> BlockConfig::make_head(int64_t vocab_size, const Variable& embedding) const {
  return create_head(head, {d_model, vocab_size, tie_embeddings ? &embedding : nullptr});
}

NormContext BlockConfig::norm_context(bool bias) const {
  return {d_model, static_cast<float>(layer_norm_eps), bias};
}

std::unique_ptr<SequenceLayer> BlockConfig::make_norm(bool bias) const {
  return tfm::make_norm(norm, norm_context(bias));
}

std::unique_ptr<SequenceLayer> BlockConfig::make_ffn(bool bias) const {
  return ffn.create({d_model, d_ff, activation, static_cast<float>(residual_p()), bias});
}

AttentionContext BlockConfig::attention_context(int64_t window, const AttentionLayout& layout) const {
  return {d_model, n_head, static_cast<float>(attention_p()), window, layout};
}

std::unique_ptr<AttentionLayer> BlockConfig::make_attention(int64_t window, const AttentionLayout& layout) const {
  return tfm::make_attention(attention, attention_context(window, layout));
}

std::vector<ConfigKey> BlockConfig::entry_keys(std::vector<ConfigKey> first, const std::vector<ConfigKey>& rest) const {
  const std::string placement = pre_norm ? "pre" : "post";
  const std::vector<ConfigKey> block = {
      {"n_head", "int", std::to_string(n_head), "attention heads (must divide d_model)"},
      {"d_model", "int", std::to_string(d_model), "model width"},
      {"d_ff", "int", "4*d_model", "feed-forward hidden width"},
      {"activation", "string", "\"" + std::string(activation_name(activation)) + "\"",
       "gelu (exact erf) | gelu_tanh | relu"},
      {"dropout", "number", nlohmann::json(dropout).dump(), "the default of the three below"},
      {"embedding_dropout", "number", "dropout", "on the embeddings plus positions"},
      {"attention_dropout", "number", "dropout", "on the attention weights (after the softmax; self and cross)"},
      {"residual_dropout", "number", "dropout",
       "on each sublayer's output before the residual add, and on the FFN's hidden layer"},
      {"layer_norm_eps", "number", "1e-5", "eps of every norm (LayerNorm and RMSNorm)"},
      {"norm", "string|object", "\"layernorm\"",
       "registered norm: layernorm | rmsnorm | {\"type\": \"rmsnorm\", \"eps\": 1e-6} (model.norm below; legacy: "
       "\"pre\" | \"post\" mean norm_placement)"},
      {"norm_placement", "string", "\"" + placement + "\"",
       "pre | post (norm before each sublayer, or after the residual add)"},
      {"attention", "string|object", "\"multi_head\"", "registered attention sublayer (model.attention below)"},
      {"ffn", "string|object", "\"feed_forward\"", "registered layer for the feed-forward sublayer (model.ffn below)"},
      {"head", "string|object", "\"linear\"", "registered output head (model.head below)"},
      {"tie_embeddings", "bool", "true",
       "the output head shares the (target) token embedding (default false for a head that cannot)"},
  };
  first.insert(first.end(), block.begin(), block.end());
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

}  // namespace tfm

#include "tools/train/train_state.h"

#include <nlohmann/json.hpp>
#include <tuple>

#include "core/config.h"
#include "core/safetensors.h"

namespace tfm {

void save_train_state(const std::string& path, const TrainState& s, const NamedTensors& weights,
                      const NamedTensors& optimizer_state, const NamedTensors& ema_averages) {
  NamedTensors tensors;
  for (auto& [name, t] : weights) tensors.emplace_back("model." + name, t);
  for (auto& t : optimizer_state) tensors.push_back(t);
  for (auto& [name, t] : ema_averages) tensors.emplace_back("ema." + name, t);
  nlohmann::json meta = {{"step", s.step},
                         {"tokens", s.tokens},
                         {"elapsed", s.elapsed},
                         {"best_val_loss", std::isfinite(s.best_val_loss) ? nlohmann::json(s.best_val_loss) : nlohmann::json()},
                         {"best_val_bleu", s.best_val_bleu},
                         {"decay_steps", s.decay_steps},
                         {"data_rng", {s.data_seed, s.data_offset}},
                         {"dropout_rng", {s.dropout_seed, s.dropout_offset}}};
  save_safetensors(path, tensors, {{"train_state", meta.dump()}});
}

TrainState load_train_state(const std::string& path, Model& model, Optimizer& opt, WeightEma* ema) {
  SafetensorsContents c = load_safetensors(path);
  auto it = c.metadata.find("train_state");
  TFM_CHECK(it != c.metadata.end(), path, ": not a tfm training state file (no train_state metadata)");
  const nlohmann::json m = parse_json(it->second, path + " (__metadata__.train_state)");
  TFM_CHECK(m.is_object(), path, ": __metadata__.train_state must be a JSON object, found ", m.dump().substr(0, 200));
  // Every field is checked for presence, type and range here: a crafted file must end in an error that names
  // the field, not in a JSON exception or a resumed run with a negative step.
  auto field = [&](const char* key) -> const nlohmann::json& {
    const auto f = m.find(key);
    TFM_CHECK(f != m.end(), path, ": __metadata__.train_state has no \"", key, "\"");
    return *f;
  };
  auto count = [&](const char* key) {
    const nlohmann::json& v = field(key);
    TFM_CHECK(v.is_number_integer() && (v.is_number_unsigned() ? v.get<uint64_t>() <= INT64_MAX : v.get<int64_t>() >= 0),
              path, ": train_state.", key, " must be a non-negative integer, found ", v.dump());
    return v.get<int64_t>();
  };
  auto number = [&](const nlohmann::json& v, const char* key, double min, double max) {
    TFM_CHECK(v.is_number() && v.get<double>() >= min && v.get<double>() <= max, path, ": train_state.", key,
              " must be a number in [", min, ", ", max, "], found ", v.dump());
    return v.get<double>();
  };
  auto rng = [&](const char* key) {
    const nlohmann::json& v = field(key);
    TFM_CHECK(v.is_array() && v.size() == 2 && v[0].is_number_unsigned() && v[1].is_number_unsigned(), path,
              ": train_state.", key, " must be [seed, offset], two non-negative integers, found ", v.dump());
    return std::pair{v[0].get<uint64_t>(), v[1].get<uint64_t>()};
  };
  TrainState s;
  s.step = count("step");
  s.tokens = count("tokens");
  s.elapsed = number(field("elapsed"), "elapsed", 0.0, 1e15);
  const nlohmann::json& best_loss = field("best_val_loss");
  s.best_val_loss = best_loss.is_null() ? INFINITY : number(best_loss, "best_val_loss", -1e300, 1e300);
  s.decay_steps = count("decay_steps");
  s.best_val_bleu = m.contains("best_val_bleu") ? number(m["best_val_bleu"], "best_val_bleu", -1.0, 100.0) : -1.0;
  std::tie(s.data_seed, s.data_offset) = rng("data_rng");
  std::tie(s.dropout_seed, s.dropout_offset) = rng("dropout_rng");
  SafetensorsContents weights, optimizer;
  NamedTensors averages;
  for (auto& [name, t] : c.tensors) {
    if (name.starts_with("model.")) weights.tensors.emplace_back(name.substr(6), t);
    else if (name.starts_with("ema.")) averages.emplace_back(name.substr(4), t);
    else optimizer.tensors.emplace_back(name, t);
  }
  load_weights(model, weights, path);
  try {
    opt.load_state(optimizer.tensors);
    if (ema != nullptr && averages.empty()) ema->reset();
    else if (ema != nullptr) ema->load(averages);
  } catch (const Error& e) {
    TFM_FAIL(path, ": ", e.what());
  }
  return s;
}

}  // namespace tfm

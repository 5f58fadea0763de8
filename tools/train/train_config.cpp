#include "tools/train/train_config.h"

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "layers/head.h"

namespace tfm {

void apply_override(nlohmann::json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  TFM_CHECK(eq != std::string::npos && eq > 0, "--set ", assignment, ": expected key.path=value");
  // Keys and plain-string values go into the config as they are; JSON text is UTF-8, and nlohmann's dump()
  // (every error message that shows a value) throws on anything else.
  try {
    (void)nlohmann::json(assignment).dump();
  } catch (const nlohmann::json::type_error&) {
    TFM_FAIL("--set ", assignment.substr(0, eq), ": the assignment is not valid UTF-8");
  }
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value;
  check_json_bounds(text, "--set " + path);
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    value = text;  // not JSON: a plain string
  }
  nlohmann::json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    TFM_CHECK(!key.empty(), "--set ", assignment, ": empty key in \"", path, "\"");
    TFM_CHECK(node->is_object() || node->is_null(), "--set ", assignment, ": \"", path.substr(0, start),
              "\" is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json j = parse_json(read_file(path), path);
  TFM_CHECK(j.is_object(), path, ": the config must be a JSON object");
  for (const auto& o : overrides) apply_override(j, o);
  return j;
}

namespace {
// The keys a registered entry declares that the section's own keys do not
// cover (a user's optimizer's settings), as the config gives them.
template <typename Entry>
nlohmann::json entry_options(ConfigReader& r, const Entry& entry) {
  nlohmann::json out = nlohmann::json::object();
  for (const ConfigKey& key : entry.keys)
    if (!r.was_read(key.name) && r.has(key.name)) out[key.name] = r.get_json(key.name);
  return out;
}

TokenizerConfig parse_tokenizer(const nlohmann::json& tok) {
  ConfigReader t(tok, "tokenizer");
  TokenizerConfig c;
  c.type = t.get_string("type", c.type);
  (void)tokenizer_registry().get(c.type, "config: tokenizer.type");
  c.vocab_size = t.get_int("vocab_size", 0, 0, 1 << 24);
  c.min_freq = t.get_int("min_freq", 1, 1, 1 << 30);
  c.model_type = t.get_string("model_type", "bpe", {"bpe", "unigram"});
  c.character_coverage = t.get_number("character_coverage", 1.0, 0.5, 1.0);
  t.finish();
  return c;
}

OptimSettings parse_optim(const nlohmann::json& optim) {
  ConfigReader o(optim, "optim");
  OptimSettings c;
  auto& oc = c.optimizer;
  oc.name = o.get_string("name", oc.name);
  const OptimizerRegistry::Entry& optimizer = optimizer_registry().get(oc.name, "config: optim.name");
  oc.lr = o.get_number("lr", 1e-3, 0.0, 100.0);
  const auto betas = o.get_numbers("betas", {0.9, 0.999}, 0.0, 0.999999);
  TFM_CHECK(betas.size() == 2, "config: optim.betas: expected two numbers, found ", betas.size());
  oc.beta1 = betas[0];
  oc.beta2 = betas[1];
  oc.eps = o.get_number("eps", 1e-8, 0.0, 1.0);
  oc.weight_decay = o.get_number("weight_decay", 0.0, 0.0, 10.0);
  oc.momentum = o.get_number("momentum", 0.0, 0.0, 0.999999);
  oc.nesterov = o.get_bool("nesterov", false);
  TFM_CHECK(!oc.nesterov || oc.momentum > 0, "config: optim.nesterov needs optim.momentum > 0");
  oc.decay_embeddings = o.get_bool("decay_embeddings", false);
  auto& s = c.schedule;
  s.name = o.get_string("schedule", s.name);
  const ScheduleRegistry::Entry& schedule = schedule_registry().get(s.name, "config: optim.schedule");
  s.lr = oc.lr;
  s.warmup_steps = o.get_int("warmup_steps", 0, 0, 1 << 30);
  s.decay_steps = o.get_int("decay_steps", 0, 0, 1 << 30);  // 0: train.max_steps (or derived from max_time)
  s.min_lr = o.get_number("min_lr", 0.0, 0.0, 100.0);
  c.grad_clip = o.get_number("grad_clip", 1.0, 0.0, 1e9);
  c.grad_accum = o.get_int("grad_accum", 1, 1, 1 << 16);
  c.label_smoothing = o.get_number("label_smoothing", 0.0, 0.0, 1.0);
  oc.options = entry_options(o, optimizer);
  s.options = entry_options(o, schedule);
  o.finish();
  (void)make_schedule(s);  // its own keys checked now, not at the first step
  return c;
}

nlohmann::json optim_json(const OptimSettings& c) {
  const auto& oc = c.optimizer;
  const auto& s = c.schedule;
  nlohmann::json j = {{"name", oc.name}, {"lr", oc.lr}, {"betas", {oc.beta1, oc.beta2}}, {"eps", oc.eps},
                      {"weight_decay", oc.weight_decay}, {"momentum", oc.momentum}, {"nesterov", oc.nesterov},
                      {"decay_embeddings", oc.decay_embeddings}, {"schedule", s.name}, {"warmup_steps", s.warmup_steps},
                      {"decay_steps", s.decay_steps}, {"min_lr", s.min_lr}, {"grad_clip", c.grad_clip},
                      {"grad_accum", c.grad_accum}, {"label_smoothing", c.label_smoothing}};
  for (const auto& options : {oc.options, s.options}) j.update(options);
  return j;
}

DataConfig parse_data(const nlohmann::json& data) {
  ConfigReader d(data, "data");
  DataConfig c;
  auto files = [](const nlohmann::json& j, const std::string& key) {
    TFM_CHECK(j.is_string() || j.is_array(), "config: ", key, ": expected a file name or a list of them, found ",
              j.dump());
    std::vector<std::string> out;
    if (j.is_string()) out.push_back(j.get<std::string>());
    else
      for (const auto& e : j) {
        TFM_CHECK(e.is_string(), "config: ", key, ": expected strings, found ", e.dump());
        out.push_back(e.get<std::string>());
      }
    TFM_CHECK(!out.empty(), "config: ", key, ": at least one file is required");
    return out;
  };
  // Parallel data: {"source": files, "target": files}.
  auto pair_of_files = [&](const nlohmann::json& j, const std::string& key, std::vector<std::string>& src,
                           std::vector<std::string>& tgt) {
    ConfigReader p(j, key);
    const nlohmann::json s = p.get_json("source"), t = p.get_json("target");
    TFM_CHECK(!s.is_null() && !t.is_null(), "config: ", key, ": parallel data needs both \"source\" and \"target\"");
    src = files(s, key + ".source");
    tgt = files(t, key + ".target");
    TFM_CHECK(src.size() == tgt.size(), "config: ", key, ": ", src.size(), " source file(s) but ", tgt.size(),
              " target file(s)");
    p.finish();
  };
  const nlohmann::json train_files = d.get_json("train");
  if (train_files.is_object()) {
    pair_of_files(train_files, "data.train", c.train_source, c.train_target);
    const nlohmann::json val_files = d.get_json("val");
    TFM_CHECK(val_files.is_object(), "config: data.val: parallel training data needs parallel validation data ",
              "{\"source\": ..., \"target\": ...}");
    pair_of_files(val_files, "data.val", c.val_source, c.val_target);
    TFM_CHECK(!d.has("cache_dir"), "config: data.cache_dir applies to text data only (parallel data is read into "
              "memory, not prepared)");
    c.max_len = d.get_int("max_len", 0, 0, 1 << 20);
    c.sort_pool = d.get_int("sort_pool", c.sort_pool, 1, int64_t{1} << 40);
  } else {
    c.train = d.get_strings("train", {});
    TFM_CHECK(!c.train.empty(), "config: data.train: at least one training file is required");
    c.val = d.get_strings("val", {});
    c.val_fraction = d.get_number("val_fraction", c.val.empty() ? 0.1 : 0.0, 0.0, 0.5);
    TFM_CHECK(!c.val.empty() || c.val_fraction > 0.0,
              "config: data: set data.val (files) or data.val_fraction > 0 for validation");
    c.cache_dir = d.get_string("cache_dir", "");
  }
  d.finish();
  return c;
}

// "ema": 0.999 (from the first step) or {"decay": 0.999, "start": 1000}; null or absent: off.
EmaConfig parse_ema(const nlohmann::json& ema) {
  EmaConfig c;
  if (ema.is_null()) return c;
  const nlohmann::json object = ema.is_number() ? nlohmann::json{{"decay", ema}} : ema;
  TFM_CHECK(object.is_object(), "config: train.ema: expected a decay (0.999), {\"decay\": 0.999, \"start\": 1000} ",
            "or null, found ", ema.dump());
  ConfigReader r(object, "train.ema");
  c.decay = r.get_number("decay", 0.999, 0.0, 1.0);
  TFM_CHECK(c.decay > 0.0 && c.decay < 1.0, "config: train.ema.decay must be in (0, 1), found ", c.decay);
  c.start = r.get_int("start", 0, 0, int64_t{1} << 40);
  r.finish();
  return c;
}

TrainSettings parse_train(const nlohmann::json& train, bool parallel) {
  ConfigReader tr(train, "train");
  TrainSettings ts;
  ts.batch_size = tr.get_int("batch_size", ts.batch_size, 1, 1 << 20);
  ts.max_steps = tr.get_int("max_steps", ts.max_steps, 0, int64_t{1} << 40);
  ts.max_time = tr.get_number("max_time", 0.0, 0.0, 1e9);
  TFM_CHECK(ts.max_steps > 0 || ts.max_time > 0, "config: train: set train.max_steps or train.max_time");
  if (ts.max_steps == 0) ts.max_steps = int64_t{1} << 40;
  ts.eval_every = tr.get_int("eval_every", ts.eval_every, 1, int64_t{1} << 40);
  ts.eval_batches = tr.get_int("eval_batches", ts.eval_batches, 1, 1 << 20);
  ts.log_every = tr.get_int("log_every", ts.log_every, 1, int64_t{1} << 40);
  ts.checkpoint_every = tr.get_int("checkpoint_every", ts.checkpoint_every, 1, int64_t{1} << 40);
  ts.seed = static_cast<uint64_t>(tr.get_int("seed", 1337, 0, int64_t{1} << 62));
  ts.threads = tr.get_int("threads", 0, 0, 4096);
  ts.precision = tr.get_string("precision", "fp32", {"fp32", "bf16", "auto"});
  ts.skip_nonfinite = tr.get_bool("skip_nonfinite", false);
  ts.keep_checkpoints = tr.get_int("keep_checkpoints", 0, 0, 1 << 20);
  ts.z_loss = tr.get_number("z_loss", 0.0, 0.0, 1.0);
  ts.ema = parse_ema(tr.get_json("ema"));
  if (parallel) {
    ts.batch_tokens = tr.get_int("batch_tokens", 0, 0, int64_t{1} << 40);
    if (ts.batch_tokens > 0) TFM_CHECK(!tr.has("batch_size"), "config: train: set train.batch_tokens or train.batch_size, not both");
    ts.eval_bleu = tr.get_bool("eval_bleu", true);
    ts.eval_bleu_sentences = tr.get_int("eval_bleu_sentences", 0, 0, int64_t{1} << 40);
    ts.best_by = tr.get_string("best_by", "loss", {"loss", "bleu"});
    TFM_CHECK(ts.best_by != "bleu" || ts.eval_bleu, "config: train.best_by = \"bleu\" needs train.eval_bleu = true");
  } else {
    for (const char* key : {"batch_tokens", "eval_bleu", "eval_bleu_sentences", "best_by"})
      TFM_CHECK(!tr.has(key), "config: train.", key, " applies to parallel data only (data.train {\"source\", \"target\"})");
  }
  tr.finish();
  return ts;
}

// The text data section; cache_dir only when set (where the tokens are kept is not what they are).
nlohmann::json text_data_json(const DataConfig& d) {
  nlohmann::json j = {{"train", d.train}, {"val", d.val}, {"val_fraction", d.val_fraction}};
  if (!d.cache_dir.empty()) j["cache_dir"] = d.cache_dir;
  return j;
}

nlohmann::json resolved_json(const TrainConfig& c) {
  const TrainSettings& ts = c.train;
  nlohmann::json resolved = {
      {"model", c.model},
      {"tokenizer", tokenizer_config_json(c.tokenizer)},
      {"data", c.data.parallel()
                   ? nlohmann::json{{"train", {{"source", c.data.train_source}, {"target", c.data.train_target}}},
                                    {"val", {{"source", c.data.val_source}, {"target", c.data.val_target}}},
                                    {"max_len", c.data.max_len},
                                    {"sort_pool", c.data.sort_pool}}
                   : text_data_json(c.data)},
      {"optim", optim_json(c.optim)},
      {"train",
       {{"batch_size", ts.batch_size}, {"max_steps", ts.max_steps}, {"max_time", ts.max_time},
        {"eval_every", ts.eval_every}, {"eval_batches", ts.eval_batches}, {"log_every", ts.log_every},
        {"checkpoint_every", ts.checkpoint_every}, {"seed", ts.seed}, {"threads", ts.threads},
        {"precision", ts.precision}, {"skip_nonfinite", ts.skip_nonfinite}, {"keep_checkpoints", ts.keep_checkpoints},
        {"z_loss", ts.z_loss},
        {"ema", ts.ema.enabled() ? nlohmann::json{{"decay", ts.ema.decay}, {"start", ts.ema.start}}
                                 : nlohmann::json()}}}};
  if (c.data.parallel()) {
    auto& t = resolved["train"];
    t["batch_tokens"] = ts.batch_tokens;
    // Token-count batches take no batch_size (parse refuses both): config.json must parse as a config again.
    if (ts.batch_tokens > 0) t.erase("batch_size");
    t["eval_bleu"] = ts.eval_bleu;
    t["eval_bleu_sentences"] = ts.eval_bleu_sentences;
    t["best_by"] = ts.best_by;
  }
  return resolved;
}

// Label smoothing and z-loss need the whole vocabulary's scores for every row: a
// model.head that computes its loss otherwise (the adaptive softmax) is refused
// here, when the config is read, rather than at the first step.
void check_head_supports_loss_options(const TrainConfig& c) {
  if (!c.model.contains("head") || (c.optim.label_smoothing == 0.0 && c.train.z_loss == 0.0)) return;
  const LayerSlot head = parse_head_slot(c.model.at("head"), "model.head");
  if (head_registry().get(head.type, "config: model.head").extra.scores_whole_vocabulary) return;
  TFM_CHECK(c.optim.label_smoothing == 0.0, "config: optim.label_smoothing = ", c.optim.label_smoothing,
            " needs a head that scores the whole vocabulary; model.head \"", head.type,
            "\" does not: set optim.label_smoothing to 0");
  TFM_FAIL("config: train.z_loss = ", c.train.z_loss, " needs a head that scores the whole vocabulary; model.head \"",
           head.type, "\" does not: set train.z_loss to 0");
}

}  // namespace

TrainConfig TrainConfig::parse(const nlohmann::json& j) {
  ConfigReader top(j, "");
  TrainConfig c;
  c.model = top.get_json("model");
  TFM_CHECK(c.model.is_object(), "config: section \"model\" is missing or not an object");

  c.tokenizer = parse_tokenizer(top.get_json("tokenizer"));
  c.data = parse_data(top.get_json("data"));
  c.optim = parse_optim(top.get_json("optim"));
  c.train = parse_train(top.get_json("train"), c.data.parallel());
  top.finish();
  check_head_supports_loss_options(c);

  c.resolved = resolved_json(c);
  return c;
}

}  // namespace tfm

#include "tools/train/train_config.h"

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"

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

TrainConfig TrainConfig::parse(const nlohmann::json& j) {
  ConfigReader top(j, "");
  TrainConfig c;
  c.model = top.get_json("model");
  TFM_CHECK(c.model.is_object(), "config: section \"model\" is missing or not an object");

  const nlohmann::json tok = top.get_json("tokenizer");
  ConfigReader t(tok, "tokenizer");
  c.tokenizer.type = t.get_string("type", "char", {"byte", "char", "word", "sentencepiece"});
  c.tokenizer.vocab_size = t.get_int("vocab_size", 0, 0, 1 << 24);
  c.tokenizer.min_freq = t.get_int("min_freq", 1, 1, 1 << 30);
  c.tokenizer.model_type = t.get_string("model_type", "bpe", {"bpe", "unigram"});
  c.tokenizer.character_coverage = t.get_number("character_coverage", 1.0, 0.5, 1.0);
  t.finish();

  const nlohmann::json data = top.get_json("data");
  ConfigReader d(data, "data");
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
    pair_of_files(train_files, "data.train", c.data.train_source, c.data.train_target);
    const nlohmann::json val_files = d.get_json("val");
    TFM_CHECK(val_files.is_object(), "config: data.val: parallel training data needs parallel validation data ",
              "{\"source\": ..., \"target\": ...}");
    pair_of_files(val_files, "data.val", c.data.val_source, c.data.val_target);
    c.data.max_len = d.get_int("max_len", 0, 0, 1 << 20);
    c.data.sort_pool = d.get_int("sort_pool", c.data.sort_pool, 1, int64_t{1} << 40);
  } else {
    c.data.train = d.get_strings("train", {});
    TFM_CHECK(!c.data.train.empty(), "config: data.train: at least one training file is required");
    c.data.val = d.get_strings("val", {});
    c.data.val_fraction = d.get_number("val_fraction", c.data.val.empty() ? 0.1 : 0.0, 0.0, 0.5);
    TFM_CHECK(!c.data.val.empty() || c.data.val_fraction > 0.0,
              "config: data: set data.val (files) or data.val_fraction > 0 for validation");
  }
  d.finish();

  const nlohmann::json optim = top.get_json("optim");
  ConfigReader o(optim, "optim");
  auto& oc = c.optim.optimizer;
  oc.name = o.get_string("name", "adamw", {"sgd", "adam", "adamw"});
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
  auto& s = c.optim.schedule;
  s.name = o.get_string("schedule", "constant", {"constant", "cosine", "noam"});
  s.lr = oc.lr;
  s.warmup_steps = o.get_int("warmup_steps", 0, 0, 1 << 30);
  s.decay_steps = o.get_int("decay_steps", 0, 0, 1 << 30);  // 0: train.max_steps (or derived from max_time)
  s.min_lr = o.get_number("min_lr", 0.0, 0.0, 100.0);
  c.optim.grad_clip = o.get_number("grad_clip", 1.0, 0.0, 1e9);
  c.optim.grad_accum = o.get_int("grad_accum", 1, 1, 1 << 16);
  c.optim.label_smoothing = o.get_number("label_smoothing", 0.0, 0.0, 1.0);
  o.finish();

  const nlohmann::json train = top.get_json("train");
  ConfigReader tr(train, "train");
  auto& ts = c.train;
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
  if (c.data.parallel()) {
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
  top.finish();

  c.resolved = {
      {"model", c.model},
      {"tokenizer",
       {{"type", c.tokenizer.type}, {"vocab_size", c.tokenizer.vocab_size}, {"min_freq", c.tokenizer.min_freq},
        {"model_type", c.tokenizer.model_type}, {"character_coverage", c.tokenizer.character_coverage}}},
      {"data", c.data.parallel()
                   ? nlohmann::json{{"train", {{"source", c.data.train_source}, {"target", c.data.train_target}}},
                                    {"val", {{"source", c.data.val_source}, {"target", c.data.val_target}}},
                                    {"max_len", c.data.max_len},
                                    {"sort_pool", c.data.sort_pool}}
                   : nlohmann::json{{"train", c.data.train}, {"val", c.data.val}, {"val_fraction", c.data.val_fraction}}},
      {"optim",
       {{"name", oc.name}, {"lr", oc.lr}, {"betas", {oc.beta1, oc.beta2}}, {"eps", oc.eps},
        {"weight_decay", oc.weight_decay}, {"momentum", oc.momentum}, {"nesterov", oc.nesterov},
        {"decay_embeddings", oc.decay_embeddings}, {"schedule", s.name}, {"warmup_steps", s.warmup_steps},
        {"decay_steps", s.decay_steps}, {"min_lr", s.min_lr}, {"grad_clip", c.optim.grad_clip},
        {"grad_accum", c.optim.grad_accum}, {"label_smoothing", c.optim.label_smoothing}}},
      {"train",
       {{"batch_size", ts.batch_size}, {"max_steps", ts.max_steps}, {"max_time", ts.max_time},
        {"eval_every", ts.eval_every}, {"eval_batches", ts.eval_batches}, {"log_every", ts.log_every},
        {"checkpoint_every", ts.checkpoint_every}, {"seed", ts.seed}, {"threads", ts.threads},
        {"precision", ts.precision}, {"skip_nonfinite", ts.skip_nonfinite}, {"keep_checkpoints", ts.keep_checkpoints}}}};
  if (c.data.parallel()) {
    auto& t = c.resolved["train"];
    t["batch_tokens"] = ts.batch_tokens;
    // Token-count batches take no batch_size (parse refuses both): config.json must parse as a config again.
    if (ts.batch_tokens > 0) t.erase("batch_size");
    t["eval_bleu"] = ts.eval_bleu;
    t["eval_bleu_sentences"] = ts.eval_bleu_sentences;
    t["best_by"] = ts.best_by;
  }
  return c;
}

std::string config_keys_help() {
  return R"(Config keys (JSON; override any with --set section.key=value):

model (decoder-only LM, "type": "lm")
  type              string  "lm" | "transformer" | "rnn-attention"  model architecture
  n_layer           int     4       Transformer blocks
  n_head            int     4       attention heads (must divide d_model)
  n_kv_head         int     n_head  key/value heads, grouped-query attention (must divide n_head)
  d_model           int     128     model width
  d_ff              int     4*d_model  feed-forward hidden width
  seq_len           int     64      context length (positions)
  vocab_size        int     from the tokenizer
  activation        string  "gelu"  gelu (exact erf) | gelu_tanh | relu
  norm              string|object "layernorm"  layernorm | rmsnorm | {"type": "rmsnorm", "eps": 1e-6}
                                    (legacy: "pre" | "post" mean norm_placement)
  norm_placement    string  "pre"   pre | post (norm before each sublayer, or after the residual add)
  pos_emb           string  "learned"  learned | sinusoidal | rope | none
  rope_theta        number  10000   base of the rotary angles (pos_emb "rope")
  bias              bool    true    false: no bias in any Linear or norm
  tie_embeddings    bool    true    output head shares the token embedding
  dropout           number  0       dropout on embeddings, attention weights, residuals, FFN
  layer_norm_eps    number  1e-5    eps of every norm (LayerNorm and RMSNorm)
  attention_window  int     0       0 = global; w = each position sees the w most recent
  ffn               string|object "feed_forward"  registered layer used as the feed-forward sublayer
                                    ("swiglu": down(silu(gate(x))*up(x)), hidden size d_ff)
model ("type": "transformer", Vaswani et al. 2017) also: n_encoder_layers, n_decoder_layers
  (default n_layer = 6), share_embeddings (true); defaults differ from the LM's: d_model 512,
  n_head 8, norm "post", activation "relu", dropout 0.1, seq_len 256. Trains on parallel data (docs/translation.md).
model ("type": "rnn-attention", Luong et al. 2015; docs/attention.md)
  d_model           int     256     embedding and LSTM hidden size
  seq_len           int     128     longest sentence (tokens, eos included)
  dropout           number  0.2     on embeddings, encoder states and attentional states
  tie_embeddings    bool    true    output layer shares the target embedding
  input_feeding     bool    true    feed h~(t-1) with the next decoder input
  attention         object  {"type": "global", "score": "dot", "window": 10}
                    type global | local-m | local-p | none; score dot | general | concat; window D

tokenizer
  type              string  "char"  byte | char | word | sentencepiece
  vocab_size        int     0       word: most frequent kept (0 = all); sentencepiece: required
  min_freq          int     1       word: minimum count
  model_type        string  "bpe"   sentencepiece: bpe | unigram
  character_coverage number 1.0     sentencepiece

data (text, for "lm")
  train             [string] required  files or globs (relative to the current directory)
  val               [string] []        validation files; empty = hold out val_fraction
  val_fraction      number  0.1     fraction held out from the end of the training text
data (parallel, for "transformer" and "rnn-attention": line i of source ↔ line i of target)
  train             {"source": files, "target": files}  required
  val               {"source": files, "target": files}  required
  max_len           int     0       drop training pairs with a side longer (tokens + eos); 0 = model.seq_len
  sort_pool         int     16384   pairs shuffled, then sorted by length within pools of this size

optim
  name              string  "adamw" sgd | adam | adamw
  lr                number  1e-3    peak learning rate
  betas             [n, n]  [0.9, 0.999]
  eps               number  1e-8
  weight_decay      number  0       adamw: decoupled; adam/sgd: L2. Matrices only
  decay_embeddings  bool    false   also decay embedding matrices
  momentum          number  0       sgd
  nesterov          bool    false   sgd
  schedule          string  "constant"  constant | cosine | noam
  warmup_steps      int     0       linear warmup
  decay_steps       int     0       cosine end; 0 = train.max_steps, or derived from train.max_time
  min_lr            number  0       cosine floor
  grad_clip         number  1.0     max global gradient norm (0 = off)
  grad_accum        int     1       micro-batches per step
  label_smoothing   number  0

train
  batch_size        int     12      sequences per step (per micro-batch when grad_accum > 1)
  max_steps         int     5000    0 = no limit (then max_time must be set)
  max_time          number  0       seconds of training, 0 = no limit
  eval_every        int     250     steps between validations
  eval_batches      int     20      batches per validation
  log_every         int     10      steps between log lines (the last step is always logged)
  checkpoint_every  int     500     steps between checkpoints
  seed              int     1337
  threads           int     0       OpenMP threads, 0 = the cores / MPI ranks on this host
  precision         string  "fp32"  fp32 | bf16 | auto: GEMM operands in bf16 with fp32 accumulation; weights, optimizer
                                    state, softmax, norms and losses stay fp32 (auto: bf16 where its GEMM is 1.3x faster)
  skip_nonfinite    bool    false   skip steps with NaN/Inf loss or gradients instead of stopping
  keep_checkpoints  int     0       also keep the last K checkpoints as checkpoints/step-N.safetensors (tfm average)
train (parallel data only)
  batch_tokens      int     0       token-count batches: rows × longest side ≤ this (0 = batch_size sentences)
  eval_bleu         bool    true    greedy BLEU (sacreBLEU's default) on the validation pairs at each evaluation
  eval_bleu_sentences int   0       validation pairs decoded for BLEU (0 = all)
  best_by           string  "loss"  loss | bleu: which validation figure picks best.safetensors
)";
}

}  // namespace tfm

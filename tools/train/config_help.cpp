#include "tools/train/config_help.h"

#include <vector>

#include "core/registry.h"
#include "layers/attention.h"
#include "layers/head.h"
#include "layers/norm.h"
#include "layers/registry.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tools/text/tokenizer.h"

namespace tfm {
namespace {

// Appends s and spaces up to width (one at least).
void append_padded(std::string& line, const std::string& s, size_t width) {
  line.append(s);
  line.append(s.size() < width ? width - s.size() : 1, ' ');
}

// "  name              type    default  help", continuation lines of help aligned under it.
std::string key_lines(const std::vector<ConfigKey>& keys) {
  std::string out;
  for (const ConfigKey& k : keys) {
    std::string line(2, ' ');
    append_padded(line, k.name, 18);
    append_padded(line, k.type, 8);
    append_padded(line, k.default_value, 8);
    const size_t indent = line.size();
    for (size_t start = 0, end; start <= k.help.size(); start = end + 1) {
      end = k.help.find('\n', start);
      if (end == std::string::npos) end = k.help.size();
      if (start > 0) line.append(1, '\n').append(indent, ' ');
      line.append(k.help, start, end - start);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line).append(1, '\n');
  }
  return out;
}

// One heading a registered entry, then its keys: section ("key": "name"): help.
template <typename Table>
std::string entry_sections(const Table& table, const std::string& section, const std::string& key) {
  std::string out;
  for (const auto* e : table.entries()) {
    out += section + " (\"" + key + "\": \"" + e->name + "\")" + (e->help.empty() ? "" : ": " + e->help) + "\n";
    out += key_lines(e->keys);
  }
  return out;
}

std::string quoted_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : " | ") + n;
  return s;
}

std::string model_sections() {
  std::string out = "model: \"type\" picks a registered model type: " + quoted_names(ModelRegistry::types()) + "\n";
  out += entry_sections(ModelRegistry::table(), "model", "type");
  out += "model.attention: a registered attention sublayer, \"attention\": NAME or {\"type\": NAME, ...its options}\n";
  out += entry_sections(attention_registry(), "model.attention", "type");
  out += "model.ffn: a registered layer, \"ffn\": NAME or {\"type\": NAME, ...its options}\n";
  out += entry_sections(LayerRegistry::table(), "model.ffn", "type");
  out += "model.norm: a registered norm, \"norm\": NAME or {\"type\": NAME, \"eps\": EPS, ...its options}\n";
  out += entry_sections(norm_registry(), "model.norm", "type");
  out += "model.head: a registered output head, \"head\": NAME or {\"type\": NAME, ...its options}\n";
  out += entry_sections(head_registry(), "model.head", "type");
  return out;
}

std::string tokenizer_sections() {
  std::string out = "tokenizer\n";
  out += key_lines({{"type", "string", "\"char\"", "a registered tokenizer: " + quoted_names(tokenizer_registry().names())}});
  return out + entry_sections(tokenizer_registry(), "tokenizer", "type");
}

std::string data_sections() {
  return "data (text, for models that train on text)\n" +
         key_lines({{"train", "[string]", "required", "files or globs (relative to the current directory)"},
                    {"val", "[string]", "[]", "validation files; empty = hold out val_fraction"},
                    {"val_fraction", "number", "0.1", "fraction held out from the end of the training text"},
                    {"cache_dir", "string", "\"\"",
                     "prepared token files (docs/data.md); \"\" = $TFM_CACHE_DIR, else\n"
                     "$XDG_CACHE_HOME/tfm/data, else ~/.cache/tfm/data"}}) +
         "data (parallel, for models that train on sentence pairs: line i of source <-> line i of target)\n" +
         key_lines({{"train", "object", "required", "{\"source\": files, \"target\": files}"},
                    {"val", "object", "required", "{\"source\": files, \"target\": files}"},
                    {"max_len", "int", "0", "drop training pairs with a side longer (tokens + eos); 0 = model.seq_len"},
                    {"sort_pool", "int", "16384", "pairs shuffled, then sorted by length within pools of this size"}});
}

std::string optim_sections() {
  std::string out = "optim\n";
  out += key_lines(
      {{"name", "string", "\"adamw\"", "a registered optimizer: " + quoted_names(optimizer_registry().names())},
       {"lr", "number", "1e-3", "peak learning rate"},
       {"weight_decay", "number", "0", "matrices only (each optimizer says how it applies it)"},
       {"decay_embeddings", "bool", "false", "also decay embedding matrices"},
       {"schedule", "string", "\"constant\"", "a registered schedule: " + quoted_names(schedule_registry().names())},
       {"grad_clip", "number", "1.0", "max global gradient norm (0 = off)"},
       {"grad_accum", "int", "1", "micro-batches per step"},
       {"label_smoothing", "number", "0", ""}});
  out += entry_sections(optimizer_registry(), "optim", "name");
  return out + entry_sections(schedule_registry(), "optim", "schedule");
}

std::string train_sections() {
  return "train\n" +
         key_lines({{"batch_size", "int", "12", "sequences per step (per micro-batch when grad_accum > 1)"},
                    {"max_steps", "int", "5000", "0 = no limit (then max_time must be set)"},
                    {"max_time", "number", "0", "seconds of training, 0 = no limit"},
                    {"eval_every", "int", "250", "steps between validations"},
                    {"eval_batches", "int", "20", "batches per validation"},
                    {"log_every", "int", "10", "steps between log lines (the last step is always logged)"},
                    {"checkpoint_every", "int", "500", "steps between checkpoints"},
                    {"seed", "int", "1337", ""},
                    {"threads", "int", "0", "OpenMP threads, 0 = the cores / MPI ranks on this host"},
                    {"precision", "string", "\"fp32\"",
                     "fp32 | bf16 | auto: GEMM operands in bf16 with fp32 accumulation; weights, optimizer\n"
                     "state, softmax, norms and losses stay fp32 (auto: bf16 where its GEMM is 1.3x faster)"},
                    {"skip_nonfinite", "bool", "false", "skip steps with NaN/Inf loss or gradients instead of stopping"},
                    {"keep_checkpoints", "int", "0",
                     "also keep the last K checkpoints as checkpoints/step-N.safetensors (tfm average)"},
                    {"z_loss", "number", "0",
                     "z-loss coefficient (PaLM): adds z * mean (logsumexp of the logits)^2 to the training\n"
                     "loss; the logged loss is the cross-entropy, the z term is logged as z_loss"},
                    {"ema", "number|object", "null",
                     "average of the weights: 0.999 or {\"decay\": 0.999, \"start\": 1000}; after step t >= start,\n"
                     "ema = decay * ema + (1 - decay) * w (before start, ema = w). Validation, best.safetensors\n"
                     "and checkpoints/ema.safetensors use the average"}}) +
         "train (parallel data only)\n" +
         key_lines({{"batch_tokens", "int", "0", "token-count batches: rows x longest side <= this (0 = batch_size sentences)"},
                    {"eval_bleu", "bool", "true", "greedy BLEU (sacreBLEU's default) on the validation pairs at each evaluation"},
                    {"eval_bleu_sentences", "int", "0", "validation pairs decoded for BLEU (0 = all)"},
                    {"best_by", "string", "\"loss\"", "loss | bleu: which validation figure picks best.safetensors"}});
}

}  // namespace

std::string config_keys_help() {
  return "Config keys (JSON; override any with --set section.key=value):\n\n" + model_sections() + "\n" +
         tokenizer_sections() + "\n" + data_sections() + "\n" + optim_sections() + "\n" + train_sections();
}

std::string config_keys_markdown() { return "```\n" + config_keys_help() + "```\n"; }

}  // namespace tfm

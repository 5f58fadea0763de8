#include "tools/train/task.h"

#include <algorithm>
#include <optional>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "models/seq2seq.h"
#include "tools/data/parallel_data.h"
#include "tools/data/token_cache.h"
#include "tools/data/token_manifest.h"
#include "tools/support/progress.h"
#include "tools/text/text_files.h"
#include "tools/train/distributed.h"

namespace tfm {
namespace {

// The tokenizer a resumed run or a checkpoint brings; null for a new run.
std::unique_ptr<Tokenizer> resumed_tokenizer(const ResumeFrom& from, const RunDir& dir) {
  if (from.from_state()) {
    SafetensorsContents header = load_safetensors(dir.last());
    return Tokenizer::from_json(parse_json(header.metadata.at("tokenizer"), dir.last()));
  }
  if (!from.weights.empty()) return Tokenizer::from_json(load_checkpoint(from.weights).tokenizer);
  return nullptr;
}

struct ParallelText {
  std::vector<std::string> train_src, train_tgt, val_src, val_tgt;
};

ParallelText read_parallel_text(const DataConfig& data) {
  ParallelText t;
  t.train_src = read_lines(expand_paths(data.train_source), "data.train.source");
  t.train_tgt = read_lines(expand_paths(data.train_target), "data.train.target");
  t.val_src = read_lines(expand_paths(data.val_source), "data.val.source");
  t.val_tgt = read_lines(expand_paths(data.val_target), "data.val.target");
  TFM_CHECK(t.train_src.size() == t.train_tgt.size(), "data.train: the source has ", t.train_src.size(),
            " lines but the target ", t.train_tgt.size(), " (line i of one must translate line i of the other)");
  TFM_CHECK(t.val_src.size() == t.val_tgt.size(), "data.val: the source has ", t.val_src.size(),
            " lines but the target ", t.val_tgt.size());
  return t;
}

// Training pairs with a side longer than max_len are dropped; validation keeps every pair, cut
// to the model's length L (the source to L tokens, eos last; the target to L − 1).
struct EncodedPairs {
  std::vector<SentencePair> pairs;
  int64_t dropped = 0, cut = 0;
};

EncodedPairs encode_pairs(const Tokenizer& tok, const std::vector<std::string>& src, const std::vector<std::string>& tgt,
                          bool train, int64_t max_len, int64_t L) {
  EncodedPairs out;
  out.pairs.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    SentencePair p{encode_sentence(tok, src[i]), tok.encode(tgt[i])};
    const auto src_len = static_cast<int64_t>(p.source.size()), tgt_len = static_cast<int64_t>(p.target.size()) + 1;
    if (src_len > max_len || tgt_len > max_len) {
      if (train) {
        ++out.dropped;
        continue;
      }
      out.cut += src_len > L || tgt_len > L;
      if (src_len > L) p.source.resize(L), p.source.back() = tok.eos_id();
      if (tgt_len > L) p.target.resize(L - 1);
    }
    out.pairs.push_back(std::move(p));
  }
  return out;
}

std::unique_ptr<TrainData> parallel_train_data(const TrainConfig& cfg, const ParallelText& text, const Tokenizer& tok,
                                               int64_t L) {
  const int64_t max_len = cfg.data.max_len > 0 ? std::min(cfg.data.max_len, L) : L;
  EncodedPairs train = encode_pairs(tok, text.train_src, text.train_tgt, true, max_len, L);
  EncodedPairs val = encode_pairs(tok, text.val_src, text.val_tgt, false, max_len, L);
  ParallelBatching batching;
  batching.batch_tokens = cfg.train.batch_tokens;
  batching.batch_size = cfg.train.batch_tokens > 0 ? 0 : cfg.train.batch_size;
  batching.sort_pool = cfg.data.sort_pool;
  batching.seed = cfg.train.seed;
  return std::make_unique<ParallelTrainData>(
      ParallelData(std::move(train.pairs), std::move(val.pairs), batching, tok.bos_id(), tok.eos_id(), tok.pad_id()),
      train.dropped, val.cut);
}

// Checks that the data suits the model before anything is read.
void check_data_kind(const TrainConfig& cfg, DataKind kind, const std::string& model_type) {
  const bool parallel = cfg.data.parallel();
  TFM_CHECK(parallel || kind != DataKind::Parallel, "tfm train: model.type \"", model_type,
            "\" is an encoder-decoder: it trains on parallel data, data.train {\"source\": files, \"target\": files}");
  TFM_CHECK(!parallel || kind != DataKind::Text, "tfm train: parallel data (data.train {source, target}) trains an ",
            "encoder-decoder (model.type ", quoted_list(ModelRegistry::types(DataKind::Parallel)),
            "), found model.type \"", model_type, "\"");
}

// The model, seeded: the same config and seed give the same run. The default generator (which
// the layers' constructors draw from) is left as it was.
std::unique_ptr<Model> create_model(const nlohmann::json& model_json, uint64_t seed) {
  Generator& gen = default_generator();
  const uint64_t saved_seed = gen.seed(), saved_offset = gen.offset();
  gen.set_state(seed, 0);
  std::unique_ptr<Model> model = ModelRegistry::create(model_json);
  Generator init_gen(seed ^ 0x5eedULL);
  model->init_weights(init_gen);
  gen.set_state(saved_seed, saved_offset);
  return model;
}

// Every MPI rank must train on the same ids: the tokenizer's hash (in 21-bit parts, so that a
// sum over ranks stays exact in a double) and the token counts, each summed over the ranks,
// equal the rank count times this rank's value only if no rank differs from the largest.
void check_ranks_agree(const PreparedLmData& p) {
  const std::string hash = tokenizer_hash(*p.tokenizer);
  const uint64_t h = std::stoull(hash.substr(hash.find(':') + 1), nullptr, 16);
  double mine[5] = {static_cast<double>(h & 0x1fffff), static_cast<double>((h >> 21) & 0x1fffff),
                    static_cast<double>(h >> 42), static_cast<double>(p.train.file->size()),
                    p.val ? static_cast<double>(p.val->file->size()) : 0.0};
  double sums[5];
  std::copy(mine, mine + 5, sums);
  dist::allreduce_sum(sums, 5);
  const auto n = static_cast<double>(dist::size());
  for (int i = 0; i < 5; ++i)
    TFM_CHECK(sums[i] == n * mine[i], "data: the MPI ranks disagree on the ",
              i < 3 ? "tokenizer" : "tokens", " (rank ", dist::rank(), " has ", tokenizer_hash(*p.tokenizer), ", ",
              p.train.file->size(), " training tokens in ", p.train.entry.token_path,
              "): with ranks on several hosts, give them the same data and set data.cache_dir to a directory they "
              "all see");
}

}  // namespace

Task build_task(TrainConfig& cfg, const ResumeFrom& from, const RunDir& dir, Progress* progress) {
  Task task;
  task.tokenizer = resumed_tokenizer(from, dir);
  nlohmann::json model_json = cfg.model;
  const DataKind kind = ModelRegistry::data_kind_for(model_json);  // unknown types fail here
  const std::string model_type = model_json["type"].get<std::string>();
  check_data_kind(cfg, kind, model_type);
  ParallelText text;
  std::optional<LmData> lm_data;
  if (cfg.data.parallel()) {
    text = read_parallel_text(cfg.data);
    // One joint vocabulary, trained on both sides.
    if (!task.tokenizer) task.tokenizer = Tokenizer::train(cfg.tokenizer, join_lines(text.train_src, text.train_tgt));
    TFM_CHECK(task.tokenizer->bos_id() >= 0 && task.tokenizer->eos_id() >= 0 && task.tokenizer->pad_id() >= 0,
              "config: parallel data needs a tokenizer with bos, eos and pad ids (tokenizer.type \"sentencepiece\"), "
              "found \"", task.tokenizer->type(), "\"");
  } else {
    const int64_t seq_len = model_json.value("seq_len", int64_t{64});
    TFM_CHECK(seq_len >= 1, "config: model.seq_len must be >= 1");
    lm_data.emplace(load_lm_data(cfg.data, cfg.tokenizer, task.tokenizer, seq_len, progress, &task.notes));
  }
  const int64_t vocab = task.tokenizer->vocab_size();
  if (!model_json.contains("vocab_size") || model_json["vocab_size"] == 0) model_json["vocab_size"] = vocab;
  TFM_CHECK(model_json["vocab_size"].get<int64_t>() >= vocab, "config: model.vocab_size = ",
            model_json["vocab_size"].get<int64_t>(), " is smaller than the tokenizer's ", vocab);
  task.model = create_model(model_json, cfg.train.seed);
  cfg.resolved["model"] = task.model->config();
  if (!from.weights.empty()) load_weights(*task.model, load_safetensors(from.weights), from.weights);
  if (cfg.data.parallel()) {
    TFM_CHECK(dynamic_cast<Seq2SeqModel*>(task.model.get()), "tfm train: model.type \"", model_type,
              "\" registers for parallel data but is not a Seq2SeqModel (models/seq2seq.h)");
    task.data = parallel_train_data(cfg, text, *task.tokenizer, task.model->max_len());
    if (cfg.train.eval_bleu) {
      task.bleu_sources = std::move(text.val_src);
      task.bleu_references = std::move(text.val_tgt);
    }
  } else {
    task.data = std::make_unique<LmTrainData>(std::move(*lm_data), cfg.train.batch_size, cfg.train.seed,
                                              cfg.train.eval_batches);
  }
  return task;
}

LmData load_lm_data(const DataConfig& data, const TokenizerConfig& tok_config, std::unique_ptr<Tokenizer>& tokenizer,
                    int64_t seq_len, Progress* progress, std::vector<std::string>* notes) {
  PrepareOptions options;
  options.cache_dir = data.cache_dir;
  options.progress = dist::is_root() ? progress : nullptr;
  options.log_steps = notes == nullptr;
  // Under MPI rank 0 prepares the files while the other ranks wait; then they find them up to
  // date and map them (on a host of their own, with a cache directory of its own, they prepare
  // their own copy) and every rank checks that all have the same tokenizer and tokens.
  const bool several = dist::size() > 1;
  if (several && !dist::is_root()) dist::barrier();
  PreparedLmData prepared = prepare_lm_data(data.train, data.val, tok_config, std::move(tokenizer), options);
  if (several && dist::is_root()) dist::barrier();
  if (several) check_ranks_agree(prepared);
  for (const PreparedSplit* s : {&prepared.train, prepared.val ? &*prepared.val : nullptr}) {
    if (s == nullptr) continue;
    if (notes) notes->push_back(describe(*s));
    else if (options.progress) options.progress->log(describe(*s));
  }
  tokenizer = std::move(prepared.tokenizer);
  return make_lm_data(prepared, data.val_fraction, seq_len);
}

}  // namespace tfm

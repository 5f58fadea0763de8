#include "tools/train/trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "autograd/ops/elementwise.h"
#include "core/config.h"
#include "core/io.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "models/seq2seq.h"
#include "optim/optimizer.h"
#include "tools/text/bleu.h"
#include "tools/text/text_files.h"
#include "tools/train/checkpointer.h"
#include "tools/data/lm_data.h"
#include "tools/data/parallel_data.h"
#include "tools/data/train_data.h"
#include "tools/train/train_precision.h"
#include "tools/train/train_state.h"
#include "tools/train/distributed.h"
#include "tools/support/progress.h"
#include "tools/train/run_dir.h"
#include "tools/train/task.h"
#include "tools/train/train_config.h"
#include "tools/eval/translate.h"

namespace tfm {
namespace {

namespace fs = std::filesystem;
volatile std::sig_atomic_t g_stop_signal = 0;

volatile std::sig_atomic_t g_reset_on_signal = 1;

void on_signal(int sig) {
  g_stop_signal = sig;
  // A second signal ends the process at once; not under mpirun, which sends
  // SIGTERM more than once while it stops a job (and SIGKILL after
  // odls_base_sigkill_timeout seconds).
  if (g_reset_on_signal) std::signal(sig, SIG_DFL);
}

}  // namespace

TrainSummary run_training(const TrainOptions& opts) {
  nlohmann::json raw = load_config(opts.config_path, opts.overrides);
  TrainConfig cfg = TrainConfig::parse(raw);
  // Data parallel (mpirun -np N): each rank trains on its rows of every global batch.
  const int n_ranks = dist::size(), rank = dist::rank();
  const bool root = dist::is_root();
  TFM_CHECK(cfg.train.batch_size % n_ranks == 0, "config: train.batch_size = ", cfg.train.batch_size,
            " is the global batch and must divide by the ", n_ranks, " MPI ranks");
  // threads 0: the cores shared out between the ranks on this host.
  set_num_threads(cfg.train.threads > 0 ? static_cast<int>(cfg.train.threads)
                                        : std::max(1, available_cores() / dist::local_size()));
  const PrecisionChoice precision = choose_precision_for_ranks(cfg.train.precision, num_threads(), "train.precision");
  const PrecisionScope precision_scope(precision.precision);

  // Where the run lives and what it starts from.
  const ResumeFrom from = opts.resume.empty() ? ResumeFrom{} : find_resume(opts.resume, opts.out_dir);
  const RunDir dir(from.from_state() ? from.run_dir
                   : !opts.out_dir.empty() ? opts.out_dir
                                           : default_run_dir(opts.config_path));
  const std::string& run_dir = dir.path();

  // Tokenizer and data.
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Model> model;
  if (from.from_state()) {
    SafetensorsContents header = load_safetensors(dir.last());
    tokenizer = Tokenizer::from_json(parse_json(header.metadata.at("tokenizer"), dir.last()));
  } else if (!from.weights.empty()) {
    LoadedModel loaded = load_checkpoint(from.weights);
    tokenizer = Tokenizer::from_json(loaded.tokenizer);
  }
  nlohmann::json model_json = cfg.model;
  // A missing or unknown model.type fails here, before any data is read.
  const DataKind kind = ModelRegistry::data_kind_for(model_json);
  const std::string model_type = model_json["type"].get<std::string>();
  const bool parallel = cfg.data.parallel();
  TFM_CHECK(parallel || kind != DataKind::Parallel, "tfm train: model.type \"", model_type,
            "\" is an encoder-decoder: it trains on parallel data, data.train {\"source\": files, \"target\": files}");
  TFM_CHECK(!parallel || kind != DataKind::Text, "tfm train: parallel data (data.train {source, target}) trains an ",
            "encoder-decoder (model.type ", quoted_list(ModelRegistry::types(DataKind::Parallel)),
            "), found model.type \"", model_type, "\"");
  std::unique_ptr<TrainData> data;
  std::optional<LmData> lm_data;
  std::vector<std::string> train_src, train_tgt, val_src, val_tgt;
  if (parallel) {
    train_src = read_lines(expand_paths(cfg.data.train_source), "data.train.source");
    train_tgt = read_lines(expand_paths(cfg.data.train_target), "data.train.target");
    val_src = read_lines(expand_paths(cfg.data.val_source), "data.val.source");
    val_tgt = read_lines(expand_paths(cfg.data.val_target), "data.val.target");
    TFM_CHECK(train_src.size() == train_tgt.size(), "data.train: the source has ", train_src.size(),
              " lines but the target ", train_tgt.size(), " (line i of one must translate line i of the other)");
    TFM_CHECK(val_src.size() == val_tgt.size(), "data.val: the source has ", val_src.size(), " lines but the target ",
              val_tgt.size());
    // One joint vocabulary, trained on both sides.
    if (!tokenizer) tokenizer = Tokenizer::train(cfg.tokenizer, join_lines(train_src, train_tgt));
    TFM_CHECK(tokenizer->bos_id() >= 0 && tokenizer->eos_id() >= 0 && tokenizer->pad_id() >= 0,
              "config: parallel data needs a tokenizer with bos, eos and pad ids (tokenizer.type \"sentencepiece\"), "
              "found \"", tokenizer->type(), "\"");
  } else {
    const int64_t seq_len = model_json.value("seq_len", int64_t{64});
    TFM_CHECK(seq_len >= 1, "config: model.seq_len must be >= 1");
    lm_data.emplace(load_lm_data(cfg.data, cfg.tokenizer, tokenizer, seq_len));
  }
  if (!model_json.contains("vocab_size") || model_json["vocab_size"] == 0) model_json["vocab_size"] = tokenizer->vocab_size();
  TFM_CHECK(model_json["vocab_size"].get<int64_t>() >= tokenizer->vocab_size(), "config: model.vocab_size = ",
            model_json["vocab_size"].get<int64_t>(), " is smaller than the tokenizer's ", tokenizer->vocab_size());

  // Model, seeded: the same config and seed give the same run.
  default_generator().set_state(cfg.train.seed, 0);
  model = ModelRegistry::create(model_json);
  Generator init_gen(cfg.train.seed ^ 0x5eedULL);
  model->init_weights(init_gen);
  cfg.resolved["model"] = model->config();
  if (!from.weights.empty()) load_weights(*model, load_safetensors(from.weights), from.weights);
  Seq2SeqModel* seq2seq = dynamic_cast<Seq2SeqModel*>(model.get());
  TFM_CHECK(!parallel || seq2seq, "tfm train: model.type \"", model_type, "\" registers for parallel data but is not ",
            "a Seq2SeqModel (models/seq2seq.h)");

  if (parallel) {
    const int64_t L = model->max_len();
    const int64_t max_len = cfg.data.max_len > 0 ? std::min(cfg.data.max_len, L) : L;
    int64_t dropped = 0, cut = 0;
    auto encode_pairs = [&](const std::vector<std::string>& src, const std::vector<std::string>& tgt, bool train) {
      std::vector<SentencePair> pairs;
      pairs.reserve(src.size());
      for (size_t i = 0; i < src.size(); ++i) {
        SentencePair p{encode_sentence(*tokenizer, src[i]), tokenizer->encode(tgt[i])};
        const bool too_long = static_cast<int64_t>(p.source.size()) > max_len ||
                              static_cast<int64_t>(p.target.size()) + 1 > max_len;
        if (train && too_long) {
          ++dropped;
          continue;
        }
        if (!train && too_long) {  // validation keeps every pair, cut to the model's length
          const bool over = static_cast<int64_t>(p.source.size()) > L || static_cast<int64_t>(p.target.size()) + 1 > L;
          cut += over;
          if (static_cast<int64_t>(p.source.size()) > L) p.source.resize(L), p.source.back() = tokenizer->eos_id();
          if (static_cast<int64_t>(p.target.size()) + 1 > L) p.target.resize(L - 1);
        }
        pairs.push_back(std::move(p));
      }
      return pairs;
    };
    ParallelBatching batching;
    batching.batch_tokens = cfg.train.batch_tokens;
    batching.batch_size = cfg.train.batch_tokens > 0 ? 0 : cfg.train.batch_size;
    batching.sort_pool = cfg.data.sort_pool;
    batching.seed = cfg.train.seed;
    std::vector<SentencePair> train_pairs = encode_pairs(train_src, train_tgt, true);
    std::vector<SentencePair> val_pairs = encode_pairs(val_src, val_tgt, false);
    data = std::make_unique<ParallelTrainData>(
        ParallelData(std::move(train_pairs), std::move(val_pairs), batching, tokenizer->bos_id(),
                     tokenizer->eos_id(), tokenizer->pad_id()),
        dropped, cut);
  } else {
    data = std::make_unique<LmTrainData>(std::move(*lm_data), cfg.train.batch_size, cfg.train.seed,
                                         cfg.train.eval_batches);
  }

  if (from.from_state()) {
    for (const char* section : {"model", "tokenizer", "data"})
      TFM_CHECK(from.config[section] == cfg.resolved[section], "--resume: the config's \"", section,
                "\" section differs from the run's (", dir.config(),
                "): a resumed run must keep its model, tokenizer and data");
  }

  const NamedParameters params = model->named_parameters();
  std::unique_ptr<Optimizer> optimizer = make_optimizer(params, cfg.optim.optimizer);
  TrainState state;
  state.data_seed = cfg.train.seed;
  state.dropout_seed = cfg.train.seed;
  if (from.from_state()) state = load_train_state(dir.state(), *model, *optimizer);
  data->seek(state.data_offset);
  // Every rank draws the same global batches (data) and its own dropout masks: the
  // stream of rank r is keyed by the run's dropout seed and r. All ranks consume the same
  // number of blocks, so rank 0's offset, saved in the state, is every rank's.
  default_generator().set_state(state.dropout_seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(rank),
                                state.dropout_offset);

  ScheduleConfig schedule = cfg.optim.schedule;
  // A schedule that reads decay_steps and was not given it: sized from max_time once the step time is known.
  const bool derive_decay = schedule_registry().get(schedule.name).has_key("decay_steps") && schedule.decay_steps == 0 &&
                            cfg.train.max_time > 0;
  if (schedule.decay_steps == 0) schedule.decay_steps = state.decay_steps > 0 ? state.decay_steps : cfg.train.max_steps;

  // Run directory: written by rank 0 alone.
  if (root) {
    dir.prepare(cfg.resolved);
    if (from.from_state()) dir.trim_metrics(state.step);
    dir.write_run_info("running", num_threads(), n_ranks);
  }
  std::ofstream metrics;  // other ranks: never opened, writes go nowhere
  if (root) metrics.open(dir.metrics(), std::ios::app);
  Progress progress(root ? dir.log() : std::string(), opts.quiet || !root);

  const int64_t accum = cfg.optim.grad_accum;
  // This rank's rows of a global batch (views, no copies) and its share of the batch's target tokens:
  // scaling each rank's mean loss by n_ranks × its share makes the average over the ranks the
  // global per-token mean, however the tokens fall (parallel data has unequal rows).
  struct Shard {
    Batch batch;
    int64_t tokens = 0, global_tokens = 0;
  };
  auto loss_weight = [&](const Shard& s) {
    return s.global_tokens > 0
               ? static_cast<float>(static_cast<double>(n_ranks) * static_cast<double>(s.tokens) / s.global_tokens)
               : 0.0f;
  };
  auto shard = [&](const Batch& b) {
    Shard s;
    s.global_tokens = batch_target_tokens(b);
    if (n_ranks == 1) {
      s.batch = b;
      s.tokens = s.global_tokens;
      return s;
    }
    const int64_t rows = b.batch_size(), first = rows * rank / n_ranks, last = rows * (rank + 1) / n_ranks;
    if (first == last) {
      // Fewer rows than ranks (a short batch of long sentences): this rank runs a copy of one row with
      // weight 0, so that it still takes part in the gradient reduction and adds nothing to it.
      s.batch = slice_rows(b, std::min(first, rows - 1), std::min(first, rows - 1) + 1);
      s.tokens = 0;
      return s;
    }
    s.batch = slice_rows(b, first, last);
    s.tokens = batch_target_tokens(s.batch);
    return s;
  };
  {
    std::ostringstream os;
    os << (!from.from_state() ? "training " : "resuming at step " + std::to_string(state.step) + ": ")
       << model->type() << " with " << model->parameter_count() << " parameters, vocab " << tokenizer->vocab_size()
       << " (" << tokenizer->type() << "), " << data->describe() << ", " << num_threads() << " threads"
       << (n_ranks > 1 ? " x " + std::to_string(n_ranks) + " MPI ranks" : std::string()) << ", precision "
       << precision.reason << " -> " << run_dir;
    progress.log(os.str());
    if (!precision.warning.empty()) progress.log("warning: " + precision.warning);
  }

  // Validation loss: the per-token mean over the fixed validation batches.
  auto evaluate = [&]() {
    NoGradGuard no_grad;
    Bf16WeightCache bf16_weights;  // the weights do not change during an evaluation
    model->eval();
    double sums[2] = {0.0, 0.0};  // loss × tokens, tokens
    for (const Batch& b : data->validation()) {
      const Shard s = shard(b);
      if (s.tokens == 0) continue;
      sums[0] += model->loss(s.batch).item() * static_cast<double>(s.tokens);
      sums[1] += static_cast<double>(s.tokens);
    }
    dist::allreduce_sum(sums, 2);
    model->train();
    return sums[0] / sums[1];
  };
  // Validation BLEU: greedy translations of the validation sources against their references
  // (sacreBLEU's default); each rank decodes every n_ranks-th sentence, the n-gram counts add up.
  auto evaluate_bleu = [&]() {
    Bf16WeightCache bf16_weights;
    const size_t n = cfg.train.eval_bleu_sentences > 0
                         ? std::min(val_src.size(), static_cast<size_t>(cfg.train.eval_bleu_sentences))
                         : val_src.size();
    std::vector<std::string> mine, refs;
    for (size_t i = static_cast<size_t>(rank); i < n; i += static_cast<size_t>(n_ranks)) {
      mine.push_back(val_src[i]);
      refs.push_back(val_tgt[i]);
    }
    TranslateOptions topt;
    topt.batch_size = 100;
    const std::vector<std::string> hyps = translate_lines(*seq2seq, *tokenizer, mine, topt);
    BleuStats stats;
    for (size_t i = 0; i < hyps.size(); ++i) {
      std::string h = hyps[i];
      while (!h.empty() && h.back() == '\n') h.pop_back();
      stats.add(h, {refs[i]});
    }
    double counts[10];
    for (int k = 0; k < 4; ++k) counts[k] = static_cast<double>(stats.correct[k]), counts[4 + k] = static_cast<double>(stats.total[k]);
    counts[8] = static_cast<double>(stats.hyp_len);
    counts[9] = static_cast<double>(stats.ref_len);
    dist::allreduce_sum(counts, 10);
    for (int k = 0; k < 4; ++k)
      stats.correct[k] = static_cast<int64_t>(counts[k]), stats.total[k] = static_cast<int64_t>(counts[4 + k]);
    stats.hyp_len = static_cast<int64_t>(counts[8]);
    stats.ref_len = static_cast<int64_t>(counts[9]);
    return bleu_from_stats(stats);
  };
  Checkpointer checkpointer(dir, model->config(), tokenizer->to_json(), cfg.train.keep_checkpoints, root);
  auto save_all = [&]() {
    if (!root) return;
    state.data_offset = data->position();
    state.dropout_offset = default_generator().offset();
    state.decay_steps = schedule.decay_steps;
    checkpointer.save(state, *model, *optimizer);
  };

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  g_stop_signal = 0;
  g_reset_on_signal = n_ranks == 1;

  const auto t0 = std::chrono::steady_clock::now();
  const double elapsed_before = state.elapsed;
  auto elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const CrossEntropyOptions ce{.ignore_index = -100, .label_smoothing = static_cast<float>(cfg.optim.label_smoothing)};
  model->train();
  int64_t window_tokens = 0, window_steps = 0;
  auto window_start = std::chrono::steady_clock::now();
  double last_loss = NAN;
  TrainSummary summary;
  summary.run_dir = run_dir;
  const int64_t first_step = state.step;
  bool stop = state.step >= cfg.train.max_steps || (cfg.train.max_time > 0 && state.elapsed >= cfg.train.max_time);

  dist::GradientReducer reducer(params);
  bool time_up_shared = false, signal_stop = false, interrupted = false;
  double probe_elapsed = 0.0;
  double comm_wait = 0.0;  // seconds waiting for gradient reductions since the last log line
  while (!stop) {
    const int64_t step = state.step + 1;
    const double lr = learning_rate(schedule, step);
    optimizer->zero_grad();
    double loss_sum = 0.0;
    int64_t step_tokens = 0;
    std::optional<Bf16WeightCache> bf16_weights(std::in_place);  // this step's bf16 weights, until the update
    for (int64_t micro = 0; micro < accum; ++micro) {
      const Shard sh = shard(data->next());
      step_tokens += sh.global_tokens;
      const float weight = loss_weight(sh) / static_cast<float>(accum);
      Variable loss = model->loss(sh.batch, ce);
      loss_sum += loss.item() * loss_weight(sh);
      // With several ranks, the last micro-batch's backward pass reduces gradients as they become final.
      std::optional<GradReadyHookGuard> hook;
      if (n_ranks > 1 && micro == accum - 1) hook.emplace(reducer.hook());
      (weight != 1.0f ? scale(loss, weight) : loss).backward();
    }
    bf16_weights.reset();
    reducer.finish();  // gradients: the average over the ranks (no-op for one process)
    comm_wait += reducer.last_wait_seconds();
    // One small reduction per step agrees on the global loss and on stopping: a signal seen by
    // any rank, and rank 0's clock (max_time, the derived schedule length) for all of them.
    const int64_t probe = std::max<int64_t>(10, std::min<int64_t>(50, cfg.optim.schedule.warmup_steps / 2));
    const bool probe_step = derive_decay && state.decay_steps == 0 && step - first_step == probe;
    {
      double shared[4] = {loss_sum, g_stop_signal != 0 ? 1.0 : 0.0, 0.0, 0.0};
      if (root) {
        shared[2] = cfg.train.max_time > 0 && elapsed() >= cfg.train.max_time ? 1.0 : 0.0;
        if (probe_step) shared[3] = elapsed();
      }
      dist::allreduce_sum(shared, 4);
      loss_sum = shared[0] / n_ranks;
      // Decided here, once for all ranks: a signal arriving later in this step counts from the next one.
      signal_stop = shared[1] > 0;
      if (signal_stop) interrupted = true;
      time_up_shared = shared[2] > 0;
      probe_elapsed = shared[3];
    }
    const double loss_value = loss_sum / static_cast<double>(accum);
    const double norm = grad_norm(params);
    if (!std::isfinite(loss_value) || !std::isfinite(norm)) {
      std::ostringstream os;
      os << "step " << step << ": " << (std::isfinite(loss_value) ? "gradient norm" : "loss") << " is "
         << (std::isfinite(loss_value) ? norm : loss_value);
      if (!cfg.train.skip_nonfinite) {
        checkpointer.wait();  // the last good checkpoint, on disk
        throw RuntimeFailure(os.str() + "; stopping (" +
                             (fs::exists(dir.last()) ? "the last good checkpoint is kept in " + run_dir + "/checkpoints"
                                                    : std::string("no checkpoint was written yet")) +
                             "; set train.skip_nonfinite=true to skip such steps)");
      }
      progress.log(os.str() + "; step skipped (train.skip_nonfinite)");
      optimizer->zero_grad();
      state.step = step;
      state.elapsed = elapsed();
      // A skipped step still counts towards max_steps, max_time and a stop signal.
      stop = step >= cfg.train.max_steps || time_up_shared || signal_stop;
      if (stop || step % cfg.train.checkpoint_every == 0) save_all();
      continue;
    }
    if (cfg.optim.grad_clip > 0) clip_grad_norm(params, cfg.optim.grad_clip);
    optimizer->step(lr);
    state.step = step;
    state.tokens += step_tokens;
    window_tokens += step_tokens;
    ++window_steps;
    last_loss = loss_value;

    // A cosine schedule bounded by max_time: size decay_steps from the step time measured on rank 0.
    if (probe_step) {
      const double per_step = (probe_elapsed - elapsed_before) / static_cast<double>(probe);
      // Validation passes cost about a third of a training step per batch; greedy BLEU decoding of the
      // validation sources about twice that again (a rough estimate: the schedule ends near max_time).
      const double val_batches = static_cast<double>(data->validation().size()) *
                                 (parallel && cfg.train.eval_bleu ? 3.0 : 1.0);
      const double eval_cost = val_batches * per_step / (3.0 * accum) / cfg.train.eval_every;
      const double remaining = cfg.train.max_time - probe_elapsed;
      const int64_t total = step + static_cast<int64_t>(remaining / (per_step + eval_cost));
      schedule.decay_steps = std::max<int64_t>(step + 1, std::min(total, cfg.train.max_steps));
      state.decay_steps = schedule.decay_steps;
      progress.log("schedule: cosine decay over " + std::to_string(schedule.decay_steps) + " steps (from max_time " +
                   format_value("%.0f", cfg.train.max_time) + " s at " + format_value("%.1f", per_step * 1000) + " ms/step)");
    }

    const double now = elapsed();
    const bool time_up = time_up_shared;
    const bool last = step >= cfg.train.max_steps || time_up || signal_stop;
    const double window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
    const double tok_s = window_s > 0 ? window_tokens / window_s : 0.0;
    const double rate_steps = (step - first_step) / std::max(1e-9, now - elapsed_before);
    double eta = (cfg.train.max_steps - step) / std::max(rate_steps, 1e-9);
    if (cfg.train.max_time > 0) eta = std::min(eta, cfg.train.max_time - now);
    progress.status("step " + std::to_string(step) + (cfg.train.max_steps < (int64_t{1} << 40) ? "/" + std::to_string(cfg.train.max_steps) : "") +
                    " | loss " + format_value("%.4f", loss_value) + " | lr " + format_value("%.2e", lr) + " | " +
                    format_value("%.0f", tok_s) + " tok/s | ETA " + format_duration(eta));
    if (step % cfg.train.log_every == 0 || last) {
      nlohmann::json m = {{"step", step}, {"loss", loss_value}, {"lr", lr}, {"grad_norm", norm},
                          {"tokens_per_s", tok_s}, {"elapsed_s", now}, {"tokens", state.tokens}};
      const double wait_ms = 1e3 * comm_wait / static_cast<double>(std::max<int64_t>(1, window_steps));
      if (n_ranks > 1) m["allreduce_wait_ms"] = wait_ms;  // per step: the reduction time not hidden by backward
      metrics << m.dump() << "\n" << std::flush;
      progress.log("step " + std::to_string(step) + " loss " + format_value("%.4f", loss_value) + " lr " + format_value("%.3e", lr) +
                   " grad_norm " + format_value("%.3f", norm) + " " + format_value("%.0f", tok_s) + " tok/s elapsed " +
                   format_duration(now) + (n_ranks > 1 ? " allreduce wait " + format_value("%.2f", wait_ms) + " ms/step" : ""));
      window_tokens = 0;
      window_steps = 0;
      comm_wait = 0.0;
      window_start = std::chrono::steady_clock::now();
    }
    if (step % cfg.train.eval_every == 0 || last) {
      const double val = evaluate();
      const bool best_loss = val < state.best_val_loss;
      if (best_loss) state.best_val_loss = val;
      bool best = best_loss;
      nlohmann::json m = {{"step", step}, {"val_loss", val}, {"val_ppl", std::exp(val)}, {"tokens", state.tokens}};
      std::string bleu_text;
      if (parallel && cfg.train.eval_bleu) {
        const BleuScore bleu = evaluate_bleu();
        const bool best_bleu = bleu.score > state.best_val_bleu;
        if (best_bleu) state.best_val_bleu = bleu.score;
        if (cfg.train.best_by == "bleu") best = best_bleu;
        m["val_bleu"] = bleu.score;
        bleu_text = " val_bleu " + format_value("%.2f", bleu.score) + " (greedy, BP " + format_value("%.3f", bleu.bp) + ")";
      }
      m["elapsed_s"] = elapsed();
      if (parallel)  // epochs differ by a batch or two: the count is close, not exact
        m["epoch"] = static_cast<double>(data->position()) /
                     static_cast<double>(dynamic_cast<const ParallelTrainData&>(*data).data().batches_per_epoch());
      metrics << m.dump() << "\n" << std::flush;
      progress.log("step " + std::to_string(step) + " val_loss " + format_value("%.4f", val) + " val_ppl " +
                   format_value("%.3f", std::exp(val)) + bleu_text + (best ? " (best)" : ""));
      if (best) checkpointer.save_best(*model);
    }
    state.elapsed = elapsed();
    if (step % cfg.train.checkpoint_every == 0 || last) save_all();
    stop = last;
  }
  progress.finish_status();
  checkpointer.wait();
  if (root && !fs::exists(dir.last())) save_all();  // nothing to do (already finished): still leave a checkpoint
  checkpointer.wait();
  summary.steps = state.step;
  summary.tokens = state.tokens;
  summary.wall_seconds = state.elapsed;
  summary.best_val_loss = state.best_val_loss;
  summary.interrupted = interrupted;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::ostringstream os;
  os << (summary.interrupted ? "interrupted" : "done") << ": " << summary.steps << " steps, " << summary.tokens
     << " tokens, " << format_duration(summary.wall_seconds) << ", best val loss "
     << format_value("%.4f", summary.best_val_loss) << " (ppl " << format_value("%.3f", std::exp(summary.best_val_loss)) << ")"
     << (state.best_val_bleu >= 0 ? ", best val BLEU " + format_value("%.2f", state.best_val_bleu) + " (greedy)" : std::string())
     << ", last loss " << format_value("%.4f", last_loss) << "; checkpoints in " << run_dir << "/checkpoints";
  progress.log(os.str());
  if (root) dir.write_run_info(interrupted ? "interrupted" : "done", num_threads(), n_ranks, {{"steps", state.step},
      {"tokens", state.tokens}, {"wall_s", state.elapsed}, {"best_val_loss", state.best_val_loss}});
  // No rank leaves before rank 0 has its checkpoint on disk: mpirun ends the whole
  // job as soon as one rank exits with a non-zero code (130 after a signal).
  dist::barrier();
  return summary;
}

}  // namespace tfm

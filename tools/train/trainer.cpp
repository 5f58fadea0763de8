#include "tools/train/trainer.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "autograd/ops/elementwise.h"
#include "core/config.h"
#include "core/parallel.h"
#include "layers/module.h"
#include "models/seq2seq.h"
#include "tools/support/progress.h"

namespace tfm {
namespace {

namespace fs = std::filesystem;

// While one lives, the default generator (dropout's) is the trainer's stream: rank r's is keyed
// by the run's dropout seed and r, so every rank draws its own masks, and all consume the same
// number of blocks (rank 0's offset, saved in the state, is every rank's). The caller's state
// comes back after.
class DropoutStream {
 public:
  DropoutStream(TrainState& state, int rank) : state_(state), saved_(default_generator()) {
    default_generator().set_state(state.dropout_seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(rank),
                                  state.dropout_offset);
  }
  ~DropoutStream() {
    state_.dropout_offset = default_generator().offset();
    default_generator() = saved_;
  }
  DropoutStream(const DropoutStream&) = delete;
  DropoutStream& operator=(const DropoutStream&) = delete;

 private:
  TrainState& state_;
  Generator saved_;
};

Task& checked(Task& task) {
  TFM_CHECK(task.tokenizer && task.model && task.data, "Trainer: the task needs a tokenizer, a model and data");
  return task;
}

}  // namespace

Trainer::Trainer(const TrainConfig& config, Task& task, RunDir dir, TrainerOptions options, TrainerCallbacks callbacks)
    : config_(config),
      task_(checked(task)),
      dir_(std::move(dir)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      root_(dist::is_root()),
      sharder_(dist::rank(), dist::size()),
      params_(task_.model->named_parameters()),
      optimizer_(make_optimizer(params_, config.optim.optimizer)),
      ema_(config.train.ema.enabled() ? std::optional<WeightEma>(std::in_place, params_, config.train.ema)
                                      : std::nullopt),
      state_(initial_state()),
      dir_ready_(prepare_dir()),
      stop_(config.train.max_steps, config.train.max_time,
            [this] { return SignalStop::requested() || (callbacks_.should_stop && callbacks_.should_stop()); }),
      reporter_(dir_, root_, options_.quiet, config.train.max_steps),
      checkpointer_(dir_, task.model->config(), task.tokenizer->to_json(), config.train.keep_checkpoints, root_),
      reducer_(params_) {
  check_global_batch(config.train.batch_size, sharder_.ranks());
  config_.resolved["model"] = task.model->config();
  task.data->seek(state_.data_offset);
  Seq2SeqModel* seq2seq = dynamic_cast<Seq2SeqModel*>(task.model.get());
  if (seq2seq && !task.bleu_sources.empty())
    bleu_evaluator_.emplace(task.bleu_sources, task.bleu_references, config.train.eval_bleu_sentences);
  schedule_ = config.optim.schedule;
  // A schedule that reads decay_steps and was not given it: sized from max_time once the step time is known.
  derive_decay_ = schedule_registry().get(schedule_.name).has_key("decay_steps") && schedule_.decay_steps == 0 &&
                  config.train.max_time > 0;
  if (schedule_.decay_steps == 0)
    schedule_.decay_steps = state_.decay_steps > 0 ? state_.decay_steps : config.train.max_steps;
  rate_ = make_schedule(schedule_);
  probe_steps_ = std::max<int64_t>(10, std::min<int64_t>(50, config.optim.schedule.warmup_steps / 2));
  probe_from_ = probe_steps_ / 5;
  if (options_.handle_signals) signals_.emplace(sharder_.ranks() == 1);
  elapsed_before_ = state_.elapsed;
  first_step_ = state_.step;
  done_ = stop_.finished(state_.step, state_.elapsed);
  task.model->train();
  describe_start();
}

Trainer::~Trainer() = default;

TrainState Trainer::initial_state() {
  TrainState state;
  state.data_seed = config_.train.seed;
  state.dropout_seed = config_.train.seed;
  if (options_.resume) state = load_train_state(dir_.state(), *task_.model, *optimizer_, ema_ ? &*ema_ : nullptr);
  return state;
}

bool Trainer::prepare_dir() {
  if (!root_) return false;
  nlohmann::json resolved = config_.resolved;
  resolved["model"] = task_.model->config();
  dir_.prepare(resolved);
  if (options_.resume) dir_.trim_metrics(state_.step);
  dir_.write_run_info("running", num_threads(), sharder_.ranks());
  return true;
}

double Trainer::elapsed() const {
  return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Trainer::describe_start() {
  for (const std::string& note : task_.notes) reporter_.log(note);
  std::ostringstream os;
  os << (!options_.resume ? "training " : "resuming at step " + std::to_string(state_.step) + ": ")
     << task_.model->type() << " with " << task_.model->parameter_count() << " parameters, vocab "
     << task_.tokenizer->vocab_size() << " (" << task_.tokenizer->type() << "), " << task_.data->describe() << ", "
     << num_threads() << " threads"
     << (sharder_.ranks() > 1 ? " x " + std::to_string(sharder_.ranks()) + " MPI ranks" : std::string())
     << ", precision " << options_.precision.reason << " -> " << dir_.path();
  reporter_.log(os.str());
  if (!options_.precision.warning.empty()) reporter_.log("warning: " + options_.precision.warning);
}

// Forward and backward over the step's micro-batches. With several ranks, the last
// micro-batch's backward pass reduces gradients as they become final.
std::pair<double, double> Trainer::accumulate_gradients() {
  const int64_t accum = config_.optim.grad_accum;
  CrossEntropyTerms terms;
  const CrossEntropyOptions ce{.ignore_index = -100,
                               .label_smoothing = static_cast<float>(config_.optim.label_smoothing),
                               .z_loss = static_cast<float>(config_.train.z_loss),
                               .terms = &terms};
  double loss_sum = 0.0, z_sum = 0.0;
  step_tokens_ = 0;
  std::optional<Bf16WeightCache> bf16_weights(std::in_place);  // this step's bf16 weights, until the update
  for (int64_t micro = 0; micro < accum; ++micro) {
    const Shard sh = sharder_.shard(task_.data->next());
    step_tokens_ += sh.global_tokens;
    const float weight = sharder_.loss_weight(sh) / static_cast<float>(accum);
    terms = {};
    Variable loss = task_.model->loss(sh.batch, ce);
    if (config_.train.z_loss > 0) {  // the cross-entropy logged, rounded as loss.item() would be without z
      loss_sum += static_cast<float>(terms.cross_entropy) * sharder_.loss_weight(sh);
      z_sum += terms.z_loss * sharder_.loss_weight(sh);
    } else {
      loss_sum += loss.item() * sharder_.loss_weight(sh);
    }
    std::optional<GradReadyHookGuard> hook;
    if (sharder_.ranks() > 1 && micro == accum - 1) hook.emplace(reducer_.hook());
    (weight != 1.0f ? scale(loss, weight) : loss).backward();
  }
  bf16_weights.reset();
  reducer_.finish();  // gradients: the average over the ranks (no-op for one process)
  return {loss_sum, z_sum};
}

bool Trainer::step() {
  if (done_) return false;
  const PrecisionScope precision(options_.precision.precision);
  const DropoutStream dropout(state_, sharder_.rank());
  const int64_t step = state_.step + 1;
  const double lr = rate_->rate(step);
  optimizer_->zero_grad();
  const auto [loss_sum, z_sum] = accumulate_gradients();
  const int64_t since_start = step - first_step_;
  const bool probe_step =
      derive_decay_ && state_.decay_steps == 0 && (since_start == probe_from_ || since_start == probe_steps_);
  const StepAgreement agreed = stop_.agree(loss_sum, elapsed(), probe_step, z_sum);
  interrupted_ = interrupted_ || agreed.stop_requested;
  const double accum = static_cast<double>(config_.optim.grad_accum);
  const double loss = agreed.loss_sum / accum, z_term = agreed.z_loss_sum / accum;
  const double norm = grad_norm(params_);
  if (handle_nonfinite(step, loss + z_term, norm, agreed)) return !done_;
  if (config_.optim.grad_clip > 0) clip_grad_norm(params_, config_.optim.grad_clip);
  optimizer_->step(lr);
  if (ema_) ema_->update(step);
  state_.step = step;
  state_.tokens += step_tokens_;
  last_loss_ = loss;
  if (probe_step && since_start == probe_from_) probe_start_ = agreed.probe_elapsed;
  if (probe_step && since_start == probe_steps_) size_schedule(step, agreed.probe_elapsed);
  const bool last = stop_.last(step, agreed);
  StepInfo info = step_info(step, loss, lr, norm, reducer_.last_wait_seconds());
  if (config_.train.z_loss > 0) info.z_loss = z_term;
  reporter_.step(info, step % config_.train.log_every == 0 || last);
  if (callbacks_.after_step) callbacks_.after_step(info);
  if (step % config_.train.eval_every == 0 || last) evaluate(step);
  state_.elapsed = elapsed();
  if (step % config_.train.checkpoint_every == 0 || last) save();
  done_ = last;
  return !done_;
}

StepInfo Trainer::step_info(int64_t step, double loss, double lr, double norm, double comm_wait) const {
  StepInfo s;
  s.step = step;
  s.loss = loss;
  s.lr = lr;
  s.grad_norm = norm;
  s.tokens = step_tokens_;
  s.total_tokens = state_.tokens;
  s.elapsed = elapsed();
  s.comm_wait = comm_wait;
  const double rate = static_cast<double>(step - first_step_) / std::max(1e-9, s.elapsed - elapsed_before_);
  s.eta = static_cast<double>(config_.train.max_steps - step) / std::max(rate, 1e-9);
  if (config_.train.max_time > 0) s.eta = std::min(s.eta, config_.train.max_time - s.elapsed);
  return s;
}

// A NaN or Inf loss or gradient norm: an error (the last good checkpoint kept), or with
// train.skip_nonfinite a skipped step, which still counts towards max_steps, max_time and a
// stop request. Returns true when the step was not taken.
bool Trainer::handle_nonfinite(int64_t step, double loss, double norm, const StepAgreement& agreed) {
  if (std::isfinite(loss) && std::isfinite(norm)) return false;
  std::ostringstream os;
  os << "step " << step << ": " << (std::isfinite(loss) ? "gradient norm" : "loss") << " is "
     << (std::isfinite(loss) ? norm : loss);
  if (!config_.train.skip_nonfinite) {
    checkpointer_.wait();  // the last good checkpoint, on disk
    throw RuntimeFailure(os.str() + "; stopping (" +
                         (fs::exists(dir_.last()) ? "the last good checkpoint is kept in " + dir_.path() + "/checkpoints"
                                                  : std::string("no checkpoint was written yet")) +
                         "; set train.skip_nonfinite=true to skip such steps)");
  }
  reporter_.log(os.str() + "; step skipped (train.skip_nonfinite)");
  optimizer_->zero_grad();
  state_.step = step;
  state_.elapsed = elapsed();
  done_ = stop_.last(step, agreed);
  if (done_ || step % config_.train.checkpoint_every == 0) save();
  if (callbacks_.after_step) {
    StepInfo info = step_info(step, loss, rate_->rate(step), norm, reducer_.last_wait_seconds());
    info.skipped = true;
    callbacks_.after_step(info);
  }
  return true;
}

// A schedule bounded by max_time (one that declares decay_steps: cosine, wsd): decay_steps sized
// from the step time rank 0 measured over the probe steps (trainer.h: probe_from_). Validation passes cost about a
// third of a training step per batch; greedy BLEU decoding of the validation sources about twice
// that again (a rough estimate: the schedule ends near max_time).
void Trainer::size_schedule(int64_t step, double probe_elapsed) {
  const double per_step = (probe_elapsed - probe_start_) / static_cast<double>(probe_steps_ - probe_from_);
  const double val_batches = static_cast<double>(task_.data->validation().size()) * (bleu_evaluator_ ? 3.0 : 1.0);
  const double eval_cost = val_batches * per_step / (3.0 * static_cast<double>(config_.optim.grad_accum)) /
                           static_cast<double>(config_.train.eval_every);
  const double remaining = config_.train.max_time - probe_elapsed;
  const int64_t total = step + static_cast<int64_t>(remaining / (per_step + eval_cost));
  schedule_.decay_steps = std::max<int64_t>(step + 1, std::min(total, config_.train.max_steps));
  state_.decay_steps = schedule_.decay_steps;
  rate_ = make_schedule(schedule_);
  reporter_.log("schedule: " + schedule_.name + " decay over " + std::to_string(schedule_.decay_steps) +
                " steps (from max_time " + format_value("%.0f", config_.train.max_time) + " s at " +
                format_value("%.1f", per_step * 1000) + " ms/step)");
}

// With train.ema, the average is evaluated (and kept as best.safetensors) in place of the weights.
void Trainer::evaluate(int64_t step) {
  std::optional<EmaScope> averaged(std::in_place, ema_ ? &*ema_ : nullptr);
  EvalInfo e;
  e.step = step;
  e.val_loss = loss_evaluator_.evaluate(*task_.model, task_.data->validation(), sharder_);
  const bool best_loss = e.val_loss < state_.best_val_loss;
  if (best_loss) state_.best_val_loss = e.val_loss;
  e.best = best_loss;
  if (bleu_evaluator_) {
    const BleuScore bleu =
        bleu_evaluator_->evaluate(dynamic_cast<Seq2SeqModel&>(*task_.model), *task_.tokenizer, sharder_);
    const bool best_bleu = bleu.score > state_.best_val_bleu;
    if (best_bleu) state_.best_val_bleu = bleu.score;
    if (config_.train.best_by == "bleu") e.best = best_bleu;
    e.val_bleu = bleu.score;
    e.bleu_bp = bleu.bp;
  }
  if (e.best) checkpointer_.save_best(*task_.model);
  averaged.reset();  // the weights again
  e.epoch = task_.data->epoch();
  e.total_tokens = state_.tokens;
  e.elapsed = elapsed();
  reporter_.eval(e);
  if (callbacks_.after_eval) callbacks_.after_eval(e);
}

// Rank 0 writes; the data and dropout positions and the resolved schedule length go with it.
void Trainer::save() {
  if (!root_) return;
  state_.data_offset = task_.data->position();
  state_.dropout_offset = default_generator().offset();
  state_.decay_steps = schedule_.decay_steps;
  checkpointer_.save(state_, *task_.model, *optimizer_, ema_ ? &*ema_ : nullptr);
}

TrainSummary Trainer::run() {
  while (step()) {
  }
  return finish();
}

TrainSummary Trainer::finish() {
  reporter_.finish_status();
  checkpointer_.wait();
  if (root_ && !fs::exists(dir_.last())) {  // nothing to do (already finished): still leave a checkpoint
    const DropoutStream dropout(state_, sharder_.rank());
    save();
  }
  checkpointer_.wait();
  TrainSummary summary;
  summary.run_dir = dir_.path();
  summary.steps = state_.step;
  summary.tokens = state_.tokens;
  summary.wall_seconds = state_.elapsed;
  summary.best_val_loss = state_.best_val_loss;
  summary.interrupted = interrupted_;
  signals_.reset();
  std::ostringstream os;
  os << (interrupted_ ? "interrupted" : "done") << ": " << summary.steps << " steps, " << summary.tokens
     << " tokens, " << format_duration(summary.wall_seconds) << ", best val loss "
     << format_value("%.4f", summary.best_val_loss) << " (ppl " << format_value("%.3f", std::exp(summary.best_val_loss))
     << ")"
     << (state_.best_val_bleu >= 0 ? ", best val BLEU " + format_value("%.2f", state_.best_val_bleu) + " (greedy)"
                                   : std::string())
     << ", last loss " << format_value("%.4f", last_loss_) << "; checkpoints in " << dir_.path() << "/checkpoints";
  reporter_.log(os.str());
  if (root_)
    dir_.write_run_info(interrupted_ ? "interrupted" : "done", num_threads(), sharder_.ranks(),
                        {{"steps", state_.step},
                         {"tokens", state_.tokens},
                         {"wall_s", state_.elapsed},
                         {"best_val_loss", state_.best_val_loss}});
  // No rank leaves before rank 0 has its checkpoint on disk: mpirun ends the whole
  // job as soon as one rank exits with a non-zero code (130 after a signal).
  dist::barrier();
  return summary;
}

namespace {
// A resumed run keeps its model, tokenizer and data. Both sides are compared as
// this build resolves them (defaults filled in), so a run written before a key
// existed resumes when the key's default is what the run used.
void check_resumable(const nlohmann::json& run_config, const TrainConfig& cfg, const std::string& run_config_path) {
  const TrainConfig run = TrainConfig::parse(run_config);
  const nlohmann::json resolved[] = {ModelRegistry::resolve(run_config.at("model")), run.resolved["tokenizer"],
                                     run.resolved["data"]};
  const char* sections[] = {"model", "tokenizer", "data"};
  for (int i = 0; i < 3; ++i) {
    nlohmann::json was = resolved[i], now = cfg.resolved[sections[i]];
    if (was.is_object() && now.is_object()) was.erase("cache_dir"), now.erase("cache_dir");  // where, not what
    TFM_CHECK(was == now, "--resume: the config's \"", sections[i], "\" section differs from the run's (",
              run_config_path, "): a resumed run must keep its model, tokenizer and data");
  }
}
}  // namespace

TrainSummary run_training(const TrainOptions& opts) {
  TrainConfig cfg = TrainConfig::parse(load_config(opts.config_path, opts.overrides));
  check_global_batch(cfg.train.batch_size, dist::size());
  set_num_threads(cfg.train.threads > 0 ? static_cast<int>(cfg.train.threads)
                                        : std::max(1, available_cores() / dist::local_size()));
  TrainerOptions options;
  options.precision = choose_precision_for_ranks(cfg.train.precision, num_threads(), "train.precision");
  options.quiet = opts.quiet;
  options.handle_signals = true;
  // Where the run lives and what it starts from.
  const ResumeFrom from = opts.resume.empty() ? ResumeFrom{} : find_resume(opts.resume, opts.out_dir);
  options.resume = from.from_state();
  RunDir dir(from.from_state() ? from.run_dir : !opts.out_dir.empty() ? opts.out_dir : default_run_dir(opts.config_path));
  Task task = [&] {
    Progress progress("", opts.quiet || !dist::is_root());
    return build_task(cfg, from, dir, &progress);
  }();
  if (from.from_state()) check_resumable(from.config, cfg, dir.config());
  Trainer trainer(cfg, task, std::move(dir), options);
  return trainer.run();
}

}  // namespace tfm

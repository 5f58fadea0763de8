#include "tools/train/reporter.h"

#include <algorithm>
#include <cmath>

#include "tools/train/distributed.h"

namespace tfm {

Reporter::Reporter(const RunDir& dir, bool write, bool quiet, int64_t max_steps)
    : progress_(write ? dir.log() : std::string(), quiet || !write),
      max_steps_(max_steps),
      several_ranks_(dist::size() > 1) {
  if (write) metrics_.open(dir.metrics(), std::ios::app);
}

void Reporter::step(const StepInfo& s, bool line) {
  window_tokens_ += s.tokens;
  window_wait_ += s.comm_wait;
  ++window_steps_;
  const double window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start_).count();
  const double tok_s = window_s > 0 ? static_cast<double>(window_tokens_) / window_s : 0.0;
  const bool bounded = max_steps_ < (int64_t{1} << 40);
  progress_.status("step " + std::to_string(s.step) + (bounded ? "/" + std::to_string(max_steps_) : "") + " | loss " +
                   format_value("%.4f", s.loss) + " | lr " + format_value("%.2e", s.lr) + " | " +
                   format_value("%.0f", tok_s) + " tok/s | ETA " + format_duration(s.eta));
  if (!line) return;
  nlohmann::json m = {{"step", s.step},       {"loss", s.loss},         {"lr", s.lr},
                      {"grad_norm", s.grad_norm}, {"tokens_per_s", tok_s}, {"elapsed_s", s.elapsed},
                      {"tokens", s.total_tokens}};
  const double wait_ms = 1e3 * window_wait_ / static_cast<double>(std::max<int64_t>(1, window_steps_));
  if (several_ranks_) m["allreduce_wait_ms"] = wait_ms;  // per step: the reduction time not hidden by backward
  if (!std::isnan(s.z_loss)) m["z_loss"] = s.z_loss;
  metrics_ << m.dump() << "\n" << std::flush;
  progress_.log("step " + std::to_string(s.step) + " loss " + format_value("%.4f", s.loss) + " lr " +
                format_value("%.3e", s.lr) + (std::isnan(s.z_loss) ? "" : " z_loss " + format_value("%.3e", s.z_loss)) +
                " grad_norm " + format_value("%.3f", s.grad_norm) + " " +
                format_value("%.0f", tok_s) + " tok/s elapsed " + format_duration(s.elapsed) +
                (several_ranks_ ? " allreduce wait " + format_value("%.2f", wait_ms) + " ms/step" : ""));
  window_tokens_ = window_steps_ = 0;
  window_wait_ = 0.0;
  window_start_ = std::chrono::steady_clock::now();
}

void Reporter::eval(const EvalInfo& e) {
  nlohmann::json m = {{"step", e.step}, {"val_loss", e.val_loss}, {"val_ppl", std::exp(e.val_loss)},
                      {"tokens", e.total_tokens}, {"elapsed_s", e.elapsed}};
  std::string bleu_text;
  if (e.val_bleu >= 0) {
    m["val_bleu"] = e.val_bleu;
    bleu_text = " val_bleu " + format_value("%.2f", e.val_bleu) + " (greedy, BP " + format_value("%.3f", e.bleu_bp) + ")";
  }
  if (e.epoch >= 0) m["epoch"] = e.epoch;
  metrics_ << m.dump() << "\n" << std::flush;
  progress_.log("step " + std::to_string(e.step) + " val_loss " + format_value("%.4f", e.val_loss) + " val_ppl " +
                format_value("%.3f", std::exp(e.val_loss)) + bleu_text + (e.best ? " (best)" : ""));
}

}  // namespace tfm

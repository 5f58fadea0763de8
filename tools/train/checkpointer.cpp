#include "tools/train/checkpointer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "models/checkpoint.h"

namespace tfm {
namespace {

namespace fs = std::filesystem;

NamedTensors copy_of(const NamedTensors& tensors) {
  NamedTensors out;
  for (auto& [name, t] : tensors) out.emplace_back(name, t.copy());
  return out;
}

NamedTensors weights_of(const Model& model) {
  NamedTensors out;
  for (auto& [name, p] : model.named_parameters()) out.emplace_back(name, p->data().copy());
  return out;
}

}  // namespace

Checkpointer::Checkpointer(RunDir dir, nlohmann::json model_config, nlohmann::json tokenizer_json, int64_t keep,
                           bool write)
    : dir_(std::move(dir)),
      model_config_(std::move(model_config)),
      tokenizer_json_(std::move(tokenizer_json)),
      keep_(keep),
      write_(write) {}

Checkpointer::~Checkpointer() {
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::submit(std::function<void()> job) {
  wait();
  thread_ = std::thread([this, job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  });
}

void Checkpointer::wait() {
  if (thread_.joinable()) thread_.join();
  if (!error_.empty()) {
    const std::string e = error_;
    error_.clear();
    throw RuntimeFailure("checkpoint failed: " + e);
  }
}

void Checkpointer::save(const TrainState& state, const Model& model, const Optimizer& optimizer, const WeightEma* ema) {
  if (!write_) return;
  submit([this, state, weights = weights_of(model), opt_state = copy_of(optimizer.state()),
          averages = ema != nullptr ? copy_of(ema->averages()) : NamedTensors()] {
    save_checkpoint(dir_.last(), weights, model_config_, tokenizer_json_);
    if (!averages.empty()) save_checkpoint(dir_.ema(), averages, model_config_, tokenizer_json_);
    save_train_state(dir_.state(), state, weights, opt_state, averages);
    if (keep_ > 0) keep_last_checkpoints(dir_, state.step, keep_, weights, model_config_, tokenizer_json_);
  });
}

void Checkpointer::save_best(const Model& model) {
  if (!write_) return;
  submit([this, weights = weights_of(model)] { save_checkpoint(dir_.best(), weights, model_config_, tokenizer_json_); });
}

void keep_last_checkpoints(const RunDir& dir, int64_t step, int64_t keep, const NamedTensors& weights,
                           const nlohmann::json& model_config, const nlohmann::json& tokenizer_json) {
  char name[64];
  std::snprintf(name, sizeof name, "step-%08lld.safetensors", static_cast<long long>(step));
  save_checkpoint((fs::path(dir.checkpoints()) / name).string(), weights, model_config, tokenizer_json);
  std::vector<fs::path> steps;
  for (const auto& entry : fs::directory_iterator(dir.checkpoints())) {
    const std::string f = entry.path().filename().string();
    if (f.starts_with("step-") && f.ends_with(".safetensors")) steps.push_back(entry.path());
  }
  std::sort(steps.begin(), steps.end());  // zero-padded: names sort by step
  for (size_t i = 0; i + static_cast<size_t>(keep) < steps.size(); ++i) fs::remove(steps[i]);
}

}  // namespace tfm

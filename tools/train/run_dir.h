#pragma once
// The run directory of `tfm train` (docs/training.md): config.json (the
// resolved config), metrics.jsonl, train.log, run.json (which tfm ran it and
// whether it has ended; `tfm report` reads it) and checkpoints/ with
// last.safetensors, last.state.safetensors (weights, optimizer state and
// counters for --resume), best.safetensors, step-N.safetensors and, with
// train.ema, ema.safetensors (the average of the weights). Rank 0
// alone writes it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tfm {

class RunDir {
 public:
  explicit RunDir(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  std::string config() const { return file("config.json"); }
  std::string metrics() const { return file("metrics.jsonl"); }
  std::string log() const { return file("train.log"); }
  std::string run_info() const { return file("run.json"); }
  std::string checkpoints() const { return file("checkpoints"); }
  std::string last() const { return file("checkpoints/last.safetensors"); }
  std::string state() const { return file("checkpoints/last.state.safetensors"); }
  std::string best() const { return file("checkpoints/best.safetensors"); }
  std::string ema() const { return file("checkpoints/ema.safetensors"); }

  // Creates checkpoints/, removes what a writer killed part-way through left
  // (the temporary files of core/io.h's atomic writes: PATH.tmp.PID of a
  // checkpoint, config.json or metrics.jsonl) and writes config.json.
  void prepare(const nlohmann::json& resolved_config) const;
  // A run killed after its last checkpoint logged steps that its resumption
  // repeats, and maybe a torn last line: keeps the metrics lines of steps up to
  // `step`, so that each step appears once, and drops lines that are not JSON
  // with a step. No file, nothing to do.
  void trim_metrics(int64_t step) const;
  // Replaces run.json (atomically): tfm's version and commit, the threads and MPI ranks of this
  // session, its status ("running" while it trains, then "done" or "interrupted") and `extra`'s
  // keys (the final steps, tokens, wall time, best validation loss).
  void write_run_info(const std::string& status, int threads, int mpi_ranks,
                      const nlohmann::json& extra = nlohmann::json::object()) const;

 private:
  std::string file(const char* name) const;
  std::string path_;
};

// What `tfm train --resume X` continues: a run directory (in place, from its
// state) or a checkpoint file (its weights, in a new run).
struct ResumeFrom {
  std::string run_dir;     // a run directory: where the run goes on
  nlohmann::json config;   //   and its config.json
  std::string weights;     // a checkpoint file
  bool from_state() const { return !run_dir.empty(); }
};
// Throws tfm::Error when X does not exist, is a run directory without a state
// yet, or is a run directory while `out_dir` names another one.
ResumeFrom find_resume(const std::string& resume, const std::string& out_dir);

// runs/<config file's stem>-<local time, YYYYmmdd-HHMMSS>
std::string default_run_dir(const std::string& config_path);

}  // namespace tfm

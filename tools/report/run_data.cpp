#include "tools/report/run_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/config.h"
#include "core/error.h"
#include "tools/train/run_dir.h"

namespace tfm::report {
namespace fs = std::filesystem;

RunSummary summarize(const RunMetrics& m) {
  RunSummary s;
  std::vector<double> rates;
  for (const TrainPoint& p : m.train) {
    s.steps = std::max(s.steps, p.step);
    if (std::isfinite(p.tokens)) s.tokens = p.tokens;
    if (std::isfinite(p.elapsed_s)) s.wall_s = std::isfinite(s.wall_s) ? std::max(s.wall_s, p.elapsed_s) : p.elapsed_s;
    if (std::isfinite(p.tokens_per_s)) rates.push_back(p.tokens_per_s);
  }
  for (const EvalPoint& p : m.eval) {
    s.steps = std::max(s.steps, p.step);
    if (std::isfinite(p.elapsed_s)) s.wall_s = std::isfinite(s.wall_s) ? std::max(s.wall_s, p.elapsed_s) : p.elapsed_s;
    if (std::isfinite(p.val_loss) && !(p.val_loss >= s.val_loss.value)) s.val_loss = {p.val_loss, p.step};
    if (std::isfinite(p.val_bleu) && !(p.val_bleu <= s.val_bleu.value)) s.val_bleu = {p.val_bleu, p.step};
  }
  if (!rates.empty()) {
    std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
    s.tokens_per_s = rates[rates.size() / 2];
  }
  return s;
}

RunInfo parse_run_info(const nlohmann::json& j) {
  RunInfo info;
  if (!j.is_object()) return info;
  info.recorded = true;
  const auto text = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  const auto count = [&](const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0; };
  info.status = text("status");
  info.version = text("tfm_version");
  info.commit = text("commit");
  info.threads = count("threads");
  info.mpi_ranks = count("mpi_ranks");
  if (j.contains("tokens") && j["tokens"].is_number()) info.tokens = j["tokens"].get<double>();
  return info;
}

bool RunData::in_progress() const { return info.recorded ? info.status == "running" : metrics.torn_tail; }

bool RunData::translation() const {
  const auto data = config.find("data");
  if (data == config.end() || !data->is_object()) return false;
  const auto train = data->find("train");
  return train != data->end() && train->is_object() && train->contains("source");
}

std::string RunData::status_text() const {
  if (in_progress()) return "in progress";
  if (info.recorded) return info.status.empty() ? "unknown" : info.status;
  return "not recorded (no run.json: an older tfm)";
}

RunData load_run(const std::string& dir) {
  std::error_code ec;
  TFM_CHECK(fs::is_directory(dir, ec), "report: expected a run directory of tfm train, found ",
            fs::exists(dir, ec) ? "a file" : "nothing", " at ", dir);
  const RunDir run(dir);
  TFM_CHECK(fs::is_regular_file(run.metrics(), ec), "report: ", dir, " has no metrics.jsonl (expected a run ",
            "directory of tfm train: config.json, metrics.jsonl, checkpoints/)");
  RunData r;
  r.dir = dir;
  r.name = fs::path(dir).lexically_normal().string();
  while (r.name.size() > 1 && r.name.back() == '/') r.name.pop_back();
  r.config = fs::exists(run.config(), ec) ? read_json_file(run.config()) : nlohmann::json::object();
  r.metrics = read_metrics(run.metrics());
  // run.json is replaced atomically, so a reader never sees half of it; a foreign one is ignored.
  if (fs::exists(run.run_info(), ec)) {
    try {
      r.info = parse_run_info(read_json_file(run.run_info()));
    } catch (const Error&) {
    }
  }
  r.summary = summarize(r.metrics);
  if (std::isfinite(r.info.tokens)) r.summary.tokens = r.info.tokens;
  return r;
}

}  // namespace tfm::report

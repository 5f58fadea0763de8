#include "tools/train/run_dir.h"

#include <ctime>
#include <filesystem>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "tools/support/build_info.h"

namespace tfm {

namespace fs = std::filesystem;

std::string RunDir::file(const char* name) const { return (fs::path(path_) / name).string(); }

void RunDir::prepare(const nlohmann::json& resolved_config) const {
  fs::create_directories(checkpoints());
  for (const auto& entry : fs::directory_iterator(checkpoints()))
    if (entry.is_regular_file() && entry.path().filename().string().find(".safetensors.tmp.") != std::string::npos)
      fs::remove(entry.path());
  // The run's own files at the top: config.json and metrics.jsonl (trimmed on resume).
  for (const auto& entry : fs::directory_iterator(path_)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && (name.starts_with("config.json.tmp.") || name.starts_with("metrics.jsonl.tmp.") ||
                                    name.starts_with("run.json.tmp.")))
      fs::remove(entry.path());
  }
  write_file_atomic(config(), resolved_config.dump(2) + "\n");
}

void RunDir::trim_metrics(int64_t step) const {
  const std::string path = metrics();
  if (!fs::exists(path)) return;
  std::istringstream lines(read_file(path));
  std::string kept, line;
  while (std::getline(lines, line)) {
    try {
      check_json_bounds(line, path);
      if (nlohmann::json::parse(line).at("step").get<int64_t>() > step) continue;
    } catch (const std::exception&) {  // a torn, foreign or hostile line: dropped
      continue;
    }
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

void RunDir::write_run_info(const std::string& status, int threads, int mpi_ranks, const nlohmann::json& extra) const {
  nlohmann::json info = {{"status", status},  {"tfm_version", build_version()}, {"commit", build_commit()},
                         {"threads", threads}, {"mpi_ranks", mpi_ranks}};
  info.update(extra);
  write_file_atomic(run_info(), info.dump(2) + "\n");
}

ResumeFrom find_resume(const std::string& resume, const std::string& out_dir) {
  std::error_code ec;
  TFM_CHECK(fs::exists(resume, ec), "--resume: ", resume, " does not exist");
  ResumeFrom from;
  if (!fs::is_directory(resume, ec)) {
    from.weights = resume;
    return from;
  }
  TFM_CHECK(out_dir.empty() || fs::equivalent(out_dir, resume, ec), "--resume ", resume,
            " continues that run in its own directory: drop --out ", out_dir);
  const RunDir dir(resume);
  TFM_CHECK(fs::exists(dir.state(), ec), "--resume: ", resume, " has no checkpoints/last.state.safetensors",
            " (not a run directory, or no checkpoint written yet)");
  from.run_dir = resume;
  from.config = read_json_file(dir.config());
  return from;
}

std::string default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + fs::path(config_path).stem().string() + "-" + stamp;
}

}  // namespace tfm

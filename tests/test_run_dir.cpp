// tools/run_dir and tools/checkpointer on their own: the run directory's
// layout, what prepare() removes and keeps, metrics trimming on resume, what
// --resume accepts, and the background checkpoint writer's files, keep-K and
// failures. tests/test_tool_train.cpp and test_fault_injection.cpp check the
// same parts through `tfm train`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "test_util.h"
#include "tools/support/build_info.h"
#include "tools/train/checkpointer.h"
#include "tools/train/run_dir.h"
#include "tools/train/train_state.h"

namespace tfm {
namespace {

using namespace tfm::testing;
namespace fs = std::filesystem;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(RunDir, NamesTheDocumentedLayout) {
  const RunDir d("runs/x");
  EXPECT_EQ(d.config(), "runs/x/config.json");
  EXPECT_EQ(d.metrics(), "runs/x/metrics.jsonl");
  EXPECT_EQ(d.log(), "runs/x/train.log");
  EXPECT_EQ(d.run_info(), "runs/x/run.json");
  EXPECT_EQ(d.last(), "runs/x/checkpoints/last.safetensors");
  EXPECT_EQ(d.state(), "runs/x/checkpoints/last.state.safetensors");
  EXPECT_EQ(d.best(), "runs/x/checkpoints/best.safetensors");
}

TEST(RunDir, PrepareRemovesOnlyLeftoverTemporaryCheckpointsAndWritesTheConfig) {
  TempDir tmp;
  const RunDir d(tmp.path("run"));
  fs::create_directories(d.checkpoints());
  tmp.file("run/checkpoints/last.safetensors", "kept");
  tmp.file("run/checkpoints/last.safetensors.tmp.12345", "a dead writer's");
  tmp.file("run/checkpoints/step-00000004.safetensors.tmp.7", "a dead writer's");
  tmp.file("run/checkpoints/notes.tmp.txt", "the user's");
  tmp.file("run/config.json.tmp.99", "a dead writer's");
  tmp.file("run/metrics.jsonl.tmp.99", "a dead writer's");
  tmp.file("run/run.json.tmp.99", "a dead writer's");
  tmp.file("run/metrics.jsonl", "{}\n");
  tmp.file("run/data.txt.tmp.99", "the user's");
  const nlohmann::json config = {{"model", {{"type", "lm"}}}, {"train", {{"seed", 3}}}};
  d.prepare(config);
  EXPECT_EQ(files_in(d.checkpoints()), (std::vector<std::string>{"last.safetensors", "notes.tmp.txt"}));
  EXPECT_EQ(files_in(d.path()),
            (std::vector<std::string>{"checkpoints", "config.json", "data.txt.tmp.99", "metrics.jsonl"}));
  EXPECT_EQ(slurp(d.config()), config.dump(2) + "\n");
  // A new directory gets its layout.
  const RunDir fresh(tmp.path("new/run"));
  fresh.prepare(config);
  EXPECT_TRUE(fs::is_directory(fresh.checkpoints()));
  EXPECT_EQ(nlohmann::json::parse(slurp(fresh.config())), config);
}

TEST(RunDir, RunInfoRecordsTheBuildTheSessionAndItsStatus) {
  TempDir tmp;
  const RunDir d(tmp.path());
  d.write_run_info("running", 3, 2);
  nlohmann::json info = nlohmann::json::parse(slurp(d.run_info()));
  EXPECT_EQ(info["status"], "running");
  EXPECT_EQ(info["threads"], 3);
  EXPECT_EQ(info["mpi_ranks"], 2);
  EXPECT_EQ(info["tfm_version"], build_version());
  EXPECT_EQ(info["commit"], build_commit());
  EXPECT_FALSE(info["commit"].get<std::string>().empty());
  d.write_run_info("done", 3, 2, {{"steps", 40}});  // replaced, not appended
  info = nlohmann::json::parse(slurp(d.run_info()));
  EXPECT_EQ(info["status"], "done");
  EXPECT_EQ(info["steps"], 40);
}

TEST(RunDir, TrimMetricsKeepsTheStepsUpToTheCheckpointAndDropsBrokenLines) {
  TempDir tmp;
  const RunDir d(tmp.path());
  tmp.file("metrics.jsonl",
           "{\"step\": 1, \"loss\": 3.5}\n"
           "{\"step\": 2, \"loss\": 3.25}\n"
           "not json\n"
           "{\"loss\": 1}\n"
           "{\"step\": \"2\"}\n"
           "{\"step\": 2, \"val_loss\": 3.0}\n"
           "{\"step\": 3, \"loss\": 3.0}\n"
           "{\"step\": 4, \"lo");
  d.trim_metrics(2);
  EXPECT_EQ(slurp(d.metrics()), "{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": 3.25}\n{\"step\": 2, \"val_loss\": 3.0}\n");
  d.trim_metrics(0);
  EXPECT_EQ(slurp(d.metrics()), "");
  const RunDir none(tmp.path("none"));
  none.trim_metrics(5);
  EXPECT_FALSE(fs::exists(none.metrics()));
}

TEST(RunDir, ResumeTakesARunDirectoryWithAStateOrACheckpointFile) {
  TempDir tmp;
  EXPECT_CONTAINS(error_message([&] { find_resume(tmp.path("absent"), ""); }),
                  "--resume: " + tmp.path("absent") + " does not exist");
  const std::string file = tmp.file("model.safetensors", "x");
  const ResumeFrom weights = find_resume(file, tmp.path("out"));
  EXPECT_FALSE(weights.from_state());
  EXPECT_EQ(weights.weights, file);

  const RunDir d(tmp.path("run"));
  fs::create_directories(d.checkpoints());
  EXPECT_CONTAINS(error_message([&] { find_resume(d.path(), ""); }),
                  "has no checkpoints/last.state.safetensors (not a run directory, or no checkpoint written yet)");
  tmp.file("run/checkpoints/last.state.safetensors", "x");
  tmp.file("run/config.json", "{\"train\": {\"seed\": 9}}");
  const ResumeFrom run = find_resume(d.path(), "");
  EXPECT_TRUE(run.from_state());
  EXPECT_EQ(run.run_dir, d.path());
  EXPECT_EQ(run.config["train"]["seed"], 9);
  EXPECT_TRUE(run.weights.empty());
  EXPECT_TRUE(find_resume(d.path(), d.path()).from_state());
  EXPECT_CONTAINS(error_message([&] { find_resume(d.path(), tmp.path("elsewhere")); }),
                  "continues that run in its own directory: drop --out " + tmp.path("elsewhere"));
}

TEST(RunDir, DefaultNameIsTheConfigStemAndTheLocalTime) {
  EXPECT_TRUE(std::regex_match(default_run_dir("configs/tiny.json"), std::regex(R"(runs/tiny-\d{8}-\d{6})")))
      << default_run_dir("configs/tiny.json");
}

const nlohmann::json kLm = {{"type", "lm"},   {"n_layer", 1}, {"n_head", 1},     {"d_model", 4},
                            {"d_ff", 4},      {"seq_len", 4}, {"vocab_size", 6}, {"dropout", 0.0}};
const nlohmann::json kTokenizer = {{"type", "byte_bpe"}, {"merges", {"a b"}}, {"special", {{"eos", 1}}}};

class CheckpointerTest : public ::testing::Test {
 protected:
  CheckpointerTest() : model(ModelRegistry::create(kLm)) {
    Generator g(5);
    model->init_weights(g);
    optimizer = make_optimizer(model->named_parameters(), OptimizerConfig{});
  }
  // Moves every weight by `delta`, so each save holds different values.
  void change_weights(float delta) {
    for (auto& [name, p] : model->named_parameters()) {
      float* w = p->data().data();
      for (int64_t i = 0; i < p->data().numel(); ++i) w[i] += delta;
    }
  }
  float first_weight() { return model->named_parameters().front().second->data().data()[0]; }
  TempDir tmp;
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
};

TEST_F(CheckpointerTest, WritesLastStateAndTheLatestStepsFromSnapshotsTakenAtSave) {
  const RunDir d(tmp.path("run"));
  fs::create_directories(d.checkpoints());
  Checkpointer c(d, model->config(), kTokenizer, /*keep=*/2, /*write=*/true);
  std::vector<float> saved;
  TrainState s;
  for (int step = 1; step <= 3; ++step) {
    s.step = step;
    saved.push_back(first_weight());
    c.save(s, *model, *optimizer);
    change_weights(1.0f);  // at once, while the save may still run: the save has its own copy
  }
  c.save_best(*model);
  c.wait();
  EXPECT_EQ(files_in(d.checkpoints()),
            (std::vector<std::string>{"best.safetensors", "last.safetensors", "last.state.safetensors",
                                      "step-00000002.safetensors", "step-00000003.safetensors"}));
  auto first_of = [&](const std::string& path) {
    return load_checkpoint(path).model->named_parameters().front().second->data().data()[0];
  };
  EXPECT_EQ(first_of(d.last()), saved[2]);
  EXPECT_EQ(first_of(fs::path(d.checkpoints()) / "step-00000002.safetensors"), saved[1]);
  EXPECT_EQ(first_of(d.best()), first_weight());
  EXPECT_EQ(load_checkpoint(d.last()).tokenizer, kTokenizer);
  std::unique_ptr<Model> other = ModelRegistry::create(kLm);
  std::unique_ptr<Optimizer> other_opt = make_optimizer(other->named_parameters(), OptimizerConfig{});
  EXPECT_EQ(load_train_state(d.state(), *other, *other_opt).step, 3);
  EXPECT_EQ(other->named_parameters().front().second->data().data()[0], saved[2]);
}

TEST_F(CheckpointerTest, ARankThatDoesNotWriteLeavesNoFiles) {
  const RunDir d(tmp.path("run"));
  fs::create_directories(d.checkpoints());
  Checkpointer c(d, model->config(), kTokenizer, 2, /*write=*/false);
  c.save(TrainState{}, *model, *optimizer);
  c.save_best(*model);
  c.wait();
  EXPECT_TRUE(files_in(d.checkpoints()).empty());
}

TEST_F(CheckpointerTest, AFailedWriteIsARuntimeFailureAtTheNextWait) {
  const RunDir d(tmp.file("run", "a file where the directory should be"));
  Checkpointer c(d, model->config(), kTokenizer, 0, true);
  c.save(TrainState{}, *model, *optimizer);
  try {
    c.wait();
    ADD_FAILURE() << "expected RuntimeFailure";
  } catch (const RuntimeFailure& e) {
    EXPECT_CONTAINS(e.what(), "checkpoint failed: ");
    EXPECT_CONTAINS(e.what(), d.last());
  }
  EXPECT_NO_THROW(c.wait());  // reported once
}

}  // namespace
}  // namespace tfm

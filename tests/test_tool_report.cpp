// `tfm report` end to end: tiny runs trained with the built tfm, then the
// report of one, of two overlaid (a table of the config keys that differ), of
// a run in progress and of a translation run (its attention heatmap inline);
// the errors a user meets; and, when chromium is installed, a screenshot of
// the page that must not be blank.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/config.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;
namespace fs = std::filesystem;

// Numbered lines of a few words: a corpus a 1-layer model learns something from in 30 steps.
std::string numbered_lines(int n) {
  static const char* words[] = {"alpha", "beta", "gamma", "delta", "omega"};
  std::string text;
  for (int i = 0; i < n; ++i) text += std::to_string(i % 97) + " " + words[i % 5] + " " + words[(i * 7) % 5] + "\n";
  return text;
}

nlohmann::json lm_config(double lr) {
  return {{"model", {{"type", "lm"}, {"n_layer", 1}, {"d_model", 16}, {"n_head", 2}, {"seq_len", 16}}},
          {"tokenizer", {{"type", "char"}}},
          {"data", {{"train", {"corpus.txt"}}}},
          {"optim", {{"lr", lr}, {"warmup_steps", 3}}},
          {"train", {{"batch_size", 4}, {"max_steps", 30}, {"eval_every", 10}, {"eval_batches", 2}, {"log_every", 1},
                     {"checkpoint_every", 10}, {"threads", 1}}}};
}

void expect_self_contained(const std::string& html) {
  for (const char* bad : {"http://", "https://", "src=", "href=", "<script", "@import", "<link"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  EXPECT_FALSE(std::regex_search(html, std::regex("url\\((?!#)")));
}

class ToolReport : public ::testing::Test {
 protected:
  void SetUp() override { dir_.file("corpus.txt", numbered_lines(2000)); }
  ProcessResult run(const std::string& args) { return tfm(args, dir_.path()); }
  void train(const std::string& out, double lr) {
    dir_.file(out + ".json", lm_config(lr).dump());
    const ProcessResult r = run("train " + out + ".json --quiet --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_CONTAINS(r.out, "report: tfm report " + out + " --out " + out + "/report.html");
  }
  std::string path(const std::string& name) const { return dir_.path(name); }
  TempDir dir_;
};

TEST_F(ToolReport, TwoTrainedRunsGiveOneSelfContainedPageWithPanelsAndTheirDifferences) {
  train("a", 0.01);
  train("b", 0.003);
  const nlohmann::json info = read_json_file(path("a/run.json"));
  EXPECT_EQ(info["status"], "done");
  EXPECT_EQ(info["steps"], 30);
  EXPECT_EQ(info["threads"], 1);
  EXPECT_FALSE(info["commit"].get<std::string>().empty());
  const ProcessResult r = run("report a b --out r.html");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "wrote r.html (2 runs, 5 panels)");
  const std::string html = slurp(path("r.html"));
  for (const char* panel : {"Loss", "Validation perplexity", "Learning rate", "Throughput", "Gradient norm (before clipping)"})
    EXPECT_CONTAINS(html, std::string("aria-label=\"") + panel + "\"");
  EXPECT_EQ(html.find("BLEU"), std::string::npos);
  EXPECT_CONTAINS(html, "<th>optim.lr</th><td>0.01</td><td>0.003</td>");
  EXPECT_EQ(html.find("train.max_steps"), std::string::npos);  // equal in both
  EXPECT_CONTAINS(html, "<th>steps</th><td>30</td><td>30</td>");
  EXPECT_CONTAINS(html, "<th>status</th><td>done</td><td>done</td>");
  EXPECT_EQ(html.find("in progress"), std::string::npos);
  expect_self_contained(html);
  // The other x axes and a log y axis.
  for (const char* flags : {"--x tokens", "--x time --log-y --smooth 5"}) {
    const ProcessResult other = run(std::string("report a b --out other.html ") + flags);
    ASSERT_EQ(other.code, 0) << flags << ": " << other.err;
  }
  EXPECT_CONTAINS(slurp(path("other.html")), "wall-clock time (s)");
}

TEST_F(ToolReport, LiveRunWithATornLastLineIsReportedInProgress) {
  train("live", 0.01);
  // As the run dir looks mid-run: run.json says running, the last metrics line is half written.
  nlohmann::json info = read_json_file(path("live/run.json"));
  info["status"] = "running";
  dir_.file("live/run.json", info.dump());
  std::ofstream(path("live/metrics.jsonl"), std::ios::app) << "{\"step\": 31, \"loss\": 2.";
  const ProcessResult r = run("report live --out live.html");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "a run in progress");
  const std::string html = slurp(path("live.html"));
  EXPECT_CONTAINS(html, "is in progress: metrics up to step 30");
  EXPECT_CONTAINS(html, "partial last line");
  // A run that has written nothing yet still gets a page.
  fs::create_directories(path("fresh"));
  dir_.file("fresh/metrics.jsonl", "");
  dir_.file("fresh/run.json", "{\"status\": \"running\"}");
  const ProcessResult fresh = run("report fresh --out fresh.html");
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_CONTAINS(slurp(path("fresh.html")), "no complete metrics line yet");
}

TEST_F(ToolReport, BadInputEndsWithAnErrorAndExitCode2) {
  fs::create_directories(path("not-a-run"));
  const std::pair<const char*, const char*> cases[] = {
      {"report missing --out x.html", "expected a run directory of tfm train, found nothing at missing"},
      {"report not-a-run --out x.html", "not-a-run has no metrics.jsonl"},
      {"report not-a-run --x epochs", "--x"},
      {"report not-a-run --smooth -1", "--smooth"},
      {"report", "run_dirs is required"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult r = run(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_CONTAINS(r.err, "error: ");
    EXPECT_CONTAINS(r.err, message);
  }
  EXPECT_FALSE(fs::exists(path("x.html")));
}

TEST_F(ToolReport, TranslationRunShowsBleuAndItsBestCheckpointsAttention) {
  std::string src, tgt, val_src, val_tgt;
  const char* en[] = {"red", "dog", "cat", "runs", "big"};
  const char* de[] = {"rot", "hund", "katze", "laeuft", "gross"};
  for (int i = 0; i < 400; ++i) {
    src += std::string(en[i % 5]) + " " + en[(i / 5) % 5] + " " + en[(i / 25) % 5] + "\n";
    tgt += std::string(de[i % 5]) + " " + de[(i / 5) % 5] + " " + de[(i / 25) % 5] + "\n";
    if (i == 29) val_src = src, val_tgt = tgt;
  }
  dir_.file("train.src", src);
  dir_.file("train.tgt", tgt);
  dir_.file("val.src", val_src);
  dir_.file("val.tgt", val_tgt);
  const nlohmann::json config = {
      {"model", {{"type", "transformer"}, {"n_encoder_layers", 1}, {"n_decoder_layers", 1}, {"n_head", 2},
                 {"d_model", 16}, {"d_ff", 32}, {"seq_len", 16}}},
      {"tokenizer", {{"type", "sentencepiece"}, {"vocab_size", 40}}},
      {"data", {{"train", {{"source", "train.src"}, {"target", "train.tgt"}}},
                {"val", {{"source", "val.src"}, {"target", "val.tgt"}}}}},
      {"train", {{"batch_tokens", 200}, {"max_steps", 20}, {"eval_every", 10}, {"log_every", 5},
                 {"checkpoint_every", 10}, {"threads", 1}}}};
  dir_.file("mt.json", config.dump());
  const ProcessResult t = run("train mt.json --quiet --out mt");
  ASSERT_EQ(t.code, 0) << t.err;
  const ProcessResult r = run("report mt --out mt.html");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = slurp(path("mt.html"));
  EXPECT_CONTAINS(html, "aria-label=\"Validation BLEU (greedy)\"");
  EXPECT_CONTAINS(html, "<th>best val BLEU</th>");
  EXPECT_CONTAINS(html, "Attention of the best checkpoint");
  EXPECT_CONTAINS(html, "transformer cross-attention");
  EXPECT_CONTAINS(html, "first validation sentence &quot;red red red&quot;");
  expect_self_contained(html);
}

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

// Renders a file with headless chromium into png; false if chromium fails.
bool screenshot(const std::string& html, const std::string& png, const std::string& profile) {
  const std::string cmd = "timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir='" + profile +
                          "' --screenshot='" + png + "' --window-size=1200,1600 'file://" + html + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 && fs::exists(png);
}

TEST_F(ToolReport, ScreenshotOfTheReportIsNotBlank) {
  if (!have_chromium()) GTEST_SKIP() << "chromium not installed (scripts/install-deps.sh installs it): no screenshot";
  train("a", 0.01);
  ASSERT_EQ(run("report a --out r.html").code, 0);
  dir_.file("blank.html", "<!DOCTYPE html><html><body></body></html>");
  ASSERT_TRUE(screenshot(path("blank.html"), path("blank.png"), path("profile")));
  ASSERT_TRUE(screenshot(path("r.html"), path("r.png"), path("profile")));
  const auto blank = fs::file_size(path("blank.png")), report = fs::file_size(path("r.png"));
  EXPECT_GT(report, 40000u) << "a 1200x1600 page of curves and a table compresses to more than this";
  EXPECT_GT(report, 4 * blank) << "the report's screenshot is about as small as a blank page's";
}

}  // namespace
}  // namespace tfm

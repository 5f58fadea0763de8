// The Trainer's parts on their own (tools/train/: Sharder, StopPolicy,
// SignalStop, Reporter) and the Trainer as a library: a task built in code,
// callbacks, opt-in signals, and the caller's generator left alone.
#include <gtest/gtest.h>

#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/safetensors.h"
#include "models/lm.h"
#include "tools/train/trainer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// A batch of rows whose targets have `lengths[r]` real tokens (the rest ignore_index).
Batch padded_batch(const std::vector<int>& lengths, int64_t T) {
  Batch b;
  const auto rows = static_cast<int64_t>(lengths.size());
  b.input = Tensor::zeros({rows, T}, DType::I32);
  b.target = Tensor::empty({rows, T}, DType::I32);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < T; ++t) b.target.data_i32()[r * T + t] = t < lengths[r] ? 1 : -100;
  return b;
}

TEST(Sharder, EachRankTakesItsRowsAndWeightsItsShareOfTheTokens) {
  const Batch b = padded_batch({5, 1, 4, 2, 3}, 6);  // 15 tokens
  // 5 rows over 3 ranks: [0, 1), [1, 3), [3, 5) (rows·r/N).
  const int64_t first[] = {0, 1, 3}, last[] = {1, 3, 5}, tokens[] = {5, 5, 5};
  double weight_sum = 0.0;
  for (int r = 0; r < 3; ++r) {
    const Sharder sharder(r, 3);
    const Shard s = sharder.shard(b);
    EXPECT_EQ(s.batch.batch_size(), last[r] - first[r]) << "rank " << r;
    EXPECT_EQ(s.batch.target.data_i32(), b.target.data_i32() + first[r] * 6) << "a view of rows from " << first[r];
    EXPECT_EQ(s.tokens, tokens[r]);
    EXPECT_EQ(s.global_tokens, 15);
    EXPECT_FLOAT_EQ(sharder.loss_weight(s), 3.0f * static_cast<float>(tokens[r]) / 15.0f);
    weight_sum += sharder.loss_weight(s);
  }
  EXPECT_NEAR(weight_sum, 3.0, 1e-6);  // the mean over ranks of weight × mean loss is the global mean
  const Shard one = Sharder(0, 1).shard(b);
  EXPECT_EQ(one.batch.batch_size(), 5);
  EXPECT_FLOAT_EQ(Sharder(0, 1).loss_weight(one), 1.0f);
}

TEST(Sharder, ARankWithoutRowsRunsOneRowWithWeightZero) {
  const Batch b = padded_batch({3, 2}, 4);
  const Sharder sharder(1, 3);  // rows·1/3 = 0 … rows·2/3 = 1: row 0 of 2 → this rank has [0, 1)
  EXPECT_EQ(sharder.shard(b).batch.batch_size(), 1);
  const Sharder empty(0, 3);  // [0, 0): no rows
  const Shard s = empty.shard(b);
  EXPECT_EQ(s.batch.batch_size(), 1);
  EXPECT_EQ(s.tokens, 0);
  EXPECT_EQ(empty.loss_weight(s), 0.0f);
  EXPECT_CONTAINS(error_message([] { Sharder(3, 3); }), "rank 3 of 3");
  EXPECT_CONTAINS(error_message([] { check_global_batch(10, 4); }), "train.batch_size = 10");
}

TEST(StopPolicy, StopsAtMaxStepsMaxTimeOrARequest) {
  bool request = false;
  const StopPolicy policy(100, 60.0, [&] { return request; });
  EXPECT_FALSE(policy.finished(99, 59.0));
  EXPECT_TRUE(policy.finished(100, 0.0));
  EXPECT_TRUE(policy.finished(5, 60.0));
  StepAgreement a = policy.agree(2.5, 30.0, true);
  EXPECT_EQ(a.loss_sum, 2.5);
  EXPECT_FALSE(a.time_up);
  EXPECT_FALSE(a.stop_requested);
  EXPECT_EQ(a.probe_elapsed, 30.0);
  EXPECT_FALSE(policy.last(99, a));
  EXPECT_TRUE(policy.last(100, a));
  EXPECT_TRUE(policy.agree(0.0, 61.0, false).time_up);
  EXPECT_EQ(policy.agree(0.0, 61.0, false).probe_elapsed, 0.0);
  request = true;
  a = policy.agree(0.0, 1.0, false);
  EXPECT_TRUE(a.stop_requested);
  EXPECT_TRUE(policy.last(1, a));
  const StopPolicy unbounded_time(10, 0.0, nullptr);
  EXPECT_FALSE(unbounded_time.agree(0.0, 1e9, false).time_up);
}

sighandler_t current_handler(int sig) {
  struct sigaction sa {};
  sigaction(sig, nullptr, &sa);
  return sa.sa_handler;
}

TEST(SignalStop, CatchesSignalsOnlyWhileItLives) {
  EXPECT_FALSE(SignalStop::requested());
  EXPECT_EQ(current_handler(SIGINT), SIG_DFL);
  {
    const SignalStop signals(false);
    EXPECT_NE(current_handler(SIGTERM), SIG_DFL);
    EXPECT_FALSE(SignalStop::requested());
    std::raise(SIGINT);  // caught: the process goes on
    EXPECT_TRUE(SignalStop::requested());
    std::raise(SIGTERM);  // second_signal_kills false: still caught
    EXPECT_TRUE(SignalStop::requested());
  }
  EXPECT_EQ(current_handler(SIGINT), SIG_DFL);
  EXPECT_EQ(current_handler(SIGTERM), SIG_DFL);
  EXPECT_FALSE(SignalStop::requested());
}

TEST(Reporter, WritesAMetricsLineOnlyWhenAskedAndTheEvaluations) {
  TempDir dir;
  RunDir run(dir.path());
  std::filesystem::create_directories(run.checkpoints());
  {
    Reporter reporter(run, true, true, 100);
    StepInfo s;
    s.step = 1, s.loss = 2.0, s.lr = 1e-3, s.grad_norm = 0.5, s.tokens = 64, s.total_tokens = 64, s.elapsed = 1.0;
    reporter.step(s, false);
    s.step = 2, s.total_tokens = 128;
    reporter.step(s, true);
    EvalInfo e;
    e.step = 2, e.val_loss = 1.5, e.total_tokens = 128, e.elapsed = 1.5, e.best = true;
    reporter.eval(e);
  }
  std::istringstream lines(slurp(run.metrics()));
  std::string line;
  std::vector<nlohmann::json> m;
  while (std::getline(lines, line)) m.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["step"], 2);
  EXPECT_EQ(m[0]["tokens"], 128);
  EXPECT_EQ(m[0]["loss"], 2.0);
  EXPECT_GT(m[0]["tokens_per_s"].get<double>(), 0.0);
  EXPECT_FALSE(m[0].contains("allreduce_wait_ms"));  // one process
  EXPECT_EQ(m[1]["val_loss"], 1.5);
  EXPECT_DOUBLE_EQ(m[1]["val_ppl"].get<double>(), std::exp(1.5));
  EXPECT_FALSE(m[1].contains("val_bleu"));
  EXPECT_FALSE(m[1].contains("epoch"));
  EXPECT_CONTAINS(slurp(run.log()), "step 2 val_loss 1.5000 val_ppl 4.482 (best)");
}

// A tiny character LM task built in code.
Task tiny_task(const TrainConfig& config) {
  Task task;
  std::string text;
  for (int i = 0; i < 300; ++i) text += "abcab cabba " + std::to_string(i % 7) + "\n";
  task.tokenizer = Tokenizer::train(TokenizerConfig{}, text);
  std::vector<int32_t> ids = task.tokenizer->encode(text);
  std::vector<int32_t> val(ids.end() - 200, ids.end());
  ids.resize(ids.size() - 200);
  LmConfig lm;
  lm.n_layer = 1, lm.n_head = 2, lm.d_model = 16, lm.d_ff = 32, lm.seq_len = 16;
  lm.vocab_size = task.tokenizer->vocab_size();
  task.model = std::make_unique<LanguageModel>(lm);
  Generator init(3);
  task.model->init_weights(init);
  task.data = std::make_unique<LmTrainData>(LmData(ids, val, lm.seq_len), config.train.batch_size, config.train.seed,
                                            config.train.eval_batches);
  return task;
}

TrainConfig tiny_config() {
  TrainConfig config;
  config.train.batch_size = 4;
  config.train.max_steps = 50;
  config.train.eval_every = 4;
  config.train.eval_batches = 2;
  config.train.checkpoint_every = 1000;
  return config;
}

TEST(Trainer, CallbacksSeeEveryStepAndEvaluationAndShouldStopEndsTheRunWithACheckpoint) {
  TempDir dir;
  const TrainConfig config = tiny_config();
  Task task = tiny_task(config);
  std::vector<int64_t> steps, evals;
  TrainerCallbacks callbacks;
  callbacks.after_step = [&](const StepInfo& s) {
    steps.push_back(s.step);
    EXPECT_EQ(current_handler(SIGINT), SIG_DFL) << "signals are opt-in";
  };
  callbacks.after_eval = [&](const EvalInfo& e) { evals.push_back(e.step); };
  callbacks.should_stop = [&] { return steps.size() == 6; };  // asked after step 6's backward pass → step 7 is last
  TrainerOptions options;
  options.quiet = true;
  default_generator().set_state(42, 7);
  Trainer trainer(config, task, RunDir(dir.path("run")), options, callbacks);
  const TrainSummary summary = trainer.run();
  EXPECT_EQ(default_generator().seed(), 42u) << "the caller's generator comes back";
  EXPECT_EQ(default_generator().offset(), 7u);
  EXPECT_EQ(summary.steps, 7);
  EXPECT_TRUE(summary.interrupted);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(evals, (std::vector<int64_t>{4, 7}));  // every eval_every steps, and the last
  EXPECT_TRUE(std::filesystem::exists(dir.path("run/checkpoints/last.safetensors")));
  EXPECT_EQ(load_train_state(dir.path("run/checkpoints/last.state.safetensors"), *task.model,
                             *make_optimizer(task.model->named_parameters(), config.optim.optimizer))
                .step,
            7);
  EXPECT_CONTAINS(slurp(dir.path("run/run.json")), "interrupted");
  EXPECT_FALSE(trainer.step()) << "a finished trainer takes no more steps";
}

// A schedule sized from max_time measures the step time after the first steps, which are slow (primitive
// creation, fresh memory): here step 1 takes a second more (the callback sleeps), and that second must not
// enter the estimate. Left in, it would make the time per step over 0.1 s and decay_steps under 1000.
TEST(Trainer, ScheduleSizedFromMaxTimeLeavesOutTheSlowFirstSteps) {
  TrainConfig config = tiny_config();
  config.train.max_steps = 1000000;
  config.train.max_time = 100;
  config.optim.schedule.name = "cosine";
  config.optim.schedule.warmup_steps = 20;  // probes steps 3 to 10
  config.optim.schedule.decay_steps = 0;
  TempDir dir;
  Task task = tiny_task(config);
  TrainerCallbacks callbacks;
  int64_t last = 0;
  callbacks.after_step = [&](const StepInfo& s) {
    last = s.step;
    if (s.step == 1) std::this_thread::sleep_for(std::chrono::seconds(1));
  };
  callbacks.should_stop = [&] { return last == 12; };
  TrainerOptions options;
  options.quiet = true;
  Trainer(config, task, RunDir(dir.path("run")), options, callbacks).run();
  const int64_t decay = load_train_state(dir.path("run/checkpoints/last.state.safetensors"), *task.model,
                                         *make_optimizer(task.model->named_parameters(), config.optim.optimizer))
                            .decay_steps;
  EXPECT_GT(decay, 1000) << "the slow first step entered the step time";
  EXPECT_LT(decay, 1000000) << "decay_steps was not derived from max_time";
}

TEST(Trainer, SteppingByHandEqualsRunAndIgnoresTheCallersUseOfTheGenerator) {
  TrainConfig config = tiny_config();
  config.train.max_steps = 5;
  TempDir dir;
  TrainerOptions options;
  options.quiet = true;
  Task a = tiny_task(config), b = tiny_task(config);
  // Dropout draws from the default generator: a caller drawing from it between steps must not
  // change the run.
  auto with_dropout = [](Task& t) {
    LmConfig lm = dynamic_cast<LanguageModel&>(*t.model).lm_config();
    lm.dropout = 0.2;
    t.model = std::make_unique<LanguageModel>(lm);
    Generator init(3);
    t.model->init_weights(init);
  };
  with_dropout(a);
  with_dropout(b);
  Trainer ta(config, a, RunDir(dir.path("a")), options);
  ta.run();
  Trainer tb(config, b, RunDir(dir.path("b")), options);
  while (tb.step()) default_generator().reserve(1000);
  tb.finish();
  const NamedParameters pa = a.model->named_parameters(), pb = b.model->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) expect_close(pa[i].second->data(), pb[i].second->data(), 0.0f);
}

// train.ema: each evaluation scores the average of the weights, which the test keeps itself in double from
// the weights after every step (the recurrence of optim/ema.h), and best.safetensors holds that average;
// last.safetensors keeps the weights. The raw weights score measurably differently, so an evaluation of
// them fails the test.
TEST(Trainer, EvaluationAndBestCheckpointUseTheAverageOfTheWeights) {
  TempDir dir;
  TrainConfig config = tiny_config();
  config.train.max_steps = 8;
  config.optim.optimizer.lr = config.optim.schedule.lr = 0.02;
  config.train.ema = {0.7, 3};
  Task task = tiny_task(config);
  const NamedParameters params = task.model->named_parameters();
  std::vector<std::vector<double>> shadow, best_shadow;
  for (auto& [name, p] : params) shadow.emplace_back(p->data().data(), p->data().data() + p->numel());
  auto set_weights = [&](const std::vector<std::vector<double>>& values) {
    for (size_t i = 0; i < params.size(); ++i)
      for (int64_t k = 0; k < params[i].second->numel(); ++k)
        params[i].second->mutable_data().data()[k] = static_cast<float>(values[i][k]);
  };
  auto weights = [&] {
    std::vector<std::vector<double>> out;
    for (auto& [name, p] : params) out.emplace_back(p->data().data(), p->data().data() + p->numel());
    return out;
  };
  TrainerCallbacks callbacks;
  callbacks.after_step = [&](const StepInfo& s) {
    for (size_t i = 0; i < params.size(); ++i)
      for (int64_t k = 0; k < params[i].second->numel(); ++k) {
        const double w = params[i].second->data().at(k);
        shadow[i][k] = s.step < 3 ? w : 0.7 * shadow[i][k] + 0.3 * w;
      }
  };
  int evaluations = 0;
  callbacks.after_eval = [&](const EvalInfo& e) {
    const LossEvaluator evaluator;
    const auto raw = weights();
    const double raw_loss = evaluator.evaluate(*task.model, task.data->validation(), Sharder(0, 1));
    set_weights(shadow);
    const double average_loss = evaluator.evaluate(*task.model, task.data->validation(), Sharder(0, 1));
    set_weights(raw);
    EXPECT_NEAR(e.val_loss, average_loss, 1e-5) << "step " << e.step;
    EXPECT_GT(std::fabs(raw_loss - average_loss), 1e-3) << "step " << e.step << ": the test cannot tell them apart";
    if (e.best) best_shadow = shadow;
    ++evaluations;
  };
  TrainerOptions options;
  options.quiet = true;
  Trainer trainer(config, task, RunDir(dir.path("run")), options, callbacks);
  trainer.run();
  EXPECT_EQ(evaluations, 2);
  ASSERT_FALSE(best_shadow.empty());
  const SafetensorsContents best = load_safetensors(dir.path("run/checkpoints/best.safetensors"));
  const SafetensorsContents ema = load_safetensors(dir.path("run/checkpoints/ema.safetensors"));
  const SafetensorsContents last = load_safetensors(dir.path("run/checkpoints/last.safetensors"));
  ASSERT_EQ(best.tensors.size(), params.size());
  ASSERT_EQ(ema.tensors.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(ema.tensors[i].first, params[i].first);
    for (int64_t k = 0; k < params[i].second->numel(); ++k) {
      ASSERT_NEAR(best.tensors[i].second.at(k), best_shadow[i][k], 1e-6) << params[i].first;
      ASSERT_NEAR(ema.tensors[i].second.at(k), shadow[i][k], 1e-6) << params[i].first;
      ASSERT_EQ(last.tensors[i].second.at(k), params[i].second->data().at(k)) << params[i].first;
    }
  }
}

// train.z_loss: the trained loss is the cross-entropy plus z·mean (log Z)²; the log reports the two apart.
// Step 1's cross-entropy is the one of a run without z-loss (same weights, same batch), its z term is
// z·mean lse² of that batch's logits (double, here), and from step 2 on the runs differ (the z term's gradient).
TEST(Trainer, ZLossTrainsOnItsTermAndLogsTheCrossEntropyAndTheTermApart) {
  TrainConfig config = tiny_config();
  config.train.max_steps = 3;
  config.optim.optimizer.lr = config.optim.schedule.lr = 0.05;
  TrainerOptions options;
  options.quiet = true;
  auto run = [&](double z, const std::string& name) {
    TempDir dir;
    TrainConfig c = config;
    c.train.z_loss = z;
    Task task = tiny_task(c);
    std::vector<StepInfo> steps;
    TrainerCallbacks callbacks;
    callbacks.after_step = [&](const StepInfo& s) { steps.push_back(s); };
    Trainer(c, task, RunDir(dir.path(name)), options, callbacks).run();
    return steps;
  };
  const std::vector<StepInfo> plain = run(0.0, "plain"), with_z = run(0.1, "z");
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_EQ(with_z.size(), 3u);
  EXPECT_TRUE(std::isnan(plain[0].z_loss));
  EXPECT_EQ(with_z[0].loss, plain[0].loss);
  EXPECT_NE(with_z[1].loss, plain[1].loss);
  Task copy = tiny_task(config);
  const Batch first = copy.data->next();
  NoGradGuard no_grad;
  const Tensor logits = dynamic_cast<LanguageModel&>(*copy.model).forward(first.input).data();
  const int64_t V = logits.shape().last(), rows = logits.numel() / V;
  double lse_sq = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t j = 0; j < V; ++j) sum += std::exp(static_cast<double>(logits.at(r * V + j)));
    lse_sq += std::log(sum) * std::log(sum);
  }
  EXPECT_NEAR(with_z[0].z_loss, 0.1 * lse_sq / static_cast<double>(rows), 1e-6);
}

TEST(Trainer, ATaskWithoutAModelIsAnError) {
  TempDir dir;
  const TrainConfig config = tiny_config();
  Task task = tiny_task(config);
  task.model.reset();
  EXPECT_CONTAINS(error_message([&] { Trainer(config, task, RunDir(dir.path("run"))); }), "needs a tokenizer, a model");
}

}  // namespace
}  // namespace tfm

// train_from_cpp RUN_DIR: trains a small character-level language model on a
// text generated here, with tfm's Trainer driven from C++ alone: the model,
// the data and the settings are built in code, a callback watches the steps
// and stops the run once the loss is low enough, then the model is saved,
// reloaded and checked to score the same validation loss.
#include <cmath>
#include <cstdio>
#include <string>

#include "models/checkpoint.h"
#include "models/lm.h"
#include "tools/data/train_data.h"
#include "tools/text/tokenizer.h"
#include "tools/train/trainer.h"

namespace {

// A text with structure to learn: counting words, one line each.
std::string counting_text(int lines) {
  const char* words[] = {"one", "two", "three", "four", "five", "six", "seven", "eight"};
  std::string text;
  for (int i = 0; i < lines; ++i) {
    for (int j = 0; j < 4; ++j) text += std::string(words[(i + j) % 8]) + (j < 3 ? " " : ".\n");
  }
  return text;
}

int run(const std::string& run_dir) {
  // Data: a char tokenizer trained on the text, 90% / 10% train / validation ids.
  tfm::Task task;
  const std::string text = counting_text(400);
  task.tokenizer = tfm::Tokenizer::train(tfm::TokenizerConfig{}, text);
  std::vector<int32_t> ids = task.tokenizer->encode(text);
  const size_t n_train = ids.size() * 9 / 10;
  std::vector<int32_t> val(ids.begin() + static_cast<std::ptrdiff_t>(n_train), ids.end());
  ids.resize(n_train);

  // The model, in code.
  tfm::LmConfig lm;
  lm.n_layer = 2, lm.n_head = 2, lm.d_model = 32, lm.d_ff = 64, lm.seq_len = 32;
  lm.vocab_size = task.tokenizer->vocab_size();
  task.model = std::make_unique<tfm::LanguageModel>(lm);
  tfm::Generator init(7);
  task.model->init_weights(init);

  // Settings: the config's defaults, changed in code.
  tfm::TrainConfig config;
  config.train.batch_size = 8;
  config.train.max_steps = 400;
  config.train.eval_every = 50;
  config.train.eval_batches = 4;
  config.train.checkpoint_every = 100;
  config.optim.optimizer.lr = 3e-3;
  config.optim.schedule.lr = 3e-3;
  task.data = std::make_unique<tfm::LmTrainData>(tfm::LmData(ids, val, lm.seq_len), config.train.batch_size,
                                                 config.train.seed, config.train.eval_batches);

  // A callback that stops early, and one that records the last validation loss.
  int steps_seen = 0;
  double last_val = NAN;
  tfm::TrainerCallbacks callbacks;
  callbacks.after_step = [&](const tfm::StepInfo&) { ++steps_seen; };
  callbacks.after_eval = [&](const tfm::EvalInfo& e) { last_val = e.val_loss; };
  callbacks.should_stop = [&] { return last_val < 1.0; };
  tfm::TrainerOptions options;
  options.quiet = true;
  tfm::Trainer trainer(config, task, tfm::RunDir(run_dir), options, callbacks);
  const tfm::TrainSummary summary = trainer.run();
  std::printf("trained %lld steps (callback saw %d), validation loss %.4f\n", static_cast<long long>(summary.steps),
              steps_seen, last_val);
  if (steps_seen != summary.steps) return 1;

  // Save, reload, and score the same validation batches.
  const std::string path = run_dir + "/model.safetensors";
  tfm::save_checkpoint(path, *task.model, task.tokenizer->to_json());
  tfm::LoadedModel loaded = tfm::load_checkpoint(path);
  tfm::NoGradGuard no_grad;
  task.model->eval();
  loaded.model->eval();
  double before = 0.0, after = 0.0;
  for (const tfm::Batch& b : task.data->validation()) {
    before += task.model->loss(b).item();
    after += loaded.model->loss(b).item();
  }
  std::printf("reloaded: validation loss %.6f before, %.6f after\n", before, after);
  return before == after && last_val < 1.0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: train_from_cpp RUN_DIR\n");
    return 2;
  }
  try {
    return run(argv[1]);
  } catch (const tfm::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

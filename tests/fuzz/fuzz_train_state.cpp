// load_train_state, the reader of checkpoints/last.state.safetensors that
// `tfm train --resume RUN_DIR` continues from, into the model and optimizer of
// the seed run (corpus/train_state/: a tiny char-level LM trained with AdamW,
// its config below). What loads must hold counters a run can continue from:
// no negative step, token or optimizer step count, a finite elapsed time.
#include <cmath>

#include "fuzz.h"
#include "tools/train/train_state.h"

namespace tfm::fuzz {

// The model of the seed run (tests/fuzz/README.md shows the command).
inline constexpr const char* kTrainStateModel =
    R"({"type": "lm", "n_layer": 1, "n_head": 1, "d_model": 4, "d_ff": 4, "seq_len": 4, "vocab_size": 4})";

void train_state(std::string_view input) {
  static const std::unique_ptr<Model> model = ModelRegistry::create(nlohmann::json::parse(kTrainStateModel));
  static const NamedParameters params = model->named_parameters();
  const std::unique_ptr<Optimizer> optimizer = make_optimizer(params, OptimizerConfig{});
  const std::string path = scratch_file("last.state.safetensors", input);
  const TrainState state = load_train_state(path, *model, *optimizer);
  TFM_FUZZ_EXPECT(optimizer->steps() >= 0, "negative optimizer step count ", optimizer->steps());
  TFM_FUZZ_EXPECT(state.step >= 0 && state.tokens >= 0 && state.decay_steps >= 0, "negative counters: step ",
                  state.step, ", tokens ", state.tokens, ", decay_steps ", state.decay_steps);
  TFM_FUZZ_EXPECT(std::isfinite(state.elapsed) && state.elapsed >= 0, "elapsed time ", state.elapsed);
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::train_state)

// custom_train CONFIG [--set key=value ...] [--out RUN_DIR]: tfm's trainer,
// linked with this project's own layer (gated_feed_forward.cpp registers it).
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/train/trainer.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: custom_train CONFIG [--set key=value ...] [--out RUN_DIR]\n");
    return 2;
  }
  tfm::TrainOptions options;
  options.config_path = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--set") == 0) options.overrides.push_back(argv[i + 1]);
    else if (std::strcmp(argv[i], "--out") == 0) options.out_dir = argv[i + 1];
  }
  try {
    tfm::TrainSummary s = tfm::run_training(options);
    std::printf("best val loss: %.4f after %lld steps\n", s.best_val_loss, static_cast<long long>(s.steps));
    return 0;
  } catch (const tfm::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

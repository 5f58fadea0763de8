#pragma once
// --precision of perplexity, generate and translate: while alive, the GEMMs run
// in the chosen precision (tools/train/train_precision.h) and each weight is converted
// to bf16 once (the weights never change during inference).
#include <CLI/CLI.hpp>

#include <string>

#include "core/precision.h"

namespace tfm::cli {

void add_precision_option(CLI::App* cmd, std::string& setting);

class InferencePrecision {
 public:
  explicit InferencePrecision(const std::string& setting);  // prints a warning where bf16 is slower

 private:
  PrecisionScope scope_;
  Bf16WeightCache weights_;
};

}  // namespace tfm::cli

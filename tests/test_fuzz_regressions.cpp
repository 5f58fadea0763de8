// The fuzz targets' entry points (tests/fuzz/fuzz_*.cpp, linked here without
// libFuzzer) under the normal build: every seed of tests/fuzz/corpus/ does what
// its name says (valid_*: loads, near_*: a tfm::Error), and every input that
// once crashed a target (tests/fuzz/regressions/<target>/, or built inline
// when large) now ends in a clean tfm::Error that says what is wrong.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/checksum.h"
#include "fuzz.h"
#include "test_util.h"
#include "tools/train/train_config.h"

namespace tfm {
namespace {

namespace fs = std::filesystem;
using Target = std::function<void(std::string_view)>;

const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> t = {
      {"safetensors", fuzz::safetensors},   {"checkpoint", fuzz::checkpoint}, {"train_state", fuzz::train_state},
      {"train_config", fuzz::train_config}, {"tokenizer", fuzz::tokenizer},   {"text_data", fuzz::text_data},
      {"parallel_data", fuzz::parallel_data}, {"bleu", fuzz::bleu}};
  return t;
}

const fs::path kFuzzDir = fs::path(TFM_SOURCE_DIR) / "tests" / "fuzz";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The tfm::Error message of target(input), or a failure naming what happened instead.
std::string error_of(const std::string& target, const std::string& input) {
  try {
    targets().at(target)(input);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << target << ": expected tfm::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << target << ": expected tfm::Error, the input was accepted";
  return "";
}

std::string regression(const std::string& target, const std::string& name) {
  return read_bytes(kFuzzDir / "regressions" / target / name);
}
std::string seed(const std::string& target, const std::string& name) {
  return read_bytes(kFuzzDir / "corpus" / target / name);
}

class FuzzSeeds : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzSeeds, ValidSeedsLoadAndNearValidSeedsFailWithTfmError) {
  const std::string target = GetParam();
  int valid = 0, near = 0;
  for (const auto& entry : fs::directory_iterator(kFuzzDir / "corpus" / target)) {
    const std::string name = entry.path().filename().string();
    const std::string input = read_bytes(entry.path());
    SCOPED_TRACE(target + "/" + name);
    if (name.starts_with("valid_")) {
      ++valid;
      try {
        targets().at(target)(input);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "a valid seed failed: " << e.what();
      }
    } else {
      ASSERT_TRUE(name.starts_with("near_")) << "seed names start with valid_ or near_";
      ++near;
      EXPECT_FALSE(error_of(target, input).empty());
    }
  }
  EXPECT_GE(valid, 1) << "no valid seed for " << target;
  EXPECT_GE(near, 1) << "no near-valid seed for " << target;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzSeeds,
                         ::testing::Values("safetensors", "checkpoint", "train_state", "train_config", "tokenizer",
                                           "text_data", "parallel_data", "bleu"),
                         [](const auto& info) { return info.param; });

// A header of n bytes followed by nothing: the safetensors framing.
std::string safetensors_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 255);
  return out + header + data;
}

// Known before fuzzing (the lead's fix, core/config.cpp check_json_bounds):
// JSON nested 100000 deep overflowed the stack in nlohmann's recursive parser.
TEST(FuzzRegressions, DeeplyNestedSafetensorsHeaderIsRefusedBeforeParsing) {
  const std::string header = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_CONTAINS(error_of("safetensors", safetensors_file(header)), "JSON nests deeper than 64 levels at byte 68");
}

TEST(FuzzRegressions, DeeplyNestedCheckpointConfigIsRefusedBeforeParsing) {
  const std::string config = std::string(100000, '[') + std::string(100000, ']');
  nlohmann::json header = {{"__metadata__", {{"config", config}, {"format", "tfm"}}}};
  const std::string message = error_of("checkpoint", safetensors_file(header.dump()));
  EXPECT_CONTAINS(message, "(__metadata__.config): JSON nests deeper than 64 levels at byte 64");
}

uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(file[i])) << (8 * i);
  return n;
}

// A safetensors file with its header rewritten by edit(header, data); the
// checksum of every tensor is recomputed from the (possibly edited) data.
std::string edit_safetensors(const std::string& file, const std::function<void(nlohmann::json&, std::string&)>& edit) {
  const uint64_t n = header_length(file);
  nlohmann::json header = nlohmann::json::parse(file.substr(8, n));
  std::string data = file.substr(8 + n);
  edit(header, data);
  nlohmann::json sums = nlohmann::json::object();
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const uint64_t begin = info["data_offsets"][0], end = info["data_offsets"][1];
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", crc32c(data.data() + begin, end - begin));
    sums[name] = hex;
  }
  header["__metadata__"]["crc32c"] = sums.dump();
  return safetensors_file(header.dump(), data);
}

// Found by the seeds (fuzz_train_state, near_no_tokens): a field missing from
// train_state escaped as nlohmann's out_of_range from `m.at("tokens")`.
TEST(FuzzRegressions, TrainStateWithoutAFieldNamesIt) {
  EXPECT_CONTAINS(error_of("train_state", seed("train_state", "near_no_tokens")),
                  ": __metadata__.train_state has no \"tokens\"");
}

// data_rng [1]: `m.at("data_rng")[1]` indexed past the array (undefined
// behaviour; nlohmann's assertion in the fuzz build).
TEST(FuzzRegressions, TrainStateWithAShortRngPairIsAnError) {
  EXPECT_CONTAINS(error_of("train_state", seed("train_state", "near_short_rng")),
                  "train_state.data_rng must be [seed, offset], two non-negative integers, found [1]");
}

TEST(FuzzRegressions, TrainStateWithNegativeOrNonIntegerCountersIsAnError) {
  const std::string valid = seed("train_state", "valid_tiny_run_step2");
  auto with_state = [&](const std::string& key, const nlohmann::json& value) {
    return edit_safetensors(valid, [&](nlohmann::json& header, std::string&) {
      nlohmann::json state = nlohmann::json::parse(header["__metadata__"]["train_state"].get<std::string>());
      state[key] = value;
      header["__metadata__"]["train_state"] = state.dump();
    });
  };
  EXPECT_CONTAINS(error_of("train_state", with_state("step", -3)), "train_state.step must be a non-negative integer, found -3");
  EXPECT_CONTAINS(error_of("train_state", with_state("tokens", "16")), "train_state.tokens must be a non-negative integer, found \"16\"");
  EXPECT_CONTAINS(error_of("train_state", with_state("elapsed", -1.0)), "train_state.elapsed must be a number in [0, ");
  EXPECT_CONTAINS(error_of("train_state", with_state("dropout_rng", {1, -2})), "train_state.dropout_rng must be [seed, offset]");
  // Unchanged, the edited file still loads: the errors above come from the edited field alone.
  targets().at("train_state")(with_state("step", 2));
}

// optimizer.steps of shape [0]: Optimizer::load_state read element 0 of an
// empty tensor (optim/optimizer.cpp); a negative count went into Adam's bias
// correction.
TEST(FuzzRegressions, OptimizerStepsMustBeOneNonNegativeCount) {
  const std::string valid = seed("train_state", "valid_tiny_run_step2");
  const std::string empty = edit_safetensors(valid, [](nlohmann::json& header, std::string&) {
    const uint64_t begin = header["optimizer.steps"]["data_offsets"][0];
    header["optimizer.steps"]["shape"] = {0};
    header["optimizer.steps"]["data_offsets"] = {begin, begin};
  });
  EXPECT_CONTAINS(error_of("train_state", empty), "optimizer.steps must hold one non-negative I32 count, found [0]");
  const std::string negative = edit_safetensors(valid, [](nlohmann::json& header, std::string& data) {
    const uint64_t begin = header["optimizer.steps"]["data_offsets"][0];
    const int32_t steps = -5;
    std::memcpy(data.data() + begin, &steps, 4);
  });
  EXPECT_CONTAINS(error_of("train_state", negative), "optimizer.steps must hold one non-negative I32 count, found [1] = -5");
}

// fuzz_tokenizer, 60 s: a SentencePiece model without an eos piece loaded, and
// encode() ended each line with id -1, outside every vocabulary.
TEST(FuzzRegressions, SentencePieceModelWithoutEosIsRefused) {
  EXPECT_CONTAINS(error_of("tokenizer", regression("tokenizer", "sentencepiece_without_eos")),
                  "sentencepiece: the model has no end-of-sentence piece (eos_id -1)");
}

// fuzz_tokenizer, 5 min (1.1 M runs): a unigram model with an empty piece
// made libsentencepiece's trie builder (darts-clone) throw
// Darts::Details::Exception out of LoadFromSerializedProto.
TEST(FuzzRegressions, SentencePieceModelWithAnEmptyPieceIsAnError) {
  const std::string message = error_of("tokenizer", regression("tokenizer", "unigram_empty_piece"));
  EXPECT_CONTAINS(message, "sentencepiece: cannot load model: ");
  EXPECT_CONTAINS(message, "zero-length key");
}

// fuzz_train_config, 13 s: `--set model.attention=<byte 0x89>` stored the
// invalid UTF-8 as a string; the attention config's error message dump()ed it
// and nlohmann's type_error 316 escaped.
TEST(FuzzRegressions, SetWithInvalidUtf8IsRefused) {
  EXPECT_CONTAINS(error_of("train_config", regression("train_config", "set_value_invalid_utf8")),
                  "--set model.attention: the assignment is not valid UTF-8");
}

// fuzz_train_config, CI's fixed-time smoke: `--set train.batch_size=3e86`
// converted a double beyond 2^63 to int64_t in ConfigReader::get_int, which is
// undefined behaviour (UBSan: "outside the range of representable values").
TEST(FuzzRegressions, IntegerBeyondInt64IsOutOfRange) {
  EXPECT_CONTAINS(error_of("train_config", regression("train_config", "set_integer_beyond_int64")),
                  "config: train.batch_size: 3e+86 is out of range [1, ");
}

// fuzz_train_config's round trip on the seed valid_transformer: the resolved
// config (the run's config.json) of token-count batches held batch_size 12
// beside batch_tokens, which parse refuses ("set train.batch_tokens or
// train.batch_size, not both"), so config.json was not a valid config.
TEST(FuzzRegressions, ResolvedConfigOfTokenCountBatchesParsesAgain) {
  const nlohmann::json config = {
      {"model", {{"type", "transformer"}}},
      {"data", {{"train", {{"source", "a"}, {"target", "b"}}}, {"val", {{"source", "c"}, {"target", "d"}}}}},
      {"train", {{"batch_tokens", 512}}}};
  const TrainConfig c = TrainConfig::parse(config);
  EXPECT_EQ(c.resolved["train"]["batch_tokens"], 512);
  EXPECT_FALSE(c.resolved["train"].contains("batch_size"));
  EXPECT_EQ(TrainConfig::parse(c.resolved).resolved, c.resolved);
}

}  // namespace
}  // namespace tfm

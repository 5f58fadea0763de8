// core/config: ConfigReader type and range checks with key paths, unknown
// keys with the nearest valid key, and JSON syntax errors with line:column.
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

const nlohmann::json kTrain = nlohmann::json::parse(R"({
  "steps": 100, "lr": 3e-4, "warmup": 10.0, "half": 2.5, "flag": true, "name": "adamw",
  "files": ["a.txt", "b.txt"], "one_file": "c.txt", "betas": [0.9, 0.95], "nested": {"x": 1}
})");

TEST(ConfigReader, ReadsTypedValuesAndFallsBackWhenAbsent) {
  ConfigReader r(kTrain, "train");
  EXPECT_EQ(r.get_int("steps", 0, 1, 1000), 100);
  EXPECT_EQ(r.get_int("warmup", 0, 0, 100), 10);  // an integral float is an integer
  EXPECT_EQ(r.get_int("absent", 42, 0, 100), 42);
  EXPECT_DOUBLE_EQ(r.get_number("lr", 0.0, 0.0, 1.0), 3e-4);
  EXPECT_DOUBLE_EQ(r.get_number("steps", 0.0, 0.0, 1e9), 100.0);
  EXPECT_TRUE(r.get_bool("flag", false));
  EXPECT_EQ(r.get_string("name", "sgd", {"sgd", "adamw"}), "adamw");
  EXPECT_EQ(r.get_strings("files", {}), (std::vector<std::string>{"a.txt", "b.txt"}));
  EXPECT_EQ(r.get_strings("one_file", {}), (std::vector<std::string>{"c.txt"}));
  EXPECT_EQ(r.get_numbers("betas", {}, 0.0, 1.0), (std::vector<double>{0.9, 0.95}));
  EXPECT_EQ(r.get_json("nested")["x"], 1);
  EXPECT_TRUE(r.get_json("missing").is_null());
  EXPECT_TRUE(r.has("half"));
  EXPECT_FALSE(r.has("missing"));
  r.accept("half");
  EXPECT_NO_THROW(r.finish());
  EXPECT_EQ(r.key_path("lr"), "train.lr");
  EXPECT_EQ(ConfigReader(kTrain, "").key_path("lr"), "lr");
  static_assert(!std::is_constructible_v<ConfigReader, nlohmann::json&&, std::string>,
                "a reader of a temporary would dangle");
}

TEST(ConfigReader, WrongTypesNameTheKeyPathAndValue) {
  ConfigReader r(kTrain, "train");
  EXPECT_CONTAINS(error_message([&] { r.get_int("half", 0, 0, 10); }),
                  "config: train.half: expected an integer, found 2.5");
  EXPECT_CONTAINS(error_message([&] { r.get_int("name", 0, 0, 10); }),
                  "train.name: expected an integer, found \"adamw\"");
  EXPECT_CONTAINS(error_message([&] { r.get_int("flag", 0, 0, 10); }), "train.flag: expected an integer, found true");
  EXPECT_CONTAINS(error_message([&] { r.get_number("flag", 0, 0, 10); }), "train.flag: expected a number, found true");
  EXPECT_CONTAINS(error_message([&] { r.get_bool("steps", false); }), "train.steps: expected true or false, found 100");
  EXPECT_CONTAINS(error_message([&] { r.get_string("steps", ""); }), "train.steps: expected a string, found 100");
  EXPECT_CONTAINS(error_message([&] { r.get_strings("betas", {}); }), "train.betas: expected strings, found 0.9");
  EXPECT_CONTAINS(error_message([&] { r.get_numbers("files", {}, 0, 1); }),
                  "train.files: expected numbers, found \"a.txt\"");
  EXPECT_CONTAINS(error_message([&] { r.get_numbers("steps", {}, 0, 1); }), "train.steps: expected a list of numbers");
  const nlohmann::json array = nlohmann::json::array();
  EXPECT_CONTAINS(error_message([&] { ConfigReader bad(array, "model"); }),
                  "config: model must be a JSON object, found []");
}

TEST(ConfigReader, OutOfRangeValuesGiveTheAllowedRange) {
  ConfigReader r(kTrain, "train");
  EXPECT_CONTAINS(error_message([&] { r.get_int("steps", 0, 1, 50); }),
                  "config: train.steps: 100 is out of range [1, 50]");
  EXPECT_CONTAINS(error_message([&] { r.get_number("lr", 0, 0.001, 1.0); }),
                  "train.lr: 0.0003 is out of range [0.001, 1]");
  EXPECT_CONTAINS(error_message([&] { r.get_numbers("betas", {}, 0.0, 0.92); }), "train.betas: 0.95 is out of range");
  EXPECT_CONTAINS(error_message([&] { r.require_int("epochs", 1, 10); }), "config: missing required key train.epochs");
  EXPECT_EQ(r.require_int("steps", 1, 1000), 100);
}

// A number no int64_t holds is out of range, whatever JSON type it parsed to:
// a double far beyond 2^63 (converting it would be undefined behaviour, a
// fuzz finding), a double just past it, and an unsigned integer over INT64_MAX
// (which converts to a negative number). The message quotes the value as written.
TEST(ConfigReader, IntegersNoInt64HoldsAreOutOfRange) {
  const nlohmann::json j = nlohmann::json::parse(
      R"({"huge": 3e86, "edge": 9223372036854775808.0, "unsigned": 18446744073709551615,
          "max": 9223372036854775807, "min": -9223372036854775808, "float_min": -9223372036854775808.0})");
  ConfigReader r(j, "train");
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  EXPECT_CONTAINS(error_message([&] { r.get_int("huge", 0, lo, hi); }), "config: train.huge: 3e+86 is out of range");
  EXPECT_CONTAINS(error_message([&] { r.get_int("edge", 0, lo, hi); }), "train.edge: 9.223372036854776e+18 is out of range");
  EXPECT_CONTAINS(error_message([&] { r.get_int("unsigned", 0, lo, hi); }),
                  "train.unsigned: 18446744073709551615 is out of range [-9223372036854775808, 9223372036854775807]");
  EXPECT_CONTAINS(error_message([&] { r.get_int("unsigned", 0, 0, 10); }), "is out of range [0, 10]");
  EXPECT_EQ(r.get_int("max", 0, lo, hi), hi);
  EXPECT_EQ(r.get_int("min", 0, lo, hi), lo);
  EXPECT_EQ(r.get_int("float_min", 0, lo, hi), lo);
  EXPECT_CONTAINS(error_message([&] { r.get_int("max", 0, 0, 10); }), "train.max: 9223372036854775807 is out of range");
}

TEST(ConfigReader, DisallowedStringSuggestsTheNearestAllowedValue) {
  const nlohmann::json j = {{"optimizer", "adamv"}, {"schedule", "zigzag"}};
  ConfigReader r(j, "train");
  EXPECT_CONTAINS(error_message([&] { r.get_string("optimizer", "", {"sgd", "adam", "adamw"}); }),
                  "train.optimizer: \"adamv\" is not one of: sgd, adam, adamw (did you mean \"adam");
  const std::string far = error_message([&] { r.get_string("schedule", "", {"cosine", "linear"}); });
  EXPECT_CONTAINS(far, "\"zigzag\" is not one of: cosine, linear");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST(ConfigReader, UnknownKeysSuggestTheNearestKnownKey) {
  const nlohmann::json j = {{"d_model", 8}, {"n_haed", 2}};
  ConfigReader r(j, "model");
  r.get_int("d_model", 0, 1, 100);
  r.get_int("n_head", 4, 1, 100);
  EXPECT_CONTAINS(error_message([&] { r.finish(); }), "config: unknown key model.n_haed (did you mean model.n_head?)");
  const nlohmann::json unrelated = {{"completely_unrelated", 1}};
  ConfigReader far(unrelated, "model");
  far.get_int("d_model", 0, 1, 100);
  const std::string msg = error_message([&] { far.finish(); });
  EXPECT_CONTAINS(msg, "unknown key model.completely_unrelated");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
  // A null object (section absent) has no unknown keys.
  const nlohmann::json absent;
  ConfigReader empty(absent, "eval");
  EXPECT_EQ(empty.get_int("every", 5, 1, 10), 5);
  EXPECT_NO_THROW(empty.finish());
}

TEST(ConfigReader, EditDistanceAndNearest) {
  EXPECT_EQ(edit_distance("", ""), 0);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(edit_distance("d_modle", "d_model"), 2);
  EXPECT_EQ(edit_distance("abc", ""), 3);
  EXPECT_EQ(nearest("d_modle", {"n_head", "d_model", "d_ff"}), "d_model");
  EXPECT_EQ(nearest("lr", {"learning_rate"}), "");
  EXPECT_EQ(nearest("x", {}), "");
}

TEST(ConfigJson, SyntaxErrorsGiveLineAndColumn) {
  // Line 3, column 8 is the ']' where a value should be.
  EXPECT_CONTAINS(error_message([] { parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "cfg.json"); }),
                  "cfg.json:3:8: JSON ");
  EXPECT_CONTAINS(error_message([] { parse_json("{\"a\" 1}", "one_line.json"); }), "one_line.json:1:6:");
  const std::string trailing = error_message([] { parse_json("{\"a\": 1,\n}", "trailing.json"); });
  EXPECT_CONTAINS(trailing, "trailing.json:2:1:");
  EXPECT_CONTAINS(trailing, "syntax error");
  EXPECT_EQ(parse_json("{\"a\": [1, 2]}", "ok.json")["a"][1], 2);
}

TEST(ConfigJson, ReadJsonFileNamesThePath) {
  const std::string dir = ::testing::TempDir();
  const std::string good = dir + "/tfm_config_test_good.json", bad = dir + "/tfm_config_test_bad.json";
  write_file_atomic(good, std::string("{\"model\": {\"type\": \"lm\"}}"));
  write_file_atomic(bad, std::string("{\n\n  \"model\": {,\n}"));
  EXPECT_EQ(read_json_file(good)["model"]["type"], "lm");
  EXPECT_CONTAINS(error_message([&] { read_json_file(bad); }), bad + ":3:13:");
  EXPECT_CONTAINS(error_message([&] { read_json_file(dir + "/tfm_config_test_absent.json"); }), "cannot open");
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

TEST(ConfigJson, NestingAndSizeAreBoundedBeforeParsing) {
  // 64 levels parse; 65 do not, and the error gives the byte and the line of the 65th bracket.
  EXPECT_NO_THROW(parse_json(std::string(64, '[') + std::string(64, ']'), "ok.json"));
  const std::string deep = "{\"a\":\n" + std::string(64, '[') + std::string(64, ']') + "}";
  const std::string e = error_message([&] { parse_json(deep, "deep.json"); });
  EXPECT_CONTAINS(e, "deep.json: JSON nests deeper than 64 levels at byte 69 (line 2)");
  // Brackets inside strings, escaped quotes included, are not nesting.
  EXPECT_NO_THROW(parse_json("{\"s\": \"\\\"" + std::string(100, '[') + "\"}", "strings.json"));
  EXPECT_CONTAINS(error_message([] { check_json_bounds("[1, 2, 3]", "small.json", 8); }),
                  "small.json: JSON text of 9 bytes exceeds the limit of 8 bytes");
  EXPECT_NO_THROW(check_json_bounds("[[1]]", "two.json", 100, 2));
  EXPECT_CONTAINS(error_message([] { check_json_bounds("[[[1]]]", "three.json", 100, 2); }), "deeper than 2 levels");
  // A number out of range is a tfm::Error, not an escaping nlohmann exception.
  EXPECT_CONTAINS(error_message([] { parse_json("{\"x\": 1e999}", "big.json"); }), "big.json");
}

}  // namespace
}  // namespace tfm

// tools/report/config_diff.h: configs flattened to dotted paths; exactly the
// keys whose values differ (nested, array elements, missing in one run).
#include <gtest/gtest.h>

#include "tools/report/config_diff.h"

namespace tfm::report {
namespace {

TEST(ReportConfigDiff, FlattensNestedObjectsAndArrays) {
  const auto flat = flatten_config({{"model", {{"d_model", 128}, {"attention", {{"type", "local"}}}}},
                                    {"data", {{"train", {"a.txt", "b.txt"}}, {"val", nlohmann::json::array()}}}});
  EXPECT_EQ(flat, (std::map<std::string, std::string>{{"data.train.0", "\"a.txt\""},
                                                      {"data.train.1", "\"b.txt\""},
                                                      {"data.val", "[]"},
                                                      {"model.attention.type", "\"local\""},
                                                      {"model.d_model", "128"}}));
}

TEST(ReportConfigDiff, ListsExactlyTheKeysThatDiffer) {
  const nlohmann::json a = {{"model", {{"d_model", 128}, {"attention", {{"type", "global"}, {"window", 3}}}}},
                            {"optim", {{"lr", 0.002}, {"betas", {0.9, 0.99}}}},
                            {"train", {{"seed", 1}}}};
  nlohmann::json b = a;
  b["model"]["attention"]["type"] = "local";
  b["optim"]["lr"] = 0.0005;
  b["optim"]["betas"][1] = 0.95;
  b["train"]["max_time"] = 60;
  EXPECT_EQ(differing_keys({flatten_config(a), flatten_config(b)}),
            (std::vector<std::string>{"model.attention.type", "optim.betas.1", "optim.lr", "train.max_time"}));
  EXPECT_TRUE(differing_keys({flatten_config(a), flatten_config(a)}).empty());
  EXPECT_TRUE(differing_keys({flatten_config(a)}).empty());  // one run: nothing to compare
  // A third run differing in one more key adds just that key.
  nlohmann::json c = b;
  c["train"]["seed"] = 2;
  EXPECT_EQ(differing_keys({flatten_config(a), flatten_config(b), flatten_config(c)}).size(), 5u);
}

TEST(ReportConfigDiff, DisplayValueDropsStringQuotesOnly) {
  EXPECT_EQ(display_value("\"cosine\""), "cosine");
  EXPECT_EQ(display_value("0.002"), "0.002");
  EXPECT_EQ(display_value("[]"), "[]");
}

}  // namespace
}  // namespace tfm::report

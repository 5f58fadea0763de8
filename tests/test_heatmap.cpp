// tools/heatmap: the SVG has one cell per weight, shaded from white (0) to
// black (1), and every token label, escaped.
#include <regex>

#include "test_util.h"
#include "tools/eval/heatmap.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(Heatmap, OneShadedCellPerWeightAndEscapedLabels) {
  const std::vector<float> w = {1.0f, 0.0f, 0.5f, 0.25f, 0.75f, 0.0f};
  const std::string svg = attention_heatmap_svg(w, {"Ein", "<Hund>"}, {"A", "dog", "&"}, "en→de");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  const std::regex cell("<rect x=\"\\d+\" y=\"\\d+\" width=\"28\" height=\"28\" fill=\"(#[0-9a-f]{6})\"");
  std::vector<std::string> fills;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), cell); it != std::sregex_iterator(); ++it)
    fills.push_back((*it)[1]);
  ASSERT_EQ(fills.size(), 6u);
  EXPECT_EQ(fills[0], "#000000");  // weight 1: black
  EXPECT_EQ(fills[1], "#ffffff");  // weight 0: white
  EXPECT_EQ(fills[2], "#808080");  // weight 0.5: mid grey (255·0.5 rounded)
  EXPECT_CONTAINS(svg, "&lt;Hund&gt;");
  EXPECT_CONTAINS(svg, ">&amp;</text>");
  EXPECT_CONTAINS(svg, "en→de");
  EXPECT_EQ(svg.find("<Hund>"), std::string::npos);
}

TEST(Heatmap, MismatchedSizesNameBoth) {
  EXPECT_CONTAINS(error_message([] { attention_heatmap_svg({0.5f}, {"a", "b"}, {"x"}); }),
                  "1 weights for 2 target x 1 source tokens");
}

}  // namespace
}  // namespace tfm

#pragma once
// Attention heatmaps as standalone SVG: one cell per (target token, source
// token), darker for larger weights, source tokens along the top, target
// tokens down the left — the picture of Bahdanau et al. (2015) and Luong et
// al. (2015). No dependencies: any browser opens the file.
#include <string>
#include <vector>

namespace tfm {

// weights: rows = target tokens, cols = source tokens, row-major, values in [0, 1].
std::string attention_heatmap_svg(const std::vector<float>& weights, const std::vector<std::string>& target_tokens,
                                  const std::vector<std::string>& source_tokens, const std::string& title = "");

// Escapes &, <, >, " and ' for SVG text.
std::string xml_escape(const std::string& s);

}  // namespace tfm

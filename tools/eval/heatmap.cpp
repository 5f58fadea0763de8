#include "tools/eval/heatmap.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/error.h"

namespace tfm {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string attention_heatmap_svg(const std::vector<float>& w, const std::vector<std::string>& tgt,
                                  const std::vector<std::string>& src, const std::string& title) {
  const size_t rows = tgt.size(), cols = src.size();
  TFM_CHECK(rows > 0 && cols > 0 && w.size() == rows * cols, "heatmap: ", w.size(), " weights for ", rows,
            " target x ", cols, " source tokens");
  constexpr int kCell = 28, kChar = 8;
  size_t longest_src = 1, longest_tgt = 1;
  for (const auto& s : src) longest_src = std::max(longest_src, s.size());
  for (const auto& t : tgt) longest_tgt = std::max(longest_tgt, t.size());
  const int left = 16 + kChar * static_cast<int>(std::min<size_t>(longest_tgt, 24));
  const int top = 40 + kChar * static_cast<int>(std::min<size_t>(longest_src, 24));
  const int width = left + kCell * static_cast<int>(cols) + 16, height = top + kCell * static_cast<int>(rows) + 16;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!title.empty()) o << "<text x=\"8\" y=\"18\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  for (size_t c = 0; c < cols; ++c) {
    const int x = left + kCell * static_cast<int>(c) + kCell / 2 + 4, y = top - 6;
    o << "<text x=\"" << x << "\" y=\"" << y << "\" transform=\"rotate(-60 " << x << " " << y << ")\">"
      << xml_escape(src[c]) << "</text>\n";
  }
  for (size_t r = 0; r < rows; ++r) {
    o << "<text x=\"" << left - 6 << "\" y=\"" << top + kCell * static_cast<int>(r) + kCell / 2 + 4
      << "\" text-anchor=\"end\">" << xml_escape(tgt[r]) << "</text>\n";
    for (size_t c = 0; c < cols; ++c) {
      const float v = std::clamp(w[r * cols + c], 0.0f, 1.0f);
      const int shade = static_cast<int>(255.0f * (1.0f - v) + 0.5f);  // white (0) to black (1)
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", shade, shade, shade);
      o << "<rect x=\"" << left + kCell * static_cast<int>(c) << "\" y=\"" << top + kCell * static_cast<int>(r)
        << "\" width=\"" << kCell << "\" height=\"" << kCell << "\" fill=\"" << fill
        << "\" stroke=\"#dddddd\"><title>" << xml_escape(tgt[r]) << " / " << xml_escape(src[c]) << ": "
        << w[r * cols + c] << "</title></rect>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace tfm

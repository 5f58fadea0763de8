#include "tools/text/text_files.h"

#include <glob.h>

#include <filesystem>

#include "core/error.h"
#include "core/io.h"

namespace tfm {

std::vector<std::string> expand_paths(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) {
    if (p.find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      TFM_CHECK(std::filesystem::exists(p, ec), "data file not found: ", p);
      TFM_CHECK(!std::filesystem::is_directory(p, ec), "data: ", p, " is a directory, expected a file (or a glob such as ",
                p, "/*.txt)");
      out.push_back(p);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(p.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i)
        if (!std::filesystem::is_directory(g.gl_pathv[i])) matches.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    TFM_CHECK(!matches.empty(), "data: no file matches ", p);
    out.insert(out.end(), matches.begin(), matches.end());
  }
  return out;
}

std::string read_texts(const std::vector<std::string>& paths, const std::string& what) {
  std::string text;
  for (const auto& path : paths) {
    std::string t = read_file(path);
    TFM_CHECK(!t.empty(), what, " file ", path, " is empty");
    text += t;
  }
  TFM_CHECK(!text.empty(), what, ": no text");
  return text;
}

std::vector<std::string> read_lines(const std::vector<std::string>& paths, const std::string& what) {
  std::vector<std::string> lines;
  for (const auto& path : paths) {
    const std::string text = read_file(path);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      std::string line = text.substr(pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
      pos = eol + 1;
    }
  }
  TFM_CHECK(!lines.empty(), what, ": no lines");
  return lines;
}

std::string join_lines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string out;
  for (const auto* v : {&a, &b})
    for (const auto& line : *v) out += line + "\n";
  return out;
}

}  // namespace tfm

#pragma once
// Reading text corpora: file lists and globs, whole texts, lines.
#include <string>
#include <vector>

namespace tfm {

// Expands globs (sorted matches); throws naming the pattern when nothing
// matches, a file is missing or a directory.
std::vector<std::string> expand_paths(const std::vector<std::string>& patterns);
// Concatenated contents; throws on an empty result.
std::string read_texts(const std::vector<std::string>& paths, const std::string& what);
// The lines of the files, concatenated; a missing final newline is fine, a
// trailing \r is dropped. Throws on an empty result.
std::vector<std::string> read_lines(const std::vector<std::string>& paths, const std::string& what);
// The lines of a and then b, each ending in a newline (tokenizer training text).
std::string join_lines(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace tfm

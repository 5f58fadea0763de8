#pragma once
// Files users depend on are written atomically: the bytes go to a temporary
// file beside the target, which is fsync'ed and renamed over it (then the
// directory is fsync'ed), so a crash leaves either the old or the new file.
#include <functional>
#include <ostream>
#include <string>

namespace tfm {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& contents);
// Whole file; throws tfm::Error naming the path when missing, a directory or unreadable.
std::string read_file(const std::string& path);

}  // namespace tfm

#include "core/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace tfm {
namespace {

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  TFM_CHECK(fs::is_directory(dir), "cannot write ", path, ": directory ", dir.string(), " does not exist");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TFM_CHECK(out.good(), "cannot write ", tmp, ": ", std::strerror(errno));
    write(out);
    out.flush();
    if (!out.good()) {
      out.close();
      std::remove(tmp.c_str());
      TFM_FAIL("cannot write ", tmp, ": write failed (disk full?)");
    }
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    TFM_FAIL("cannot rename ", tmp, " to ", path, ": ", err);
  }
  fsync_path(dir.string(), true);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

std::string read_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  TFM_CHECK(fs::exists(path, ec), "file not found: ", path);
  TFM_CHECK(!fs::is_directory(path, ec), path, " is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  TFM_CHECK(in.good(), "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tfm

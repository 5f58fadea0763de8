#include "core/io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace tfm {
namespace {

// fsync of a file or directory; 0 or the errno of the failure.
int fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return errno;
  const int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

// The test hook TFM_FAULT_INJECT=KIND:PATH_SUBSTRING:N (core/io.h), parsed on the first atomic write.
enum class Fault { kNone, kWriteFail, kNoSpace, kDie };

struct FaultPlan {
  Fault kind = Fault::kNone;
  std::string spec, path_substring;
  int64_t nth = 0;
  std::atomic<int64_t> matched{0};  // atomic writes so far whose path contains path_substring

  explicit FaultPlan(const char* value) {
    if (value == nullptr || *value == '\0') return;
    spec = value;
    auto bad = [&](const std::string& why) {
      TFM_FAIL("TFM_FAULT_INJECT=\"", spec, "\": ", why,
               "; expected KIND:PATH_SUBSTRING:N with KIND write_fail, enospc or die and N >= 1 (the Nth atomic "
               "write whose path contains PATH_SUBSTRING), e.g. write_fail:last.state:2");
    };
    const size_t first = spec.find(':'), last = spec.rfind(':');
    if (first == std::string::npos || first == last) bad("found fewer than three ':'-separated fields");
    const std::string kind_name = spec.substr(0, first), count = spec.substr(last + 1);
    path_substring = spec.substr(first + 1, last - first - 1);
    if (kind_name == "write_fail") kind = Fault::kWriteFail;
    else if (kind_name == "enospc") kind = Fault::kNoSpace;
    else if (kind_name == "die") kind = Fault::kDie;
    else bad("unknown KIND \"" + kind_name + "\"");
    if (path_substring.empty()) bad("PATH_SUBSTRING is empty");
    if (count.empty() || count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(count) < 1)
      bad("N \"" + count + "\" is not a whole number >= 1");
    nth = std::stoll(count);
  }
  // Whether this write of `path` is the one to break; counts it when it matches.
  bool strikes(const std::string& path) {
    return kind != Fault::kNone && path.find(path_substring) != std::string::npos && ++matched == nth;
  }
};

FaultPlan& fault_plan() {
  static FaultPlan plan(std::getenv("TFM_FAULT_INJECT"));
  return plan;
}

// An injected fault: half of the file's bytes reach the temporary file, then the
// disk "fails" (the errno to report) or the process is killed before the rename.
int write_part_then_fail(std::ofstream& out, const std::function<void(std::ostream&)>& write, Fault kind) {
  std::ostringstream buffer;
  write(buffer);
  const std::string bytes = buffer.str();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  out.flush();
  if (kind == Fault::kDie) ::kill(::getpid(), SIGKILL);
  out.setstate(std::ios::badbit);
  return kind == Fault::kNoSpace ? ENOSPC : EIO;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  FaultPlan& faults = fault_plan();
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  TFM_CHECK(fs::is_directory(dir), "cannot write ", path, ": directory ", dir.string(), " does not exist");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const bool injected = faults.strikes(path);
  int write_error = 0;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TFM_CHECK(out.good(), "cannot write ", tmp, ": ", std::strerror(errno));
    errno = 0;
    if (injected) {
      write_error = write_part_then_fail(out, write, faults.kind);
    } else {
      try {
        write(out);
      } catch (...) {
        out.close();
        std::remove(tmp.c_str());
        throw;
      }
      out.flush();
      if (!out.good()) write_error = errno != 0 ? errno : EIO;
      out.close();
      if (write_error == 0 && out.fail()) write_error = errno != 0 ? errno : EIO;
    }
  }
  if (write_error == 0) write_error = fsync_path(tmp, false);
  if (write_error != 0) {
    std::remove(tmp.c_str());
    // The disk failed or filled up, not the input: RuntimeFailure (tools exit 1).
    throw RuntimeFailure(detail::concat("cannot write ", path, ": ", std::strerror(write_error),
                                        injected ? " (injected by TFM_FAULT_INJECT=" + faults.spec + ")" : std::string(),
                                        "; ", path, " is left as it was"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    throw RuntimeFailure(detail::concat("cannot rename ", tmp, " to ", path, ": ", err));
  }
  // The rename is durable once the directory is on disk; some file systems cannot fsync a directory (EINVAL).
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
  // Read in 64 KiB pieces rather than through an ostringstream: that one stops quietly
  // when it cannot grow, and a caller would go on with a truncated file.
  std::string out;
  try {
    const uintmax_t size = fs::is_regular_file(path, ec) ? fs::file_size(path, ec) : 0;
    if (!ec && size > 0) out.reserve(static_cast<size_t>(size));
    char piece[1 << 16];  // on the stack: a small file costs no allocation beyond its own
    while (in.read(piece, sizeof piece) || in.gcount() > 0) out.append(piece, static_cast<size_t>(in.gcount()));
  } catch (const std::bad_alloc&) {
    TFM_FAIL(path, ": out of memory after reading ", out.size(), " bytes of it into memory");
  }
  TFM_CHECK(!in.bad(), "cannot read ", path, " at byte ", out.size(), ": ", std::strerror(errno));
  return out;
}

}  // namespace tfm

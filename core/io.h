#pragma once
// Files users depend on are written atomically: the bytes go to a temporary
// file beside the target, which is fsync'ed and renamed over it (then the
// directory is fsync'ed), so a crash leaves either the old or the new file.
// A target whose directory does not exist or whose temporary file cannot be
// created is a tfm::Error (the caller's path). A write that fails after that
// (disk full, I/O error, failed fsync or rename) removes the temporary file and
// throws RuntimeFailure (core/error.h; tools exit 1) naming the path and the
// system's reason; a
// process killed mid-write leaves `PATH.tmp.PID` beside the target (tfm train
// removes those from checkpoints/ when it starts in a run directory).
//
// Test hook (docs/checkpoint-format.md, "Test hooks"): the environment variable
// TFM_FAULT_INJECT=KIND:PATH_SUBSTRING:N breaks the Nth write_file_atomic call
// (counting from 1, per process) whose target path contains PATH_SUBSTRING,
// after half of its bytes are in the temporary file:
//   write_fail  the write fails with EIO (Input/output error),
//   enospc      the write fails with ENOSPC (No space left on device),
//   die         the process kills itself with SIGKILL, before the rename.
// Read once, at the first write; a malformed value is a tfm::Error there.
// Unset, it costs one comparison per write.
#include <functional>
#include <ostream>
#include <string>

namespace tfm {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& contents);
// Whole file; throws tfm::Error naming the path when missing, a directory or unreadable.
std::string read_file(const std::string& path);

}  // namespace tfm

#pragma once
// Corpora larger than memory: the concatenated text of a list of files, read in
// pieces of about a megabyte, each cut where the tokenizer allows (TextSplit:
// after a newline, before a UTF-8 code point, anywhere), so that encoding the
// pieces one by one gives exactly the ids of encoding the whole text; and
// encode_text, which encodes the pieces in parallel (OpenMP) and hands the ids
// on in order. Files are concatenated as `tfm train` always has (a file
// without a final newline runs into the next one's first line).
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/text/tokenizer.h"

namespace tfm {

struct TextPiece {
  std::string text;
  int64_t offset = 0;  // of its first byte in the concatenated text
};

class TextReader {
 public:
  // `what` names the text in messages ("data.train"). Throws naming a file that is missing,
  // a directory or empty. piece_bytes: the size a piece is cut at (a line longer than that
  // stays whole under TextSplit::Lines; TextSplit::Whole reads everything as one piece).
  TextReader(std::vector<std::string> paths, std::string what, TextSplit split, int64_t piece_bytes = int64_t{1} << 20);
  ~TextReader();
  TextReader(const TextReader&) = delete;
  TextReader& operator=(const TextReader&) = delete;

  // The next piece; false at the end. Throws naming the file when it cannot be read or its
  // size changed since the reader was made.
  bool next(TextPiece& piece);
  // Back to the start (another pass, e.g. training a tokenizer and then encoding).
  void rewind();
  // Called with bytes_read() after each piece is handed out (progress lines).
  void on_progress(std::function<void(int64_t bytes_read)> progress) { progress_ = std::move(progress); }

  const std::string& what() const { return what_; }
  const std::vector<std::string>& paths() const { return paths_; }
  int64_t total_bytes() const { return total_; }
  int64_t bytes_read() const { return consumed_; }
  // "FILE, byte N" for an offset of the concatenated text.
  std::string where(int64_t offset) const;
  // CRC-32C of each file's bytes, complete after a whole pass.
  const std::vector<uint32_t>& checksums() const { return crcs_; }

 private:
  bool read_block();           // appends the next block of input to pending_; false when none is left
  size_t cut_position();  // where the next piece may end within pending_; 0: not yet

  std::vector<std::string> paths_;
  std::string what_;
  TextSplit split_;
  int64_t piece_bytes_;
  std::vector<int64_t> sizes_;
  std::vector<uint32_t> crcs_;
  int64_t total_ = 0, consumed_ = 0;
  size_t file_ = 0;          // the file being read
  int64_t file_read_ = 0;    // bytes of it read so far
  std::FILE* in_ = nullptr;  // open on file_, or null
  std::string pending_;      // read, not yet handed out
  std::function<void(int64_t)> progress_;
  size_t scanned_ = 0;       // pending_[0, scanned_) has no newline (TextSplit::Lines)
};

// Encodes the reader's text (made with tokenizer.split()) from its current position, pieces
// in parallel batches of a few per thread, and calls sink with each piece's ids in text order.
// The concatenated ids equal tokenizer.encode(whole text). A
// piece the tokenizer refuses is a tfm::Error naming the file and the byte the piece starts
// at (the tokenizer's own offsets count from there).
void encode_text(const Tokenizer& tokenizer, TextReader& reader,
                 const std::function<void(const std::vector<int32_t>& ids)>& sink);

// Rethrows the exception of a failure on the text from `offset` of reader with the place
// named in front of its message (keeping tfm::Error / RuntimeFailure).
[[noreturn]] void rethrow_at(const TextReader& reader, int64_t offset, std::exception_ptr error);

}  // namespace tfm

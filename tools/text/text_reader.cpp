#include "tools/text/text_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/checksum.h"
#include "core/error.h"
#include "core/parallel.h"

namespace tfm {

TextReader::TextReader(std::vector<std::string> paths, std::string what, TextSplit split, int64_t piece_bytes)
    : paths_(std::move(paths)), what_(std::move(what)), split_(split), piece_bytes_(std::max<int64_t>(piece_bytes, 16)) {
  namespace fs = std::filesystem;
  TFM_CHECK(!paths_.empty(), what_, ": no files");
  for (const std::string& path : paths_) {
    std::error_code ec;
    TFM_CHECK(fs::exists(path, ec), "data file not found: ", path);
    TFM_CHECK(!fs::is_directory(path, ec), path, " is a directory, expected a file");
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    TFM_CHECK(!ec, "cannot read ", path, ": ", ec.message());
    TFM_CHECK(size > 0, what_, " file ", path, " is empty");
    sizes_.push_back(size);
    total_ += size;
  }
  crcs_.assign(paths_.size(), 0);
}

TextReader::~TextReader() {
  if (in_ != nullptr) std::fclose(in_);
}

void TextReader::rewind() {
  if (in_ != nullptr) std::fclose(in_);
  in_ = nullptr;
  file_ = 0;
  file_read_ = 0;
  consumed_ = 0;
  scanned_ = 0;
  pending_.clear();
  crcs_.assign(paths_.size(), 0);
}

bool TextReader::read_block() {
  while (file_ < paths_.size()) {
    const std::string& path = paths_[file_];
    if (in_ == nullptr) {
      in_ = std::fopen(path.c_str(), "rb");
      if (in_ == nullptr) throw RuntimeFailure(detail::concat("cannot open ", path, ": ", std::strerror(errno)));
      file_read_ = 0;
    }
    // A piece, or what is left of the file and one byte more (which finds a file that grew): a small
    // file does not zero a whole piece's buffer.
    const auto want = static_cast<size_t>(std::min(piece_bytes_, std::max<int64_t>(sizes_[file_] - file_read_, 0) + 1));
    const size_t old = pending_.size();
    pending_.resize(old + want);
    const size_t got = std::fread(pending_.data() + old, 1, want, in_);
    pending_.resize(old + got);
    if (got > 0) {
      crcs_[file_] = crc32c(pending_.data() + old, got, crcs_[file_]);
      file_read_ += static_cast<int64_t>(got);
      TFM_CHECK(file_read_ <= sizes_[file_], what_, ": ", path, " changed while it was read (", sizes_[file_],
                " bytes when reading began, more now)");
      return true;
    }
    if (std::ferror(in_)) throw RuntimeFailure(detail::concat("cannot read ", path, ": ", std::strerror(errno)));
    TFM_CHECK(file_read_ == sizes_[file_], what_, ": ", path, " changed while it was read (", sizes_[file_],
              " bytes when reading began, ", file_read_, " now)");
    std::fclose(in_);
    in_ = nullptr;
    ++file_;
  }
  return false;
}

size_t TextReader::cut_position() {
  const size_t n = pending_.size(), limit = static_cast<size_t>(piece_bytes_);
  switch (split_) {
    case TextSplit::Whole:
      return 0;
    case TextSplit::Bytes:
      return n >= limit ? limit : 0;
    case TextSplit::CodePoints: {
      if (n <= limit) return 0;
      // Back over continuation bytes (10xxxxxx) to the start of a code point: at most 3.
      size_t cut = limit;
      while (cut + 3 > limit && (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80) --cut;
      return cut;
    }
    case TextSplit::Lines: {
      if (n < limit) return 0;
      // After the last newline; a line longer than a piece is read on until it ends (the part
      // already searched is not searched again).
      const size_t nl = std::string_view(pending_).substr(scanned_).rfind('\n');
      if (nl == std::string_view::npos) {
        scanned_ = n;
        return 0;
      }
      return scanned_ + nl + 1;
    }
  }
  return 0;
}

bool TextReader::next(TextPiece& piece) {
  size_t cut = cut_position();
  while (cut == 0) {
    if (!read_block()) {
      cut = pending_.size();
      break;
    }
    cut = cut_position();
  }
  if (cut == 0) return false;
  piece.offset = consumed_;
  piece.text.assign(pending_, 0, cut);
  pending_.erase(0, cut);
  consumed_ += static_cast<int64_t>(cut);
  scanned_ = 0;
  if (progress_) progress_(consumed_);
  return true;
}

std::string TextReader::where(int64_t offset) const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (offset < sizes_[i] || i + 1 == paths_.size()) return detail::concat(paths_[i], ", byte ", offset);
    offset -= sizes_[i];
  }
  return "?";
}

[[noreturn]] void rethrow_at(const TextReader& reader, int64_t offset, std::exception_ptr error) {
  const std::string place =
      reader.what() + ": in the text from " + reader.where(offset) + " (later offsets count from there): ";
  try {
    std::rethrow_exception(error);
  } catch (const RuntimeFailure& e) {
    throw RuntimeFailure(place + e.what());
  } catch (const Error& e) {
    throw Error(place + e.what());
  }
}

void encode_text(const Tokenizer& tokenizer, TextReader& reader,
                 const std::function<void(const std::vector<int32_t>& ids)>& sink) {
  // A few pieces a thread, so that one slow piece does not leave the others idle.
  const int batch = 4 * std::max(1, num_threads());
  std::vector<TextPiece> pieces(batch);
  std::vector<std::vector<int32_t>> ids(batch);
  std::vector<std::exception_ptr> errors(batch);
  for (bool more = true; more;) {
    int n = 0;
    while (n < batch && reader.next(pieces[n])) ++n;
    more = n == batch;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; ++i) {
      try {
        ids[i] = tokenizer.encode(pieces[i].text);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
    for (int i = 0; i < n; ++i) {
      if (errors[i]) rethrow_at(reader, pieces[i].offset, errors[i]);
      sink(ids[i]);
    }
  }
}

}  // namespace tfm

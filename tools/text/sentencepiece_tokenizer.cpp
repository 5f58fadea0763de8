#include "tools/text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "tools/text/text_reader.h"

namespace tfm {

std::string base64_encode(const std::string& in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kChars[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kChars[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  TFM_CHECK(in.size() % 4 == 0, "base64: length ", in.size(), " is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        ++pad;
        v <<= 6;
        continue;
      }
      int x = val(c);
      TFM_CHECK(x >= 0 && pad == 0, "base64: invalid character at offset ", i + k);
      v = (v << 6) | x;
    }
    out.push_back(static_cast<char>((v >> 16) & 255));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 255));
    if (pad < 1) out.push_back(static_cast<char>(v & 255));
  }
  return out;
}

namespace {

// libsentencepiece logs its command line to stderr before it reads
// --minloglevel; the tool's stderr is for errors and progress, so training
// runs with fd 2 pointed at /dev/null (failures come back as a status).
class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    std::cerr.flush();
    saved_ = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (saved_ >= 0 && null >= 0) ::dup2(null, 2);
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() {
    std::cerr.flush();
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::string& text) : text_(text) { advance(); }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void advance() {
    while (pos_ < text_.size()) {
      size_t eol = text_.find('\n', pos_);
      if (eol == std::string::npos) eol = text_.size();
      line_ = text_.substr(pos_, eol - pos_);
      pos_ = eol + 1;
      if (!line_.empty()) return;
    }
    done_ = true;
  }
  const std::string& text_;
  size_t pos_ = 0;
  std::string line_;
  bool done_ = false;
};

// The same lines, from a TextReader's pieces (which end after a newline, so no line spans two),
// checked for UTF-8 as they come: libsentencepiece keeps a sample of at most
// --input_sentence_size lines, not the text. A reader's failure ends the lines; error() has it.
class ReaderLineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit ReaderLineIterator(TextReader& reader) : reader_(reader) {
    reader_.rewind();
    advance();
  }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }
  std::exception_ptr error() const { return error_; }

 private:
  void advance() {
    try {
      while (true) {
        while (pos_ < piece_.text.size()) {
          size_t eol = piece_.text.find('\n', pos_);
          if (eol == std::string::npos) eol = piece_.text.size();
          line_.assign(piece_.text, pos_, eol - pos_);
          pos_ = eol + 1;
          if (!line_.empty()) return;
        }
        if (!reader_.next(piece_)) break;
        pos_ = 0;
        try {
          validate_utf8(piece_.text, "sentencepiece tokenizer: training text");
        } catch (const Error&) {
          rethrow_at(reader_, piece_.offset, std::current_exception());
        }
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    line_.clear();
    done_ = true;
  }
  TextReader& reader_;
  TextPiece piece_;
  size_t pos_ = 0;
  std::string line_;
  bool done_ = false;
  std::exception_ptr error_;
};

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::string model) : model_(std::move(model)) {
    sentencepiece::util::Status st;
    try {
      st = sp_.LoadFromSerializedProto(model_);
    } catch (const std::exception& e) {
      // libsentencepiece's trie builder (darts-clone) throws on some malformed models (an empty piece of a
      // unigram model) instead of returning a status.
      TFM_FAIL("sentencepiece: cannot load model: ", e.what());
    }
    TFM_CHECK(st.ok(), "sentencepiece: cannot load model: ", st.ToString());
    // encode() ends each line with eos: a model without one (--eos_id=-1) would hand the models id -1.
    TFM_CHECK(sp_.eos_id() >= 0, "sentencepiece: the model has no end-of-sentence piece (eos_id ", sp_.eos_id(),
              "); tfm needs one to end lines");
  }
  std::string type() const override { return "sentencepiece"; }
  int64_t vocab_size() const override { return sp_.GetPieceSize(); }
  int32_t eos_id() const override { return sp_.eos_id(); }
  int32_t bos_id() const override { return sp_.bos_id(); }
  int32_t pad_id() const override { return sp_.pad_id(); }
  TextSplit split() const override { return TextSplit::Lines; }
  // Each line is encoded separately and followed by <eos> when it ended with a newline.
  std::vector<int32_t> encode(const std::string& text) const override {
    validate_utf8(text, "sentencepiece tokenizer: input");
    std::vector<int32_t> ids;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      const bool has_newline = eol != std::string::npos;
      if (!has_newline) eol = text.size();
      std::vector<int> line;
      auto st = sp_.Encode(text.substr(pos, eol - pos), &line);
      TFM_CHECK(st.ok(), "sentencepiece: encode failed: ", st.ToString());
      ids.insert(ids.end(), line.begin(), line.end());
      if (has_newline) ids.push_back(sp_.eos_id());
      pos = eol + 1;
    }
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    std::vector<int> line;
    auto flush = [&] {
      std::string s;
      auto st = sp_.Decode(line, &s);
      TFM_CHECK(st.ok(), "sentencepiece: decode failed: ", st.ToString());
      out += s;
      line.clear();
    };
    for (int32_t id : ids) {
      TFM_CHECK(id >= 0 && id < vocab_size(), "sentencepiece: id ", id, " out of range [0, ", vocab_size(), ")");
      if (id == sp_.eos_id()) {
        flush();
        out += "\n";
      } else if (id != sp_.bos_id() && id != sp_.pad_id()) {
        line.push_back(id);
      }
    }
    flush();
    return out;
  }
  std::string piece(int32_t id) const override {
    TFM_CHECK(id >= 0 && id < vocab_size(), "sentencepiece: id ", id, " out of range [0, ", vocab_size(), ")");
    return sp_.IdToPiece(id);
  }
  nlohmann::json to_json() const override { return {{"type", "sentencepiece"}, {"model", base64_encode(model_)}}; }

 private:
  std::string model_;
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

namespace {

// Trains on the lines `lines` iterates; after it, `failure` (a reader's error) wins over the trainer's status.
std::unique_ptr<Tokenizer> train_on_lines(const TokenizerConfig& c, sentencepiece::SentenceIterator& lines,
                                          const std::function<void()>& check_reader) {
  std::ostringstream args;
  args << "--model_type=" << c.model_type << " --vocab_size=" << c.vocab_size
       << " --character_coverage=" << c.character_coverage
       << " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --minloglevel=2 --num_threads=2"
       << " --input_sentence_size=2000000 --shuffle_input_sentence=true --seed_sentencepiece_size=1000000"
       << " --hard_vocab_limit=false";
  std::string model;
  sentencepiece::util::Status st;
  {
    QuietStderr quiet;
    st = sentencepiece::SentencePieceTrainer::Train(args.str(), &lines, &model);
  }
  check_reader();
  TFM_CHECK(st.ok(), "sentencepiece: training failed: ", st.ToString());
  return std::make_unique<SentencePieceTokenizer>(std::move(model));
}

}  // namespace

std::unique_ptr<Tokenizer> train_sentencepiece(const TokenizerConfig& c, const std::string& text) {
  validate_utf8(text, "sentencepiece tokenizer: training text");
  TFM_CHECK(c.vocab_size > 0, "config: tokenizer.vocab_size is required for sentencepiece");
  LineIterator lines(text);
  TFM_CHECK(!lines.done(), "sentencepiece: the training text has no non-empty line");
  return train_on_lines(c, lines, [] {});
}

std::unique_ptr<Tokenizer> train_sentencepiece_from(const TokenizerConfig& c, TextReader& text) {
  TFM_CHECK(c.vocab_size > 0, "config: tokenizer.vocab_size is required for sentencepiece");
  ReaderLineIterator lines(text);
  auto check_reader = [&] {
    if (lines.error()) std::rethrow_exception(lines.error());
  };
  check_reader();
  TFM_CHECK(!lines.done(), "sentencepiece: the training text has no non-empty line");
  return train_on_lines(c, lines, check_reader);
}

std::unique_ptr<Tokenizer> sentencepiece_from_json(const nlohmann::json& j) {
  return std::make_unique<SentencePieceTokenizer>(base64_decode(j.at("model").get<std::string>()));
}

namespace {
TFM_REGISTER_TOKENIZER(
    "sentencepiece", train_sentencepiece, "SentencePiece (Kudo & Richardson 2018) trained on the training text's lines",
    {{"vocab_size", "int", "0", "required"},
     {"model_type", "string", "\"bpe\"", "bpe | unigram"},
     {"character_coverage", "number", "1.0", "share of characters the vocabulary covers"}},
    TokenizerLoader{sentencepiece_from_json, train_sentencepiece_from});
}  // namespace

}  // namespace tfm

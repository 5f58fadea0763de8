#include "tools/data/token_manifest.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/checksum.h"
#include "core/error.h"

namespace tfm {

std::vector<SourceStamp> stamp_sources(const std::vector<std::string>& paths) {
  std::vector<SourceStamp> out;
  for (const std::string& path : paths) {
    struct stat st{};
    TFM_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat ", path, ": ", std::strerror(errno));
    SourceStamp s;
    s.path = path;
    s.size = static_cast<int64_t>(st.st_size);
    s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    out.push_back(s);
  }
  return out;
}

uint32_t file_crc32c(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  TFM_CHECK(f != nullptr, "cannot open ", path, ": ", std::strerror(errno));
  std::vector<char> block(size_t{1} << 20);
  uint32_t crc = 0;
  size_t got;
  while ((got = std::fread(block.data(), 1, block.size(), f)) > 0) crc = crc32c(block.data(), got, crc);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  TFM_CHECK(!failed, "cannot read ", path);
  return crc;
}

nlohmann::json TokenManifest::to_json() const {
  nlohmann::json src = nlohmann::json::array();
  for (const SourceStamp& s : sources)
    src.push_back({{"path", s.path}, {"size", s.size}, {"mtime_ns", s.mtime_ns}, {"crc32c", s.crc32c}});
  return {{"format", "tfm-tokens"},
          {"version", kTokenManifestVersion},
          {"split", split},
          {"sources", src},
          {"read_at_ns", read_at_ns},
          {"tokenizer_hash", tokenizer_hash},
          {"tokenizer_config", tokenizer_config},
          {"tokenizer", tokenizer},
          {"token_file", token_file},
          {"dtype", token_dtype_name(tokens.dtype)},
          {"tokens", tokens.tokens},
          {"crc32c", tokens.crc32c}};
}

TokenManifest TokenManifest::from_json(const nlohmann::json& j, const std::string& path) {
  TFM_CHECK(j.is_object() && j.value("format", "") == "tfm-tokens", path, ": not a tfm token manifest (no \"format\": \"tfm-tokens\")");
  TFM_CHECK(j.value("version", -1) == kTokenManifestVersion, path, ": manifest version ", j.value("version", -1),
            ", expected ", kTokenManifestVersion);
  try {
    TokenManifest m;
    m.split = j.at("split").get<std::string>();
    for (const auto& s : j.at("sources"))
      m.sources.push_back({s.at("path").get<std::string>(), s.at("size").get<int64_t>(), s.at("mtime_ns").get<int64_t>(),
                           s.at("crc32c").get<uint32_t>()});
    m.read_at_ns = j.at("read_at_ns").get<int64_t>();
    m.tokenizer_hash = j.at("tokenizer_hash").get<std::string>();
    m.tokenizer_config = j.at("tokenizer_config");
    m.tokenizer = j.at("tokenizer");
    m.token_file = j.at("token_file").get<std::string>();
    const auto dtype = parse_token_dtype(j.at("dtype").get<std::string>());
    TFM_CHECK(dtype.has_value(), path, ": \"dtype\" is ", j.at("dtype").dump(), ", expected \"uint16\" or \"uint32\"");
    m.tokens.dtype = *dtype;
    m.tokens.tokens = j.at("tokens").get<int64_t>();
    TFM_CHECK(m.tokens.tokens >= 0, path, ": \"tokens\" is negative");
    m.tokens.crc32c = j.at("crc32c").get<uint32_t>();
    TFM_CHECK(!m.token_file.empty() && m.token_file.find('/') == std::string::npos, path,
              ": \"token_file\" must be a file name in the manifest's directory, found \"", m.token_file, "\"");
    return m;
  } catch (const nlohmann::json::exception& e) {
    TFM_FAIL(path, ": malformed manifest: ", e.what());
  }
}

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a (Fowler, Noll, Vo), 64-bit offset basis and prime
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string tokenizer_hash(const Tokenizer& tokenizer) { return fnv1a64_hex(tokenizer.to_json().dump()); }

std::string why_stale(const TokenManifest& m, const std::vector<SourceStamp>& sources, const std::string& tok_hash,
                      int64_t vocab_size) {
  constexpr int64_t kRacyWindowNs = 2000000000;  // FAT's 2 s; ext4 and tmpfs tick in milliseconds
  if (m.sources.size() != sources.size()) return "it was made from other files";
  for (size_t i = 0; i < sources.size(); ++i) {
    const SourceStamp &was = m.sources[i], &now = sources[i];
    if (was.path != now.path) return "it was made from other files (" + was.path + ")";
    if (was.size != now.size)
      return detail::concat(now.path, " changed: ", now.size, " bytes, ", was.size, " when prepared");
    if (was.mtime_ns != now.mtime_ns)
      return detail::concat(now.path, " changed: modified at ", now.mtime_ns, " ns, ", was.mtime_ns, " when prepared");
    if (was.mtime_ns + kRacyWindowNs > m.read_at_ns && file_crc32c(now.path) != was.crc32c)
      return now.path + " changed: same size and modification time, other bytes";
  }
  if (m.tokenizer_hash != tok_hash)
    return "the tokenizer differs (" + tok_hash + ", the tokens were made with " + m.tokenizer_hash + ")";
  if (m.tokens.dtype != token_dtype_for(vocab_size))
    return detail::concat("dtype ", token_dtype_name(m.tokens.dtype), " in the manifest, expected ",
                          token_dtype_name(token_dtype_for(vocab_size)), " for a vocabulary of ", vocab_size);
  return "";
}

}  // namespace tfm

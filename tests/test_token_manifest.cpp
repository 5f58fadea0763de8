// Token manifests (tools/data/token_manifest.h): the JSON round trip, the
// errors for what is not a manifest of this version, and why_stale's reason
// for each change it guards against.
#include "tools/data/token_manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TokenManifest sample_manifest(const std::string& source) {
  TokenManifest m;
  m.split = "train";
  m.sources = stamp_sources({source});
  m.sources[0].crc32c = file_crc32c(source);
  m.read_at_ns = m.sources[0].mtime_ns + 3600LL * 1000000000;  // read an hour after it was written
  m.tokenizer_hash = "fnv1a64:0123456789abcdef";
  m.tokenizer_config = {{"type", "char"}};
  m.tokenizer = {{"type", "char"}, {"vocab", {"a", "b"}}};
  m.token_file = "s.train.tokens";
  m.tokens = {TokenDType::U16, 42, 7};
  return m;
}

TEST(Fnv1a64, KnownValues) {
  EXPECT_EQ(fnv1a64_hex(""), "fnv1a64:cbf29ce484222325");  // the offset basis
  EXPECT_EQ(fnv1a64_hex("a"), "fnv1a64:af63dc4c8601ec8c");
  EXPECT_EQ(fnv1a64_hex("foobar"), "fnv1a64:85944171f73967e8");
}

TEST(TokenManifest, RoundTripsThroughJson) {
  TempDir dir;
  const TokenManifest m = sample_manifest(dir.file("s.txt", "ab\n"));
  const TokenManifest back = TokenManifest::from_json(nlohmann::json::parse(m.to_json().dump()), "m.json");
  EXPECT_EQ(back.to_json(), m.to_json());
  EXPECT_EQ(back.sources[0].size, 3);
  EXPECT_EQ(back.tokens.tokens, 42);
  EXPECT_EQ(m.to_json()["format"], "tfm-tokens");
  EXPECT_EQ(m.to_json()["version"], 1);
}

TEST(TokenManifest, WhatIsNotAManifestOfThisVersionIsAnErrorNamingTheFile) {
  TempDir dir;
  const nlohmann::json good = sample_manifest(dir.file("s.txt", "ab\n")).to_json();
  auto with = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json j = good;
    if (value.is_discarded()) j.erase(key);
    else j[key] = value;
    return error_message([&] { TokenManifest::from_json(j, "m.json"); });
  };
  EXPECT_CONTAINS(error_message([] { TokenManifest::from_json(nlohmann::json::array(), "m.json"); }),
                  "m.json: not a tfm token manifest");
  EXPECT_CONTAINS(with("format", "safetensors"), "m.json: not a tfm token manifest");
  EXPECT_CONTAINS(with("version", 2), "m.json: manifest version 2, expected 1");
  EXPECT_CONTAINS(with("tokens", nlohmann::json::value_t::discarded), "m.json: malformed manifest");
  EXPECT_CONTAINS(with("dtype", "int8"), "m.json: \"dtype\" is \"int8\", expected \"uint16\" or \"uint32\"");
  EXPECT_CONTAINS(with("token_file", "../elsewhere.tokens"), "must be a file name in the manifest's directory");
  EXPECT_CONTAINS(with("tokens", -1), "\"tokens\" is negative");
}

TEST(WhyStale, NamesEachChangeAndIsEmptyWhileNothingChanged) {
  TempDir dir;
  const std::string source = dir.file("s.txt", "abc\n");
  const TokenManifest m = sample_manifest(source);
  const std::string hash = m.tokenizer_hash;
  EXPECT_EQ(why_stale(m, stamp_sources({source}), hash, 100), "");
  std::vector<SourceStamp> now = stamp_sources({source});
  now[0].size = 5;
  EXPECT_EQ(why_stale(m, now, hash, 100), source + " changed: 5 bytes, 4 when prepared");
  now = stamp_sources({source});
  now[0].mtime_ns += 1;
  EXPECT_CONTAINS(why_stale(m, now, hash, 100), source + " changed: modified at ");
  now = stamp_sources({source});
  now[0].path = dir.path("other.txt");
  EXPECT_CONTAINS(why_stale(m, now, hash, 100), "it was made from other files");
  EXPECT_CONTAINS(why_stale(m, {}, hash, 100), "it was made from other files");
  EXPECT_EQ(why_stale(m, stamp_sources({source}), "fnv1a64:ffffffffffffffff", 100),
            "the tokenizer differs (fnv1a64:ffffffffffffffff, the tokens were made with fnv1a64:0123456789abcdef)");
  EXPECT_EQ(why_stale(m, stamp_sources({source}), hash, 70000),
            "dtype uint16 in the manifest, expected uint32 for a vocabulary of 70000");
}

TEST(WhyStale, ComparesBytesOnlyWhenTheFileWasWrittenWithinTwoSecondsOfBeingRead) {
  TempDir dir;
  const std::string source = dir.file("s.txt", "abc\n");
  TokenManifest m = sample_manifest(source);
  m.sources[0].crc32c ^= 1;  // as if the bytes had changed since
  // Read an hour after the last write: size and time are trusted, the bytes not read.
  EXPECT_EQ(why_stale(m, stamp_sources({source}), m.tokenizer_hash, 100), "");
  // Read a second after it: a change could have kept both, so the checksum decides.
  m.read_at_ns = m.sources[0].mtime_ns + 1000000000;
  EXPECT_EQ(why_stale(m, stamp_sources({source}), m.tokenizer_hash, 100),
            source + " changed: same size and modification time, other bytes");
  m.sources[0].crc32c ^= 1;
  EXPECT_EQ(why_stale(m, stamp_sources({source}), m.tokenizer_hash, 100), "");
}

}  // namespace
}  // namespace tfm

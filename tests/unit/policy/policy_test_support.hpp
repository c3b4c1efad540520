// Shared helpers of the policy tests: the default pack's text (as input to mutate, never as the
// expected answer), temporary folders, captured output and freshly generated P-256 keys.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/core/policy/rule_pack.hpp"

namespace kiosk::policy::testing {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string default_pack_text() { return read_text(KIOSK_TEST_DEFAULT_RULE_PACK); }

// Replaces the first occurrence; fails the test if `from` is not there, so a mutation never silently
// does nothing.
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "the default pack no longer contains: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// 1-based line of the first occurrence of `needle`.
inline int line_of(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  int line = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) line += text[i] == '\n' ? 1 : 0;
  return line;
}

inline RulePack parse_or_fail(const std::string& text) {
  auto pack = parse_rule_pack(text, "pack.toml");
  EXPECT_TRUE(pack.has_value()) << (pack ? "" : pack.error().to_string());
  return pack ? *pack : RulePack{};
}

inline RulePack default_pack() { return parse_or_fail(default_pack_text()); }

// A fresh folder under the system temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("policy-test-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A key generated for the test run only; no private key is ever committed.
inline KeyPair generate_key(const char* curve = "P-256") {
  KeyPair keys;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  EXPECT_NE(key, nullptr);
  if (key == nullptr) return keys;
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  keys.private_pem = bio_text(priv);
  keys.public_pem = bio_text(pub);
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return keys;
}

}  // namespace kiosk::policy::testing

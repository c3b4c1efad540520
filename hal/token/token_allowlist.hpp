// The allowlist of certified token models (REQ-04): only a token whose manufacturer and model, as
// C_GetTokenInfo reports them, appear here with a State Cryptography Administration certification
// number may be used. File format (TOML):
//
//   [[token_model]]
//   manufacturer = "Feitian Technologies Co., Ltd."
//   model = "ePass2003"
//   certification_number = "SXXXX"
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hal/token/token_driver.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::hal::token {

struct AllowedTokenModel {
  std::string manufacturer;
  std::string model;
  std::string certification_number;
};

struct AllowlistVerdict {
  bool allowed = false;
  std::string certification_number;  // of the matching entry, when allowed
  std::string reason;                // why, in words staff can act on
};

class TokenAllowlist {
 public:
  // TOKEN_ALLOWLIST_UNREADABLE, TOKEN_ALLOWLIST_SYNTAX, or TOKEN_ALLOWLIST_BAD_VALUE naming file:line and key.
  static Result<TokenAllowlist> from_file(const std::filesystem::path& file);
  static Result<TokenAllowlist> from_string(std::string_view text, std::string source_name);

  // Exact match on the trimmed manufacturer and model.
  [[nodiscard]] AllowlistVerdict check(const TokenInfo& info) const;
  [[nodiscard]] const std::vector<AllowedTokenModel>& models() const { return models_; }

 private:
  std::vector<AllowedTokenModel> models_;
};

}  // namespace kiosk::hal::token

#include "hal/token/token_allowlist.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

namespace kiosk::hal::token {
namespace {

constexpr std::size_t kMaxAllowlistBytes = 1 << 20;  // a list of models is small; refuse anything huge
constexpr std::size_t kMaxFieldBytes = 256;

std::string where(const std::string& source, const toml::source_region& region, std::string_view key) {
  std::ostringstream out;
  out << source << ':' << region.begin.line << ": key '" << key << "'";
  return out.str();
}

Result<std::string> required_string(const toml::table& entry, std::string_view key, const std::string& source,
                                    std::size_t index) {
  const toml::node* node = entry.get(key);
  if (node == nullptr) {
    return fail("TOKEN_ALLOWLIST_BAD_VALUE",
                where(source, entry.source(), key) + ": missing in token_model #" + std::to_string(index + 1));
  }
  const std::optional<std::string> text = node->value<std::string>();
  if (!node->is_string() || !text) {
    return fail("TOKEN_ALLOWLIST_BAD_VALUE", where(source, node->source(), key) + ": must be a string");
  }
  if (text->empty() || text->size() > kMaxFieldBytes || text->front() == ' ' || text->back() == ' ') {
    return fail("TOKEN_ALLOWLIST_BAD_VALUE", where(source, node->source(), key) +
                                                 ": must be 1 to 256 characters without leading or trailing spaces");
  }
  return *text;
}

}  // namespace

Result<TokenAllowlist> TokenAllowlist::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail("TOKEN_ALLOWLIST_UNREADABLE", "cannot open the token allowlist " + file.string());
  std::string text(kMaxAllowlistBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxAllowlistBytes) {
    return fail("TOKEN_ALLOWLIST_UNREADABLE", file.string() + " is larger than 1 MiB");
  }
  return from_string(text, file.string());
}

Result<TokenAllowlist> TokenAllowlist::from_string(std::string_view text, std::string source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << source_name << ':' << error.source().begin.line << ": " << error.description();
    return fail("TOKEN_ALLOWLIST_SYNTAX", out.str());
  }

  TokenAllowlist allowlist;
  for (const auto& [key, node] : root) {
    if (key.str() != "token_model") {
      return fail("TOKEN_ALLOWLIST_BAD_VALUE", where(source_name, node.source(), key.str()) + ": unknown key");
    }
  }
  const toml::node* models = root.get("token_model");
  if (models == nullptr) return allowlist;  // an empty list allows no token
  const toml::array* array = models->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return fail("TOKEN_ALLOWLIST_BAD_VALUE",
                where(source_name, models->source(), "token_model") + ": must be an array of tables ([[token_model]])");
  }
  for (std::size_t index = 0; index < array->size(); ++index) {
    const toml::table& entry = *array->get(index)->as_table();
    for (const auto& [key, node] : entry) {
      if (key.str() != "manufacturer" && key.str() != "model" && key.str() != "certification_number") {
        return fail("TOKEN_ALLOWLIST_BAD_VALUE", where(source_name, node.source(), key.str()) + ": unknown key");
      }
    }
    AllowedTokenModel model;
    auto manufacturer = required_string(entry, "manufacturer", source_name, index);
    if (!manufacturer) return std::unexpected(manufacturer.error());
    auto model_name = required_string(entry, "model", source_name, index);
    if (!model_name) return std::unexpected(model_name.error());
    auto number = required_string(entry, "certification_number", source_name, index);
    if (!number) return std::unexpected(number.error());
    for (const AllowedTokenModel& existing : allowlist.models_) {
      if (existing.manufacturer == *manufacturer && existing.model == *model_name) {
        return fail("TOKEN_ALLOWLIST_BAD_VALUE",
                    where(source_name, entry.source(), "model") + ": this manufacturer and model are listed twice");
      }
    }
    allowlist.models_.push_back({std::move(*manufacturer), std::move(*model_name), std::move(*number)});
  }
  return allowlist;
}

AllowlistVerdict TokenAllowlist::check(const TokenInfo& info) const {
  for (const AllowedTokenModel& model : models_) {
    if (model.manufacturer == info.manufacturer && model.model == info.model) {
      return {true, model.certification_number,
              "token model '" + info.model + "' by '" + info.manufacturer + "' is certified (" +
                  model.certification_number + ")"};
    }
  }
  return {false,
          {},
          "token model '" + info.model + "' by '" + info.manufacturer +
              "' is not on the list of certified token models; use an approved token"};
}

}  // namespace kiosk::hal::token

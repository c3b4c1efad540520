#include "kiosk/core/config_reader.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace kiosk {

struct ConfigReader::Impl {
  toml::table root;
  std::string source_name;
  std::filesystem::path base_dir;
  std::set<std::string, std::less<>> asked;

  [[nodiscard]] std::string where(const toml::node& node, std::string_view key) const {
    std::ostringstream out;
    out << source_name << ':' << node.source().begin.line << ": key '" << key << "'";
    return out.str();
  }
};

namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;  // a config file is small; refuse anything huge

std::string describe(const toml::node& node) {
  std::ostringstream out;
  switch (node.type()) {
    case toml::node_type::string: out << '"' << *node.value<std::string>() << '"'; break;
    case toml::node_type::integer: out << *node.value<std::int64_t>(); break;
    case toml::node_type::floating_point: out << *node.value<double>(); break;
    case toml::node_type::boolean: out << (*node.value<bool>() ? "true" : "false"); break;
    case toml::node_type::table: out << "a table"; break;
    case toml::node_type::array: out << "an array"; break;
    default: out << "a date or time"; break;
  }
  return out.str();
}

}  // namespace

ConfigReader::ConfigReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigReader::ConfigReader(ConfigReader&&) noexcept = default;
ConfigReader& ConfigReader::operator=(ConfigReader&&) noexcept = default;
ConfigReader::~ConfigReader() = default;

Result<ConfigReader> ConfigReader::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail("CONFIG_UNREADABLE", "cannot open configuration file " + file.string() +
                                         ": check the path given with --config and its permissions");
  }
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    return fail("CONFIG_UNREADABLE", file.string() + " is larger than 1 MiB; it is not a configuration file");
  }
  return from_string(text, file.string(), file.parent_path());
}

Result<ConfigReader> ConfigReader::from_string(std::string_view text, std::string source_name,
                                               std::filesystem::path base_dir) {
  auto impl = std::make_unique<Impl>();
  impl->source_name = std::move(source_name);
  impl->base_dir = std::move(base_dir);
  try {
    impl->root = toml::parse(text, impl->source_name);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << impl->source_name << ':' << error.source().begin.line << ':' << error.source().begin.column
        << ": not valid TOML: " << error.description();
    return fail("CONFIG_SYNTAX", out.str());
  }
  return ConfigReader(std::move(impl));
}

Result<std::string> ConfigReader::get_string(std::string_view key, std::string fallback) {
  impl_->asked.emplace(key);
  const toml::node* node = impl_->root.at_path(key).node();
  if (node == nullptr) return fallback;
  if (const auto value = node->value_exact<std::string>()) return *value;
  return fail("CONFIG_BAD_VALUE", impl_->where(*node, key) + " must be a string, got " + describe(*node));
}

Result<std::int64_t> ConfigReader::get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                                           std::int64_t max) {
  impl_->asked.emplace(key);
  const toml::node* node = impl_->root.at_path(key).node();
  if (node == nullptr) return fallback;
  const auto value = node->value_exact<std::int64_t>();
  if (!value || *value < min || *value > max) {
    return fail("CONFIG_BAD_VALUE", impl_->where(*node, key) + " must be a whole number from " + std::to_string(min) +
                                        " to " + std::to_string(max) + ", got " + describe(*node));
  }
  return *value;
}

Result<bool> ConfigReader::get_bool(std::string_view key, bool fallback) {
  impl_->asked.emplace(key);
  const toml::node* node = impl_->root.at_path(key).node();
  if (node == nullptr) return fallback;
  if (const auto value = node->value_exact<bool>()) return *value;
  return fail("CONFIG_BAD_VALUE", impl_->where(*node, key) + " must be true or false, got " + describe(*node));
}

Result<std::string> ConfigReader::get_choice(std::string_view key, std::string fallback,
                                             std::span<const std::string_view> allowed) {
  auto value = get_string(key, fallback);
  if (!value) return value;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return value;
  std::string choices;
  for (const auto choice : allowed) choices += (choices.empty() ? "" : ", ") + std::string(choice);
  const toml::node* node = impl_->root.at_path(key).node();
  const std::string where =
      node != nullptr ? impl_->where(*node, key) : impl_->source_name + ": key '" + std::string(key) + "'";
  return fail("CONFIG_BAD_VALUE", where + " must be one of " + choices + ", got \"" + *value + "\"");
}

Result<std::filesystem::path> ConfigReader::get_path(std::string_view key, std::filesystem::path fallback) {
  auto value = get_string(key, fallback.string());
  if (!value) return std::unexpected(value.error());
  std::filesystem::path path(*value);
  if (path.empty()) return path;
  if (path.is_relative() && !impl_->base_dir.empty()) path = impl_->base_dir / path;
  return path.lexically_normal();
}

Result<void> ConfigReader::check_no_unknown_keys() const {
  // Walk the document; a leaf (or a whole table) that no getter asked for is a typo or a stale key.
  std::optional<Error> first;
  auto walk = [&](auto&& self, const toml::table& table, const std::string& prefix) -> void {
    for (const auto& [name, node] : table) {
      if (first) return;
      const std::string path = prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
      if (const auto* child = node.as_table()) {
        const bool known = std::any_of(impl_->asked.begin(), impl_->asked.end(),
                                       [&](const std::string& asked) { return asked.starts_with(path + "."); });
        if (known) {
          self(self, *child, path);
          continue;
        }
      } else if (impl_->asked.contains(path)) {
        continue;
      }
      first = Error{"CONFIG_UNKNOWN_KEY", impl_->where(node, path) +
                                              " is not a setting of this program; check its spelling against the "
                                              "documented example configuration"};
    }
  };
  walk(walk, impl_->root, "");
  if (first) return std::unexpected(*first);
  return {};
}

const std::string& ConfigReader::source_name() const { return impl_->source_name; }

}  // namespace kiosk

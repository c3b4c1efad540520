#include "sync/package/manifest.hpp"

#include <openssl/err.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <utility>

#include "kiosk/core/hex_text.hpp"
#include "kiosk/core/json_nesting.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::sync::package {
namespace {

// ordered_json keeps the order a document was written in, so the canonical writer cannot rely on
// the container to sort keys and does it itself.
using Json = nlohmann::ordered_json;

// Deepest nesting of a valid manifest is 4 (root, steps, step, evidence list, evidence item).
constexpr std::size_t kMaxNesting = 8;

// Thrown inside this file only, turned into an Error before any function returns.
struct InvalidJson {
  std::string message;
};
struct InvalidField {
  std::string code;
  std::string field;
  std::string rule;
};

[[noreturn]] void reject(std::string field, std::string rule, std::string code = "PACKAGE_MANIFEST_INVALID") {
  throw InvalidField{std::move(code), std::move(field), std::move(rule)};
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    const auto lead = static_cast<unsigned char>(text[at]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      ++at;
      continue;
    }
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (at + length > text.size()) return false;
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text[at + i]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < smallest[length] || code_point > 0x10FFFF) return false;
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    at += length;
  }
  return true;
}

void write_string(std::string_view text, std::string& out) {
  if (!is_valid_utf8(text)) throw InvalidJson{"a string is not valid UTF-8"};
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void check_integer_range(const Json& value) {
  if (value.is_number_float()) throw InvalidJson{"numbers must be integers (no fraction or exponent)"};
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxJsonInteger)) {
      throw InvalidJson{"an integer is larger than 2^53-1"};
    }
  } else if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    if (number > kMaxJsonInteger || number < -kMaxJsonInteger) throw InvalidJson{"an integer is beyond +-(2^53-1)"};
  }
}

void write_canonical(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      check_integer_range(value);
      out += value.dump();  // nlohmann writes integers as plain decimal digits
      return;
    case Json::value_t::number_float: check_integer_range(value); return;
    case Json::value_t::string: write_string(value.get_ref<const std::string&>(), out); return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!first) out += ',';
        first = false;
        write_canonical(element, out);
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      std::vector<std::pair<const std::string*, const Json*>> members;
      members.reserve(value.size());
      for (const auto& [key, member] : value.items()) members.emplace_back(&key, &member);
      // std::string compares as unsigned bytes: byte-wise UTF-8 order.
      std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
      for (std::size_t i = 1; i < members.size(); ++i) {
        if (*members[i].first == *members[i - 1].first) throw InvalidJson{"an object has a duplicate key"};
      }
      out += '{';
      bool first = true;
      for (const auto& [key, member] : members) {
        if (!first) out += ',';
        first = false;
        write_string(*key, out);
        out += ':';
        write_canonical(*member, out);
      }
      out += '}';
      return;
    }
    case Json::value_t::binary:
    case Json::value_t::discarded: throw InvalidJson{"the value is not JSON"};
  }
}

std::string canonical(const Json& value) {
  std::string out;
  write_canonical(value, out);
  return out;
}

// Parses outside bytes: bounded in size and nesting, duplicate keys refused (nlohmann would keep
// one of them silently, so two readers could disagree on what was signed).
Json parse_strict(std::string_view text) {
  if (text.size() > kMaxManifestBytes) throw InvalidJson{"the document is larger than 1 MiB"};
  if (!json_nesting_within(text, kMaxNesting)) throw InvalidJson{"the document nests deeper than 8 levels"};
  std::vector<std::set<std::string>> open_objects;
  bool duplicate_key = false;
  const Json::parser_callback_t watch_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate_key = true;
        }
        break;
      default: break;
    }
    return true;
  };
  Json parsed = Json::parse(text.begin(), text.end(), watch_keys, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw InvalidJson{"the document is not well-formed JSON"};
  if (duplicate_key) throw InvalidJson{"an object has a duplicate key"};
  return parsed;
}

// ---- value rules -------------------------------------------------------------------------------

bool is_code(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

bool is_kind(std::string_view text) {
  return !text.empty() && text.size() <= 40 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool is_stream_file_name(std::string_view text) {
  return text.size() > kStreamFileSuffix.size() && text.size() <= 100 && text.front() != '.' &&
         text.ends_with(kStreamFileSuffix) && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
         });
}

void require(bool ok, const std::string& field, const std::string& rule) {
  if (!ok) reject(field, rule);
}

void check_manifest(const Manifest& manifest) {
  require(manifest.format_version == kManifestFormatVersion, "format_version", "must be 1");
  if (manifest.suite != kSuiteAes256GcmSha256) {
    reject("suite", "names suite " + std::to_string(manifest.suite) + "; this build reads suite 1 only",
           "PACKAGE_SUITE_UNSUPPORTED");
  }
  require(is_lower_hex(manifest.package_id, 32), "package_id", "must be 32 lowercase hex digits");
  require(is_code(manifest.kiosk_id), "kiosk_id", "must be a code of 1 to 64 characters [A-Za-z0-9_.-]");

  const auto& tx = manifest.transaction;
  require(tx.id >= 1 && tx.id <= kMaxJsonInteger, "transaction.id", "must be an integer from 1 to 2^53-1");
  require(is_code(tx.rule_pack_version), "transaction.rule_pack_version", "must be a code");
  require(is_code(tx.terms_version_hash), "transaction.terms_version_hash", "must be a code");
  require(tx.state != TxState::open, "transaction.state", "must be completed, refused or aborted");
  require(tx.outcome_reason.empty() || is_code(tx.outcome_reason), "transaction.outcome_reason",
          "must be empty or a code");
  require(is_utc_millis_text(tx.opened_at), "transaction.opened_at", "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ");
  require(is_utc_millis_text(tx.closed_at), "transaction.closed_at", "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ");

  std::set<std::string_view> stream_files;
  for (std::size_t s = 0; s < manifest.steps.size(); ++s) {
    const auto& step = manifest.steps[s];
    const std::string at = "steps[" + std::to_string(s) + "]";
    require(step.sequence == static_cast<std::int64_t>(s) + 1, at + ".sequence", "must be " + std::to_string(s + 1));
    require(step.actor_staff_id.empty() == !step.actor_role.has_value(), at + ".actor",
            "must hold both a staff id and a role, or be null");
    require(step.actor_staff_id.empty() || is_code(step.actor_staff_id), at + ".actor.staff_id", "must be a code");
    require(is_utc_millis_text(step.started_at), at + ".started_at", "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ");
    require(is_utc_millis_text(step.ended_at), at + ".ended_at", "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ");
    require(is_code(step.result), at + ".result", "must be a code");
    for (std::size_t e = 0; e < step.evidence.size(); ++e) {
      const auto& item = step.evidence[e];
      const std::string field = at + ".evidence[" + std::to_string(e) + "]";
      require(is_kind(item.kind), field + ".kind", "must be 1 to 40 characters [a-z0-9_-]");
      require(is_stream_file_name(item.stream_file), field + ".file",
              "must be 8 to 100 characters [a-z0-9_.-] ending in .sealed, not starting with '.'");
      require(stream_files.insert(item.stream_file).second, field + ".file", "names a file listed twice");
      require(item.plaintext_size <= static_cast<std::uint64_t>(kMaxJsonInteger), field + ".plaintext_size",
              "must be at most 2^53-1");
      require(item.ciphertext_size <= static_cast<std::uint64_t>(kMaxJsonInteger), field + ".ciphertext_size",
              "must be at most 2^53-1");
      require(is_lower_hex(item.plaintext_sha256, 64), field + ".plaintext_sha256", "must be 64 lowercase hex digits");
      require(is_lower_hex(item.ciphertext_sha256, 64), field + ".ciphertext_sha256",
              "must be 64 lowercase hex digits");
    }
  }

  const auto& checkpoint = manifest.audit_checkpoint;
  require(checkpoint.count >= 0 && checkpoint.count <= kMaxJsonInteger, "audit_checkpoint.count",
          "must be an integer from 0 to 2^53-1");
  require(is_lower_hex(checkpoint.head_hash, 64), "audit_checkpoint.head_hash", "must be 64 lowercase hex digits");
  require(checkpoint.count != 0 || checkpoint.head_hash == audit::kGenesisHash, "audit_checkpoint.head_hash",
          "must be the genesis hash (64 zeros) when count is 0");
  require(is_utc_millis_text(manifest.sealed_at), "sealed_at", "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ");

  require(!manifest.recipients.empty() && manifest.recipients.size() <= 16, "recipients",
          "must list 1 to 16 recipient ids");
  for (std::size_t r = 0; r < manifest.recipients.size(); ++r) {
    const std::string field = "recipients[" + std::to_string(r) + "]";
    require(is_lower_hex(manifest.recipients[r], 64), field, "must be 64 lowercase hex digits");
    require(r == 0 || manifest.recipients[r - 1] < manifest.recipients[r], field,
            "must be sorted ascending without repeats");
  }
}

// ---- manifest <-> JSON -------------------------------------------------------------------------

Json to_json(const Manifest& manifest) {
  const auto& tx = manifest.transaction;
  Json steps = Json::array();
  for (const auto& step : manifest.steps) {
    Json evidence = Json::array();
    for (const auto& item : step.evidence) {
      evidence.push_back(Json{{"kind", item.kind},
                              {"file", item.stream_file},
                              {"plaintext_size", item.plaintext_size},
                              {"plaintext_sha256", item.plaintext_sha256},
                              {"ciphertext_size", item.ciphertext_size},
                              {"ciphertext_sha256", item.ciphertext_sha256}});
    }
    Json actor = nullptr;
    if (step.actor_role) actor = Json{{"staff_id", step.actor_staff_id}, {"role", to_string(*step.actor_role)}};
    steps.push_back(Json{{"sequence", step.sequence},
                         {"step", to_string(step.step)},
                         {"actor", std::move(actor)},
                         {"started_at", step.started_at},
                         {"ended_at", step.ended_at},
                         {"result", step.result},
                         {"evidence", std::move(evidence)}});
  }
  return Json{{"format_version", manifest.format_version},
              {"suite", manifest.suite},
              {"package_id", manifest.package_id},
              {"kiosk_id", manifest.kiosk_id},
              {"transaction",
               {{"id", tx.id},
                {"operation", to_string(tx.operation)},
                {"channel", to_string(tx.channel)},
                {"investor_type", to_string(tx.investor_type)},
                {"medium", to_string(tx.medium)},
                {"rule_pack_version", tx.rule_pack_version},
                {"terms_version_hash", tx.terms_version_hash},
                {"state", to_string(tx.state)},
                {"outcome_reason", tx.outcome_reason},
                {"opened_at", tx.opened_at},
                {"closed_at", tx.closed_at}}},
              {"steps", std::move(steps)},
              {"audit_checkpoint",
               {{"count", manifest.audit_checkpoint.count}, {"head_hash", manifest.audit_checkpoint.head_hash}}},
              {"sealed_at", manifest.sealed_at},
              {"recipients", manifest.recipients}};
}

// Reads one JSON object whose members must be exactly the ones the format names.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string path, std::initializer_list<std::string_view> names)
      : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) reject(path_.empty() ? "(document)" : path_, "must be an object");
    for (const auto name : names) {
      if (!object_.contains(name)) reject(field(name), "is missing");
    }
    for (const auto& [key, value] : object_.items()) {
      if (std::find(names.begin(), names.end(), key) == names.end()) {
        reject(field(key), "is not a field of format version 1");
      }
    }
  }

  [[nodiscard]] std::string field(std::string_view name) const {
    return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  }
  [[nodiscard]] const Json& at(std::string_view name) const { return object_.at(std::string(name)); }

  [[nodiscard]] std::string text(std::string_view name) const {
    const auto& value = at(name);
    if (!value.is_string()) reject(field(name), "must be a string");
    return value.get<std::string>();
  }
  [[nodiscard]] std::int64_t integer(std::string_view name) const {
    const auto& value = at(name);
    if (!value.is_number_integer()) reject(field(name), "must be an integer");
    if (value.is_number_unsigned()) return static_cast<std::int64_t>(value.get<std::uint64_t>());
    return value.get<std::int64_t>();
  }
  [[nodiscard]] std::uint64_t size(std::string_view name) const {
    const auto number = integer(name);
    if (number < 0) reject(field(name), "must not be negative");
    return static_cast<std::uint64_t>(number);
  }
  template <class E, class Parse>
  [[nodiscard]] E enumerated(std::string_view name, Parse parse) const {
    const auto value = parse(text(name));
    if (!value) reject(field(name), "is not a known value");
    return *value;
  }
  [[nodiscard]] const Json& array(std::string_view name) const {
    const auto& value = at(name);
    if (!value.is_array()) reject(field(name), "must be an array");
    return value;
  }

 private:
  const Json& object_;
  std::string path_;
};

ManifestEvidence evidence_from_json(const Json& value, const std::string& path) {
  const ObjectReader in(value, path,
                        {"kind", "file", "plaintext_size", "plaintext_sha256", "ciphertext_size", "ciphertext_sha256"});
  return ManifestEvidence{in.text("kind"),
                          in.text("file"),
                          in.size("plaintext_size"),
                          in.text("plaintext_sha256"),
                          in.size("ciphertext_size"),
                          in.text("ciphertext_sha256")};
}

ManifestStep step_from_json(const Json& value, const std::string& path) {
  const ObjectReader in(value, path, {"sequence", "step", "actor", "started_at", "ended_at", "result", "evidence"});
  ManifestStep step;
  step.sequence = in.integer("sequence");
  step.step = in.enumerated<StepId>("step", parse_enum<StepId>);
  if (const auto& actor = in.at("actor"); !actor.is_null()) {
    const ObjectReader who(actor, in.field("actor"), {"staff_id", "role"});
    step.actor_staff_id = who.text("staff_id");
    step.actor_role = who.enumerated<StaffRole>("role", parse_enum<StaffRole>);
    if (step.actor_staff_id.empty()) reject(who.field("staff_id"), "must not be empty (use null for no actor)");
  }
  step.started_at = in.text("started_at");
  step.ended_at = in.text("ended_at");
  step.result = in.text("result");
  const auto& evidence = in.array("evidence");
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    step.evidence.push_back(evidence_from_json(evidence[i], in.field("evidence") + "[" + std::to_string(i) + "]"));
  }
  return step;
}

Manifest manifest_from_json(const Json& value) {
  const ObjectReader in(value, "",
                        {"format_version", "suite", "package_id", "kiosk_id", "transaction", "steps",
                         "audit_checkpoint", "sealed_at", "recipients"});
  Manifest manifest;
  // Version and suite first: a later format may change every other field.
  const auto version = in.integer("format_version");
  if (version != kManifestFormatVersion) reject("format_version", "is " + std::to_string(version) + "; must be 1");
  const auto suite = in.integer("suite");
  if (suite != kSuiteAes256GcmSha256) {
    reject("suite", "names suite " + std::to_string(suite) + "; this build reads suite 1 only",
           "PACKAGE_SUITE_UNSUPPORTED");
  }
  manifest.package_id = in.text("package_id");
  manifest.kiosk_id = in.text("kiosk_id");

  const ObjectReader tx(in.at("transaction"), "transaction",
                        {"id", "operation", "channel", "investor_type", "medium", "rule_pack_version",
                         "terms_version_hash", "state", "outcome_reason", "opened_at", "closed_at"});
  manifest.transaction.id = tx.integer("id");
  manifest.transaction.operation = tx.enumerated<Operation>("operation", operation_from_string);
  manifest.transaction.channel = tx.enumerated<Channel>("channel", parse_enum<Channel>);
  manifest.transaction.investor_type = tx.enumerated<InvestorType>("investor_type", parse_enum<InvestorType>);
  manifest.transaction.medium = tx.enumerated<Medium>("medium", parse_enum<Medium>);
  manifest.transaction.rule_pack_version = tx.text("rule_pack_version");
  manifest.transaction.terms_version_hash = tx.text("terms_version_hash");
  manifest.transaction.state = tx.enumerated<TxState>("state", parse_enum<TxState>);
  manifest.transaction.outcome_reason = tx.text("outcome_reason");
  manifest.transaction.opened_at = tx.text("opened_at");
  manifest.transaction.closed_at = tx.text("closed_at");

  const auto& steps = in.array("steps");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    manifest.steps.push_back(step_from_json(steps[i], "steps[" + std::to_string(i) + "]"));
  }

  const ObjectReader checkpoint(in.at("audit_checkpoint"), "audit_checkpoint", {"count", "head_hash"});
  manifest.audit_checkpoint.count = checkpoint.integer("count");
  manifest.audit_checkpoint.head_hash = checkpoint.text("head_hash");
  manifest.sealed_at = in.text("sealed_at");

  const auto& recipients = in.array("recipients");
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    if (!recipients[i].is_string()) reject("recipients[" + std::to_string(i) + "]", "must be a string");
    manifest.recipients.push_back(recipients[i].get<std::string>());
  }
  manifest.format_version = static_cast<int>(version);
  manifest.suite = static_cast<int>(suite);
  return manifest;
}

constexpr std::size_t kMaxRecipients = 16;
// RSA-OAEP with a 16384-bit key gives 2048 bytes, the most any supported algorithm produces.
constexpr std::size_t kMaxWrappedKeyBytes = 2048;

std::optional<WrapAlgorithm> wrap_algorithm_from(std::string_view name) {
  for (const auto algorithm : {WrapAlgorithm::rsa_oaep_sha256, WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm}) {
    if (to_string(algorithm) == name) return algorithm;
  }
  return std::nullopt;
}

std::vector<std::uint8_t> from_lower_hex(std::string_view text) {
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::vector<std::uint8_t> bytes(text.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::uint8_t>((nibble(text[2 * i]) << 4) | nibble(text[2 * i + 1]));
  }
  return bytes;
}

std::unexpected<Error> field_error(const InvalidField& invalid) {
  return fail(invalid.code, "manifest field `" + invalid.field + "` " + invalid.rule);
}

}  // namespace

bool is_p256_key(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) return false;
  const std::string_view name(group.data(), length);
  return name == "prime256v1" || name == "P-256" || name == "secp256r1";
}

Result<std::vector<std::uint8_t>> sign_manifest(std::string_view canonical_manifest, EVP_PKEY* device_key) {
  if (!is_p256_key(device_key)) {
    return fail("PACKAGE_DEVICE_KEY_UNSUITABLE", "the device key must be an EC P-256 key");
  }
  openssl::MdContext context(EVP_MD_CTX_new());
  std::size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(canonical_manifest.data());
  if (!context || EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, device_key) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length, data, canonical_manifest.size()) != 1) {
    ERR_clear_error();
    return fail("PACKAGE_SIGNING_FAILED", "the device key could not sign the manifest");
  }
  std::vector<std::uint8_t> signature(length);
  if (EVP_DigestSign(context.get(), signature.data(), &length, data, canonical_manifest.size()) != 1) {
    ERR_clear_error();
    return fail("PACKAGE_SIGNING_FAILED", "the device key could not sign the manifest");
  }
  signature.resize(length);
  return signature;
}

Result<void> verify_manifest_signature(std::string_view manifest_bytes, std::span<const std::uint8_t> signature,
                                       EVP_PKEY* device_public_key) {
  if (!is_p256_key(device_public_key)) {
    return fail("PACKAGE_DEVICE_KEY_UNSUITABLE", "the device public key must be an EC P-256 key");
  }
  openssl::MdContext context(EVP_MD_CTX_new());
  // OpenSSL re-encodes the parsed DER and compares, so only the one DER form of (r, s) verifies.
  const int verified =
      context && EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, device_public_key) == 1
          ? EVP_DigestVerify(context.get(), signature.data(), signature.size(),
                             reinterpret_cast<const unsigned char*>(manifest_bytes.data()), manifest_bytes.size())
          : -1;
  ERR_clear_error();
  if (verified != 1) {
    return fail("PACKAGE_SIGNATURE_INVALID",
                "manifest.sig is not a valid signature of manifest.json by this device key");
  }
  return {};
}

std::string lower_hex(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const auto byte : bytes) text.append({kDigits[byte >> 4], kDigits[byte & 0x0F]});
  return text;
}

std::string_view to_string(WrapAlgorithm algorithm) {
  switch (algorithm) {
    case WrapAlgorithm::rsa_oaep_sha256: return "rsa_oaep_sha256";
    case WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm: return "ecdh_p256_hkdf_sha256_aes256gcm";
  }
  return "?";
}

Result<std::string> serialize_keys(std::span<const WrappedKey> keys) {
  if (keys.empty() || keys.size() > kMaxRecipients) {
    return fail("PACKAGE_KEYS_INVALID", "a package needs 1 to 16 wrapped keys, got " + std::to_string(keys.size()));
  }
  Json entries = Json::array();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!is_lower_hex(keys[i].recipient_id, 64) || keys[i].data.empty() || keys[i].data.size() > kMaxWrappedKeyBytes) {
      return fail("PACKAGE_KEYS_INVALID", "wrapped key " + std::to_string(i) + " has a malformed id or size");
    }
    if (i > 0 && !(keys[i - 1].recipient_id < keys[i].recipient_id)) {
      return fail("PACKAGE_KEYS_INVALID", "wrapped keys must be sorted by recipient id without repeats");
    }
    entries.push_back(Json{{"recipient_id", keys[i].recipient_id},
                           {"algorithm", to_string(keys[i].algorithm)},
                           {"data", lower_hex(keys[i].data)}});
  }
  try {
    return canonical(Json{{"format_version", kManifestFormatVersion}, {"wrapped_keys", std::move(entries)}});
  } catch (const InvalidJson& invalid) {
    return fail("PACKAGE_KEYS_INVALID", "cannot encode keys.json: " + invalid.message);
  }
}

Result<std::vector<WrappedKey>> parse_keys(std::string_view bytes) {
  if (bytes.size() > kMaxKeysBytes) return fail("PACKAGE_KEYS_INVALID", "keys.json is larger than 64 KiB");
  try {
    const Json document = parse_strict(bytes);
    if (canonical(document) != bytes) return fail("PACKAGE_KEYS_INVALID", "keys.json is not canonical JSON");
    const ObjectReader in(document, "", {"format_version", "wrapped_keys"});
    if (in.integer("format_version") != kManifestFormatVersion) reject("format_version", "must be 1");
    const auto& entries = in.array("wrapped_keys");
    if (entries.empty() || entries.size() > kMaxRecipients) reject("wrapped_keys", "must hold 1 to 16 entries");
    std::vector<WrappedKey> keys;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const ObjectReader entry(entries[i], "wrapped_keys[" + std::to_string(i) + "]",
                               {"recipient_id", "algorithm", "data"});
      WrappedKey key;
      key.recipient_id = entry.text("recipient_id");
      if (!is_lower_hex(key.recipient_id, 64)) reject(entry.field("recipient_id"), "must be 64 lowercase hex digits");
      if (!keys.empty() && !(keys.back().recipient_id < key.recipient_id)) {
        reject(entry.field("recipient_id"), "must be sorted ascending without repeats");
      }
      key.algorithm = entry.enumerated<WrapAlgorithm>("algorithm", wrap_algorithm_from);
      const auto data = entry.text("data");
      if (data.empty() || data.size() % 2 != 0 || data.size() > 2 * kMaxWrappedKeyBytes ||
          !is_lower_hex(data, data.size())) {
        reject(entry.field("data"), "must be 2 to 4096 lowercase hex digits, an even count");
      }
      key.data = from_lower_hex(data);
      keys.push_back(std::move(key));
    }
    return keys;
  } catch (const InvalidJson& invalid) {
    return fail("PACKAGE_KEYS_INVALID", "keys.json is not valid: " + invalid.message);
  } catch (const InvalidField& invalid) {
    return fail("PACKAGE_KEYS_INVALID", "keys.json field `" + invalid.field + "` " + invalid.rule);
  } catch (const nlohmann::json::exception& error) {
    // Not expected after the checks above; kept so that no exception leaves the module.
    return fail("PACKAGE_KEYS_INVALID", std::string("keys.json could not be read: ") + error.what());
  }
}

Result<std::string> canonicalize_json(std::string_view json_text) {
  try {
    return canonical(parse_strict(json_text));
  } catch (const InvalidJson& invalid) {
    return fail("PACKAGE_JSON_INVALID", "cannot canonicalise the JSON: " + invalid.message);
  } catch (const nlohmann::json::exception& error) {
    return fail("PACKAGE_JSON_INVALID", std::string("cannot canonicalise the JSON: ") + error.what());
  }
}

Result<void> validate_manifest(const Manifest& manifest) {
  try {
    check_manifest(manifest);
    return {};
  } catch (const InvalidField& invalid) {
    return field_error(invalid);
  }
}

Result<std::string> serialize_manifest(const Manifest& manifest) {
  try {
    check_manifest(manifest);
    return canonical(to_json(manifest));
  } catch (const InvalidField& invalid) {
    return field_error(invalid);
  } catch (const InvalidJson& invalid) {
    return fail("PACKAGE_MANIFEST_INVALID", "cannot encode the manifest: " + invalid.message);
  }
}

Result<Manifest> parse_manifest(std::string_view bytes) {
  try {
    const Json document = parse_strict(bytes);
    // The signature covers bytes, so only one spelling of a manifest is accepted: otherwise two
    // readers could see the same signed file differently (whitespace, key order, escapes).
    if (canonical(document) != bytes) {
      return fail("PACKAGE_MANIFEST_INVALID",
                  "manifest.json is not canonical JSON (key order, whitespace, escapes or number form differ from "
                  "FORMAT.md)");
    }
    Manifest manifest = manifest_from_json(document);
    check_manifest(manifest);
    return manifest;
  } catch (const InvalidJson& invalid) {
    return fail("PACKAGE_MANIFEST_INVALID", "manifest.json is not valid: " + invalid.message);
  } catch (const InvalidField& invalid) {
    return field_error(invalid);
  } catch (const nlohmann::json::exception& error) {
    // Not expected after the checks above; kept so that no exception leaves the module.
    return fail("PACKAGE_MANIFEST_INVALID", std::string("manifest.json could not be read: ") + error.what());
  }
}

}  // namespace kiosk::sync::package

#include "sync/gateway/nciis.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <toml++/toml.h>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/gateway/pki.hpp"

namespace kiosk::gateway {
namespace {

constexpr std::size_t kMaxFixturesBytes = 1 << 20;
constexpr std::size_t kHmacKeyBytes = 32;
constexpr std::string_view kHmacKeyFile = "nciis-hmac.key";

// "file:line: key 'person[2].name': message" so a wrong fixture is found at once.
Error fixture_error(std::string_view source, const toml::source_region& where, std::string_view key,
                    std::string_view message) {
  std::ostringstream out;
  out << source << ':' << where.begin.line << ": key '" << key << "': " << message;
  return Error{"NCIIS_FIXTURES_INVALID", out.str()};
}

Result<std::string> read_bounded(const std::filesystem::path& file, std::size_t limit, std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail("NCIIS_FIXTURES_INVALID", "cannot open " + std::string(what) + " " + file.string());
  std::string bytes(limit + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (bytes.size() > limit) {
    return fail("NCIIS_FIXTURES_INVALID",
                std::string(what) + " " + file.string() + " is larger than " + std::to_string(limit) + " bytes");
  }
  return bytes;
}

Result<SimulatedNciis::Person> read_person(const toml::table& table, std::string_view source,
                                           const std::filesystem::path& base_dir, const std::string& prefix,
                                           std::string& id_number) {
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name != "id_number" && name != "name" && name != "photo_file" && name != "outcome") {
      return std::unexpected(fixture_error(source, node.source(), prefix + "." + std::string(name),
                                           "unknown key; expected id_number, name, photo_file or outcome"));
    }
  }
  auto required_string = [&](const char* key) -> Result<std::string> {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::unexpected(fixture_error(source, table.source(), prefix + "." + key, "missing"));
    if (!node->is_string()) {
      return std::unexpected(fixture_error(source, node->source(), prefix + "." + key, "must be a string"));
    }
    return std::string(**node->as_string());
  };

  auto number = required_string("id_number");
  if (!number) return std::unexpected(number.error());
  if (!is_valid_citizen_id_number(*number)) {
    return std::unexpected(fixture_error(source, table.get("id_number")->source(), prefix + ".id_number",
                                         "must be 17 digits and a valid GB 11643 check character (0-9 or X)"));
  }
  auto person_name = required_string("name");
  if (!person_name) return std::unexpected(person_name.error());
  if (!is_valid_nciis_name(*person_name)) {
    return std::unexpected(fixture_error(source, table.get("name")->source(), prefix + ".name",
                                         "must be 1-64 bytes of UTF-8 without control characters"));
  }
  SimulatedNciis::Person person;
  person.name = std::move(*person_name);

  if (const toml::node* outcome = table.get("outcome"); outcome != nullptr) {
    const auto value = outcome->value<std::string>();
    if (!value || (*value != "normal" && *value != "service-error")) {
      return std::unexpected(
          fixture_error(source, outcome->source(), prefix + ".outcome", "must be \"normal\" or \"service-error\""));
    }
    person.service_error = *value == "service-error";
  }
  if (const toml::node* photo = table.get("photo_file"); photo != nullptr) {
    const auto value = photo->value<std::string>();
    if (!value || value->empty()) {
      return std::unexpected(fixture_error(source, photo->source(), prefix + ".photo_file", "must be a file name"));
    }
    std::filesystem::path file(*value);
    if (file.is_relative()) {
      if (base_dir.empty()) {
        return std::unexpected(fixture_error(source, photo->source(), prefix + ".photo_file",
                                             "the embedded fixtures cannot name photo files"));
      }
      file = base_dir / file;
    }
    auto bytes = read_bounded(file, SimulatedNciis::kMaxPhotoBytes, "photo file");
    if (!bytes) {
      return std::unexpected(fixture_error(source, photo->source(), prefix + ".photo_file", bytes.error().message));
    }
    if (bytes->empty()) {
      return std::unexpected(fixture_error(source, photo->source(), prefix + ".photo_file", "the photo file is empty"));
    }
    person.photo = std::move(*bytes);
  }
  id_number = std::move(*number);
  return person;
}

}  // namespace

std::string_view to_string(NciisResult result) {
  switch (result) {
    case NciisResult::match: return "MATCH";
    case NciisResult::mismatch: return "MISMATCH";
    case NciisResult::not_found: return "NOT_FOUND";
    case NciisResult::error: return "ERROR";
  }
  return "ERROR";
}

bool is_valid_citizen_id_number(std::string_view id_number) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr std::string_view kCheckChars = "10X98765432";
  if (id_number.size() != 18) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) {
    const char c = id_number[i];
    if (c < '0' || c > '9') return false;
    sum += (c - '0') * kWeights[i];
  }
  return id_number[17] == kCheckChars[static_cast<std::size_t>(sum % 11)];
}

bool is_valid_nciis_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNciisNameBytes) return false;
  std::size_t i = 0;
  while (i < name.size()) {
    const auto lead = static_cast<unsigned char>(name[i]);
    if (lead < 0x80) {
      if (lead < 0x20 || lead == 0x7F) return false;
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > name.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(name[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates, beyond U+10FFFF and C1 controls are not names.
    if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10FFFF))) return false;
    if (code >= 0xD800 && code <= 0xDFFF) return false;
    if (code >= 0x80 && code <= 0x9F) return false;
    i += length;
  }
  return true;
}

Result<std::string> new_nciis_request_id() {
  auto id = random_hex(16);
  if (!id) return fail("RANDOM_UNAVAILABLE", "cannot make an NCIIS request id: " + id.error().message);
  return id;
}

Result<std::unique_ptr<SimulatedNciis>> SimulatedNciis::from_file(const std::filesystem::path& file) {
  auto text = read_bounded(file, kMaxFixturesBytes, "NCIIS fixtures file");
  if (!text) return std::unexpected(text.error());
  return from_text(*text, file.string(), file.parent_path().empty() ? "." : file.parent_path());
}

Result<std::unique_ptr<SimulatedNciis>> SimulatedNciis::from_text(std::string_view text, std::string source_name,
                                                                  std::filesystem::path base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << source_name << ':' << error.source().begin.line << ':' << error.source().begin.column
        << ": not valid TOML: " << error.description();
    return fail("NCIIS_FIXTURES_INVALID", out.str());
  }
  for (const auto& [key, node] : root) {
    if (key.str() != "person") {
      return std::unexpected(
          fixture_error(source_name, node.source(), key.str(), "unknown key; the file holds only [[person]] tables"));
    }
  }
  const toml::array* people = root["person"].as_array();
  if (people == nullptr || people->empty()) {
    return fail("NCIIS_FIXTURES_INVALID", source_name + ": no [[person]] tables; the simulator needs at least one");
  }
  std::unordered_map<std::string, Person> by_number;
  for (std::size_t index = 0; index < people->size(); ++index) {
    const toml::node& node = *people->get(index);
    const std::string prefix = "person[" + std::to_string(index + 1) + "]";
    const toml::table* table = node.as_table();
    if (table == nullptr) return std::unexpected(fixture_error(source_name, node.source(), prefix, "must be a table"));
    std::string id_number;
    auto person = read_person(*table, source_name, base_dir, prefix, id_number);
    if (!person) return std::unexpected(person.error());
    if (by_number.contains(id_number)) {
      return std::unexpected(fixture_error(source_name, table->get("id_number")->source(), prefix + ".id_number",
                                           "the same number is already used by an earlier person"));
    }
    by_number.emplace(std::move(id_number), std::move(*person));
  }
  return std::unique_ptr<SimulatedNciis>(new SimulatedNciis(std::move(by_number)));
}

Result<std::unique_ptr<SimulatedNciis>> SimulatedNciis::embedded_default() {
  return from_text(embedded_nciis_fixtures(), "embedded nciis_fixtures.toml", {});
}

Result<NciisReply> SimulatedNciis::check(const NciisQuery& query) {
  auto request_id = new_nciis_request_id();
  if (!request_id) return std::unexpected(request_id.error());
  NciisReply reply;
  reply.request_id = std::move(*request_id);
  reply.checked_at = utc_iso8601(std::chrono::system_clock::now());
  const auto found = people_.find(query.id_number);
  if (found == people_.end()) {
    reply.result = NciisResult::not_found;
  } else if (found->second.service_error) {
    reply.result = NciisResult::error;
    reply.error_code = "NCIIS_SERVICE_ERROR";
    reply.error_message = "the simulated NCIIS service did not answer (fixture outcome service-error)";
  } else if (found->second.name == query.name) {
    reply.result = NciisResult::match;
    reply.photo = found->second.photo;
  } else {
    reply.result = NciisResult::mismatch;
  }
  return reply;
}

Result<std::unique_ptr<NciisAdapter>> make_nciis_adapter(const GatewayConfig& config) {
  if (auto supported = check_nciis_backend(config.nciis_backend); !supported) {
    return std::unexpected(supported.error());
  }
  auto simulator = config.nciis_fixtures.empty() ? SimulatedNciis::embedded_default()
                                                 : SimulatedNciis::from_file(config.nciis_fixtures);
  if (!simulator) return std::unexpected(simulator.error());
  return std::unique_ptr<NciisAdapter>(std::move(*simulator));
}

Result<std::string> load_or_create_nciis_hmac_key(const std::filesystem::path& data_dir) {
  const auto file = data_dir / kHmacKeyFile;
  std::error_code error;
  if (std::filesystem::exists(file, error)) {
    std::ifstream in(file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return fail("NCIIS_KEY_UNREADABLE", "cannot read " + file.string());
    if (key.size() != kHmacKeyBytes) {
      return fail("NCIIS_KEY_UNREADABLE", file.string() + " does not hold a " + std::to_string(kHmacKeyBytes) +
                                              "-byte key; restore it from backup (queries recorded with the old "
                                              "key can only be matched with it)");
    }
    return key;
  }
  std::string key(kHmacKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return fail("RANDOM_UNAVAILABLE", "the system random generator failed");
  }
  std::filesystem::create_directories(data_dir, error);
  if (auto written = write_file_atomically(file, key, 0600); !written) return std::unexpected(written.error());
  return key;
}

std::string id_number_hmac_hex(std::string_view key, std::string_view id_number) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(id_number.data()),
       id_number.size(), digest, &length);
  return hex_encode(digest, length);
}

std::string sha256_hex_of(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return hex_encode(digest, length);
}

std::string base64_encode(std::string_view bytes) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

NciisService::NciisService(std::unique_ptr<NciisAdapter> adapter, Store& store, std::string hmac_key)
    : adapter_(std::move(adapter)), store_(store), hmac_key_(std::move(hmac_key)) {}

Result<NciisReply> NciisService::check_and_record(const NciisQuery& query, std::string_view device_id,
                                                  std::string_view transaction_id) {
  auto reply = adapter_->check(query);
  if (!reply) {
    // The adapter could not even make a reply; the kiosk still gets (and the index still keeps) a
    // well-formed ERROR so that every query leaves a trace.
    auto request_id = new_nciis_request_id();
    if (!request_id) return std::unexpected(request_id.error());
    NciisReply failed;
    failed.result = NciisResult::error;
    failed.request_id = std::move(*request_id);
    failed.checked_at = utc_iso8601(std::chrono::system_clock::now());
    failed.error_code = reply.error().code;
    failed.error_message = reply.error().message;
    reply = std::move(failed);
  }
  NciisQueryRecord record{reply->request_id,
                          std::string(device_id),
                          std::string(transaction_id),
                          reply->checked_at,
                          std::string(to_string(reply->result)),
                          reply->photo ? sha256_hex_of(*reply->photo) : std::string(),
                          id_number_hmac_hex(hmac_key_, query.id_number),
                          reply->error_code};
  if (auto recorded = store_.record_nciis_query(record); !recorded) return std::unexpected(recorded.error());
  log::info("nciis_check", {{"request_id", reply->request_id},
                            {"result", std::string(to_string(reply->result))},
                            {"device_id", std::string(device_id)}});
  return reply;
}

}  // namespace kiosk::gateway

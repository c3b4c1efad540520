#include "sync/client/ca_client.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "kiosk/core/json_nesting.hpp"

namespace kiosk::sync {
namespace {

using nlohmann::json;

// The deepest valid answer is lookup: {"certificates":[{...}]}.
constexpr std::size_t kMaxJsonDepth = 8;
constexpr std::size_t kMaxTextField = 64;
constexpr std::string_view kDevicePrefix = "/v1/device/ca/";

std::unexpected<Error> invalid(std::string message) {
  return fail("CA_REPLY_INVALID", "the gateway's CA answer is invalid: " + std::move(message));
}

bool is_hex_serial(std::string_view text) {
  return !text.empty() && text.size() <= 40 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  });
}

bool is_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "YYYY-MM-DDTHH:MM:SSZ", what kiosk/core/time_text.hpp writes.
bool is_utc_timestamp(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z') {
    return false;
  }
  for (const std::size_t at : {0, 5, 8, 11, 14, 17}) {
    if (!is_digits(text.substr(at, at == 0 ? 4 : 2))) return false;
  }
  const auto two = [&](std::size_t at) { return (text[at] - '0') * 10 + (text[at + 1] - '0'); };
  return two(5) >= 1 && two(5) <= 12 && two(8) >= 1 && two(8) <= 31 && two(11) <= 23 && two(14) <= 59 && two(17) <= 60;
}

// Printable ASCII only: reasons and codes are identifiers, and a control character in one would
// reach a screen or a log.
bool is_plain_text(std::string_view text, std::size_t max_size) {
  return text.size() <= max_size &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

Result<json> parse_object(std::string_view body) {
  if (!json_nesting_within(body, kMaxJsonDepth)) return invalid("the JSON is nested too deeply");
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return invalid("the body is not a JSON object");
  return parsed;
}

Result<std::string> text_field(const json& object, const std::string& where, const char* name) {
  const auto found = object.find(name);
  if (found == object.end()) return invalid("the field \"" + where + name + "\" is missing");
  if (!found->is_string()) return invalid("the field \"" + where + name + "\" is not a string");
  return found->get<std::string>();
}

Result<CertificateState> status_from(const json& object, const std::string& where) {
  if (!object.is_object()) return invalid("\"" + (where.empty() ? std::string("body") : where) + "\" is not an object");
  CertificateState state;
  struct Field {
    const char* name;
    std::string* target;
  };
  for (const Field field :
       {Field{"serial", &state.serial}, Field{"state", &state.state}, Field{"medium", &state.medium},
        Field{"not_before", &state.not_before}, Field{"not_after", &state.not_after},
        Field{"superseded_by", &state.superseded_by}, Field{"freeze_reason", &state.freeze_reason},
        Field{"revocation_reason", &state.revocation_reason}}) {
    auto value = text_field(object, where, field.name);
    if (!value) return std::unexpected(value.error());
    *field.target = std::move(*value);
  }
  if (!is_hex_serial(state.serial)) return invalid("\"" + where + "serial\" is not 1-40 hexadecimal digits");
  static constexpr std::string_view kStates[] = {"pending_download", "active", "frozen", "revoked", "expired"};
  if (std::find(std::begin(kStates), std::end(kStates), state.state) == std::end(kStates)) {
    return invalid("\"" + where + "state\" is not a known certificate state");
  }
  if (state.medium != "hard" && state.medium != "soft") return invalid("\"" + where + "medium\" is not hard or soft");
  if (!is_utc_timestamp(state.not_before)) return invalid("\"" + where + "not_before\" is not YYYY-MM-DDTHH:MM:SSZ");
  if (!is_utc_timestamp(state.not_after)) return invalid("\"" + where + "not_after\" is not YYYY-MM-DDTHH:MM:SSZ");
  if (!state.superseded_by.empty() && !is_hex_serial(state.superseded_by)) {
    return invalid("\"" + where + "superseded_by\" is not empty or a serial");
  }
  if (!is_plain_text(state.freeze_reason, kMaxTextField)) {
    return invalid("\"" + where + "freeze_reason\" is longer than 64 bytes or not printable ASCII");
  }
  if (!is_plain_text(state.revocation_reason, kMaxTextField)) {
    return invalid("\"" + where + "revocation_reason\" is longer than 64 bytes or not printable ASCII");
  }
  return state;
}

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

// The certificate's serial as the CA writes it (BN_bn2hex: upper-case hex).
std::string serial_hex_of(X509* certificate) {
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  if (serial == nullptr) return {};
  char* hex = BN_bn2hex(serial);
  BN_free(serial);
  if (hex == nullptr) return {};
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c; });
  return text;
}

Result<std::unique_ptr<X509, X509Free>> read_pem_certificate(std::string_view pem) {
  if (pem.size() > kMaxCertificatePemBytes) return invalid("\"certificate_pem\" is larger than 16 KiB");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return invalid("\"certificate_pem\" could not be read (out of memory)");
  std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) return invalid("\"certificate_pem\" is not a PEM certificate");
  // A second certificate would leave which one is meant open.
  std::unique_ptr<X509, X509Free> another(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (another) return invalid("\"certificate_pem\" holds more than one certificate");
  return certificate;
}

json subject_json(const CaSubjectFields& subject) {
  return json{{"investor_type", subject.investor_type},
              {"id_type", subject.id_type},
              {"id_number", subject.id_number},
              {"name", subject.name}};
}

std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Result<CertificateState> parse_status_reply(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  return status_from(*parsed, "");
}

Result<IssuedCertificate> parse_issued_reply(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  const auto certificate = parsed->find("certificate");
  if (certificate == parsed->end()) return invalid("the field \"certificate\" is missing");
  auto state = status_from(*certificate, "certificate.");
  if (!state) return std::unexpected(state.error());
  IssuedCertificate issued;
  issued.certificate = std::move(*state);
  auto pem = text_field(*parsed, "", "certificate_pem");
  if (!pem) return std::unexpected(pem.error());
  auto retired = text_field(*parsed, "", "retired_serial");
  if (!retired) return std::unexpected(retired.error());
  if (!retired->empty() && !is_hex_serial(*retired)) return invalid("\"retired_serial\" is not empty or a serial");
  auto x509 = read_pem_certificate(*pem);
  if (!x509) return std::unexpected(x509.error());
  if (upper(serial_hex_of(x509->get())) != upper(issued.certificate.serial)) {
    return invalid("the serial of \"certificate_pem\" is not \"certificate.serial\"");
  }
  if (upper(*retired) == upper(issued.certificate.serial)) {
    return invalid("\"retired_serial\" is the new certificate's own serial");
  }
  issued.certificate_pem = std::move(*pem);
  issued.retired_serial = std::move(*retired);
  return issued;
}

Result<SoftDownloadGrant> parse_soft_apply_reply(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  const auto certificate = parsed->find("certificate");
  if (certificate == parsed->end()) return invalid("the field \"certificate\" is missing");
  auto state = status_from(*certificate, "certificate.");
  if (!state) return std::unexpected(state.error());
  if (state->medium != "soft") return invalid("\"certificate.medium\" of a soft apply is not soft");
  const auto download = parsed->find("download");
  if (download == parsed->end()) return invalid("the field \"download\" is missing");
  if (!download->is_object()) return invalid("\"download\" is not an object");
  SoftDownloadGrant grant;
  grant.certificate = std::move(*state);
  auto reference = text_field(*download, "download.", "reference");
  if (!reference) return std::unexpected(reference.error());
  auto code = text_field(*download, "download.", "code");
  if (!code) return std::unexpected(code.error());
  auto expires_at = text_field(*download, "download.", "expires_at");
  if (!expires_at) return std::unexpected(expires_at.error());
  // They are printed and shown as a QR code: short, printable, and present.
  if (reference->empty() || !is_plain_text(*reference, kMaxTextField)) {
    return invalid("\"download.reference\" is empty, longer than 64 bytes or not printable ASCII");
  }
  if (code->empty() || !is_plain_text(*code, kMaxTextField)) {
    return invalid("\"download.code\" is empty, longer than 64 bytes or not printable ASCII");
  }
  if (!is_utc_timestamp(*expires_at)) return invalid("\"download.expires_at\" is not YYYY-MM-DDTHH:MM:SSZ");
  grant.reference = std::move(*reference);
  grant.code = std::move(*code);
  grant.expires_at = std::move(*expires_at);
  return grant;
}

Result<std::vector<CertificateState>> parse_lookup_reply(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed) return std::unexpected(parsed.error());
  const auto list = parsed->find("certificates");
  if (list == parsed->end()) return invalid("the field \"certificates\" is missing");
  if (!list->is_array()) return invalid("\"certificates\" is not an array");
  if (list->size() > kMaxLookupCertificates) {
    return invalid("\"certificates\" has more than " + std::to_string(kMaxLookupCertificates) + " entries");
  }
  std::vector<CertificateState> states;
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto state = status_from((*list)[i], "certificates[" + std::to_string(i) + "].");
    if (!state) return std::unexpected(state.error());
    states.push_back(std::move(*state));
  }
  return states;
}

Error ca_refusal(long http_status, std::string_view body) {
  std::string code;
  std::string message;
  if (json_nesting_within(body, kMaxJsonDepth)) {
    const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      if (const auto found = parsed.find("code"); found != parsed.end() && found->is_string()) code = *found;
      if (const auto found = parsed.find("message"); found != parsed.end() && found->is_string()) message = *found;
    }
  }
  // The gateway's code is kept only when it looks like one: it becomes a stable identifier here.
  const bool usable = !code.empty() && code.size() <= kMaxTextField &&
                      std::all_of(code.begin(), code.end(),
                                  [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
  if (!is_plain_text(message, 512)) message = "(the gateway's message is not printable text)";
  const std::string prefix = "the CA refused (HTTP " + std::to_string(http_status) + ")";
  if (!usable) return Error{"CA_REFUSED", prefix + (message.empty() ? "" : ": " + message)};
  return Error{code, prefix + (message.empty() ? "" : ": " + message)};
}

Result<std::vector<std::uint8_t>> certificate_pem_to_der(std::string_view pem) {
  auto certificate = read_pem_certificate(pem);
  if (!certificate) return std::unexpected(certificate.error());
  const int size = i2d_X509(certificate->get(), nullptr);
  if (size <= 0) return invalid("\"certificate_pem\" cannot be encoded as DER");
  std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
  unsigned char* cursor = der.data();
  if (i2d_X509(certificate->get(), &cursor) != size) return invalid("\"certificate_pem\" cannot be encoded as DER");
  return der;
}

Result<std::string> CaClient::post(std::string_view path, const std::string& body) {
  auto response = client_.post_json(std::string(kDevicePrefix) + std::string(path), body);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(ca_refusal(response->status, response->body));
  return std::move(response->body);
}

Result<IssuedCertificate> CaClient::apply_hard(const std::string& request_id, const CaSubjectFields& subject,
                                               const std::string& csr_pem) {
  auto body = post(
      "apply",
      dump(json{
          {"request_id", request_id}, {"subject", subject_json(subject)}, {"csr_pem", csr_pem}, {"medium", "hard"}}));
  if (!body) return std::unexpected(body.error());
  return parse_issued_reply(*body);
}

Result<SoftDownloadGrant> CaClient::apply_soft(const std::string& request_id, const CaSubjectFields& subject) {
  auto body =
      post("apply", dump(json{{"request_id", request_id}, {"subject", subject_json(subject)}, {"medium", "soft"}}));
  if (!body) return std::unexpected(body.error());
  return parse_soft_apply_reply(*body);
}

Result<IssuedCertificate> CaClient::renew(const std::string& request_id, const std::string& serial,
                                          const std::string& csr_pem) {
  auto body = post("renew", dump(json{{"request_id", request_id}, {"serial", serial}, {"csr_pem", csr_pem}}));
  if (!body) return std::unexpected(body.error());
  return parse_issued_reply(*body);
}

Result<IssuedCertificate> CaClient::reissue(const std::string& request_id, const std::string& serial,
                                            const std::string& reason, const std::string& csr_pem,
                                            const std::string& medium) {
  auto body = post("reissue", dump(json{{"request_id", request_id},
                                        {"serial", serial},
                                        {"reason", reason},
                                        {"csr_pem", csr_pem},
                                        {"medium", medium}}));
  if (!body) return std::unexpected(body.error());
  return parse_issued_reply(*body);
}

Result<CertificateState> CaClient::freeze(const std::string& request_id, const std::string& serial,
                                          const std::string& reason) {
  auto body = post("freeze", dump(json{{"request_id", request_id}, {"serial", serial}, {"reason", reason}}));
  if (!body) return std::unexpected(body.error());
  return parse_status_reply(*body);
}

Result<CertificateState> CaClient::unfreeze(const std::string& request_id, const std::string& serial) {
  auto body = post("unfreeze", dump(json{{"request_id", request_id}, {"serial", serial}}));
  if (!body) return std::unexpected(body.error());
  return parse_status_reply(*body);
}

Result<CertificateState> CaClient::revoke(const std::string& request_id, const std::string& serial,
                                          const std::string& reason) {
  auto body = post("revoke", dump(json{{"request_id", request_id}, {"serial", serial}, {"reason", reason}}));
  if (!body) return std::unexpected(body.error());
  return parse_status_reply(*body);
}

Result<CertificateState> CaClient::status(const std::string& serial) {
  // The serial becomes part of the path: only hex digits may go there.
  if (!is_hex_serial(serial)) return fail("CA_SERIAL_INVALID", "a certificate serial is 1-40 hexadecimal digits");
  auto response = client_.get(std::string(kDevicePrefix) + "status/" + serial);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(ca_refusal(response->status, response->body));
  return parse_status_reply(response->body);
}

Result<std::vector<CertificateState>> CaClient::lookup(const CaSubjectFields& subject) {
  auto body = post("lookup", dump(json{{"subject", subject_json(subject)}}));
  if (!body) return std::unexpected(body.error());
  return parse_lookup_reply(*body);
}

}  // namespace kiosk::sync

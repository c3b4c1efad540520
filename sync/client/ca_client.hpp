// The kiosk's side of the head-office CA (issue 5): the gateway's /v1/device/ca/* routes
// (sync/gateway/ca/README.md) over the device's mutual-TLS link, and strict validation of every
// answer before the token worker or the workflow sees it.
//
// Errors keep their origin so the kiosk can explain them: transport failures keep HttpsClient's
// codes (GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT, ...); a non-200 answer keeps the gateway's own code
// (CA_ILLEGAL_TRANSITION, CA_DUPLICATE_LIVE, CA_UNKNOWN_SERIAL, ...; CA_REFUSED when the body names
// none); a bad 200 answer is CA_REPLY_INVALID naming the field. Nothing here logs, and no error
// message carries the subject's name or ID number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::sync {

// The verified subject, as the CA takes it (it ignores the request's own subject).
struct CaSubjectFields {
  std::string investor_type;  // natural | institution
  std::string id_type;        // prc-id, hkmo-permit, ...
  std::string id_number;
  std::string name;
};

// A certificate's state at the CA (GET /v1/device/ca/status/<serial>).
struct CertificateState {
  std::string serial;  // upper-case hex, as the CA writes it
  std::string state;   // pending_download | active | frozen | revoked | expired
  std::string medium;  // hard | soft
  std::string not_before;
  std::string not_after;  // UTC, YYYY-MM-DDTHH:MM:SSZ
  std::string superseded_by;
  std::string freeze_reason;
  std::string revocation_reason;
};

struct IssuedCertificate {
  CertificateState certificate;
  std::string certificate_pem;  // checked: one X.509 certificate whose serial is certificate.serial
  std::string retired_serial;   // renew / reissue: the certificate this one replaces
};

// Soft apply: the investor downloads the certificate later with the reference and code (REQ-50).
struct SoftDownloadGrant {
  CertificateState certificate;
  std::string reference;
  std::string code;
  std::string expires_at;  // UTC, YYYY-MM-DDTHH:MM:SSZ
};

inline constexpr std::size_t kMaxCertificatePemBytes = 16 * 1024;
inline constexpr std::size_t kMaxLookupCertificates = 64;

// Pure validation of a 200 body (public for tests and the ca_reply fuzzer). Each returns
// CA_REPLY_INVALID naming the field that is wrong. Unknown extra fields are ignored.
Result<CertificateState> parse_status_reply(std::string_view body);
Result<IssuedCertificate> parse_issued_reply(std::string_view body);
Result<SoftDownloadGrant> parse_soft_apply_reply(std::string_view body);
Result<std::vector<CertificateState>> parse_lookup_reply(std::string_view body);
// A non-200 answer as an error: the gateway's {"code","message"} when it sent one, else CA_REFUSED.
Error ca_refusal(long http_status, std::string_view body);

// The DER of a single PEM certificate (CA_REPLY_INVALID when it is not one).
Result<std::vector<std::uint8_t>> certificate_pem_to_der(std::string_view pem);

// One client per thread, like the HttpsClient it borrows (which must outlive it).
class CaClient {
 public:
  explicit CaClient(HttpsClient& client) : client_(client) {}

  Result<IssuedCertificate> apply_hard(const std::string& request_id, const CaSubjectFields& subject,
                                       const std::string& csr_pem);
  Result<SoftDownloadGrant> apply_soft(const std::string& request_id, const CaSubjectFields& subject);
  Result<IssuedCertificate> renew(const std::string& request_id, const std::string& serial, const std::string& csr_pem);
  // medium "hard" or "soft"; csr_pem empty for soft.
  Result<IssuedCertificate> reissue(const std::string& request_id, const std::string& serial, const std::string& reason,
                                    const std::string& csr_pem, const std::string& medium);
  Result<CertificateState> freeze(const std::string& request_id, const std::string& serial, const std::string& reason);
  Result<CertificateState> unfreeze(const std::string& request_id, const std::string& serial);
  Result<CertificateState> revoke(const std::string& request_id, const std::string& serial, const std::string& reason);
  Result<CertificateState> status(const std::string& serial);
  // Every certificate the CA holds for this subject (to choose one when the token is lost).
  Result<std::vector<CertificateState>> lookup(const CaSubjectFields& subject);

 private:
  Result<std::string> post(std::string_view path, const std::string& body);

  HttpsClient& client_;
};

}  // namespace kiosk::sync

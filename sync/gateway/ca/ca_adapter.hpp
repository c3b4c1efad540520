// The head-office CA link: the interface every CA back end implements (the embedded `local-ca`
// today, the broker's or CSDC's CA later). Six lifecycle operations (REQ-30..37, M3) plus a
// status query, the soft-certificate download (REQ-31, REQ-50) and a lookup by subject. Every
// changing operation carries a request id and is idempotent: the same id with
// the same content returns the stored answer and never issues twice; the same id with other
// content is CA_REQUEST_ID_REUSED.
//
// Stable error codes: CA_ILLEGAL_TRANSITION (names the from-state and the operation),
// CA_UNKNOWN_SERIAL, CA_REQUEST_INVALID (bad CSR, bad signature, unsupported key),
// CA_REQUEST_ID_REUSED, CA_DUPLICATE_LIVE, CA_OUTSIDE_RENEWAL_WINDOW, CA_KEY_REUSED,
// CA_REASON_INVALID, CA_SUBJECT_INVALID, CA_STORAGE_FAILED, CA_ISSUE_FAILED; for the soft download
// SOFTCERT_CODE_INVALID, SOFTCERT_EXPIRED, SOFTCERT_LOCKED, SOFTCERT_ALREADY_DOWNLOADED.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/certificate/certificate.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::gateway::ca {

// Who the certificate is for, as the kiosk verified it (never taken from the CSR, which the
// applicant's software fills in).
struct CaSubject {
  certificate::Subject identity;  // investor type, document type, ID number / credit code
  std::string common_name;        // the name on the document, UTF-8
  certificate::SubjectKind kind = certificate::SubjectKind::person;
};

struct ApplyRequest {
  std::string request_id;
  CaSubject subject;
  // PKCS#10, PEM or DER, for hard only. A soft apply carries none (CA_REQUEST_INVALID otherwise):
  // the investor's own software makes the key and sends its request with the download code.
  std::string csr;
  Medium medium = Medium::hard;
};

struct RenewRequest {
  std::string request_id;
  std::string old_serial;
  std::string csr;  // a new key: the old certificate's key is refused (CA_KEY_REUSED)
};

struct FreezeRequest {
  std::string request_id;
  std::string serial;
  std::string reason;  // LOST_MEDIUM, SUSPECTED_COMPROMISE, HOLDER_REQUEST, OTHER (REQ-34)
};

struct UnfreezeRequest {
  std::string request_id;
  std::string serial;
};

struct ReissueRequest {
  std::string request_id;
  std::string old_serial;
  std::string reason;  // LOST, DAMAGED, LOCKED (M3)
  std::string csr;     // new key on the new medium
  Medium medium = Medium::hard;
};

struct RevokeRequest {
  std::string request_id;
  std::string serial;
  std::string reason;  // HOLDER_REQUEST, KEY_COMPROMISE, OTHER
};

// A certificate as the CA sees it now (state already accounts for expiry by time).
struct CertificateStatus {
  std::string serial;  // upper-case hex, no leading zeros (OpenSSL's BN_bn2hex form)
  CertState state = CertState::active;
  Medium medium = Medium::hard;
  std::int64_t not_before_unix = 0;
  std::int64_t not_after_unix = 0;
  std::string superseded_by;      // successor's serial after renew or reissue
  std::string freeze_reason;      // while frozen
  std::string revocation_reason;  // once revoked
};

// What a soft apply hands the investor (printed or shown as a QR code by the kiosk). Only a keyed
// hash of `code` is stored; a retried apply (same request id) returns the same reference with a
// new code, and the earlier code stops working.
struct SoftDownloadGrant {
  std::string reference;  // "SC" + 14 digits
  std::string code;       // 10 characters from 23456789ABCDEFGHJKMNPQRSTUVWXYZ
  std::int64_t expires_at_unix = 0;
};

// The answer to apply, renew and reissue.
struct IssuedCertificate {
  CertificateStatus status;
  std::string certificate_pem;                // empty for a soft apply (no certificate until the download)
  std::string retired_serial;                 // renew and reissue: the certificate this one replaces
  std::optional<SoftDownloadGrant> download;  // soft apply only
};

// The answer to a soft download: the now active certificate and its chain (issuing CA, root).
struct DownloadedCertificate {
  CertificateStatus status;
  std::string certificate_pem;
  std::string chain_pem;
};

class CaAdapter {
 public:
  virtual ~CaAdapter() = default;
  virtual Result<IssuedCertificate> apply(const ApplyRequest& request) = 0;
  virtual Result<IssuedCertificate> renew(const RenewRequest& request) = 0;
  virtual Result<CertificateStatus> freeze(const FreezeRequest& request) = 0;
  virtual Result<CertificateStatus> unfreeze(const UnfreezeRequest& request) = 0;
  // Revokes the old certificate and issues the new one as one unit: if either fails, neither happens.
  virtual Result<IssuedCertificate> reissue(const ReissueRequest& request) = 0;
  virtual Result<CertificateStatus> revoke(const RevokeRequest& request) = 0;
  virtual Result<CertificateStatus> status(std::string_view serial) = 0;
  // Issues the reserved soft certificate for the CSR's key (pending_download -> active, REQ-31).
  // Unknown reference and wrong code give the same SOFTCERT_CODE_INVALID; the same reference, code
  // and CSR retried after success return the same certificate.
  virtual Result<DownloadedCertificate> download_soft(std::string_view reference, std::string_view code,
                                                      std::string_view csr) = 0;
  // Every certificate of the subject (same identity and kind) that is not revoked, newest first
  // (REQ-38: the kiosk asks only for the subject it has just verified).
  virtual Result<std::vector<CertificateStatus>> lookup(const CaSubject& subject) = 0;
};

// Request ids: 1-64 letters, digits, '.', '_', ':', '-' (like the NCIIS transaction id).
bool is_valid_request_id(std::string_view request_id);

}  // namespace kiosk::gateway::ca

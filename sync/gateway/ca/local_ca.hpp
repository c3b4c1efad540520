// `local-ca`: the embedded default CA back end on OpenSSL 3. A root CA and an issuing CA made on
// first start under DATA/ca (keys 0600, written temp -> fsync -> rename), investor certificates
// from a configurable profile, and the certificate states in the gateway's SQLite index
// (DATA/index.sqlite, tables ca_certificates, ca_requests and ca_soft_downloads; WAL,
// synchronous=FULL).
// Each operation's state change and its ca_requests row commit in one SQL transaction, so a
// retried request finds either nothing (and runs) or the stored answer (and returns it).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "sync/gateway/ca/ca_adapter.hpp"

namespace kiosk::gateway::ca {

// The investor-certificate profile (config: [ca] in gateway.toml, see the README).
struct CaProfile {
  int validity_days = 730;
  int renewal_window_days = 30;                // renew is allowed from this many days before not_after (REQ-33)
  bool allow_second_live_certificate = false;  // REQ-32, TBD-CSDC
  int soft_download_valid_hours = 24;          // how long a soft certificate's download code works
  int soft_download_max_attempts = 5;          // wrong codes before the reservation locks
  std::vector<std::string> freeze_reasons{"LOST_MEDIUM", "SUSPECTED_COMPROMISE", "HOLDER_REQUEST", "OTHER"};
  std::vector<std::string> reissue_reasons{"LOST", "DAMAGED", "LOCKED"};
  std::vector<std::string> revoke_reasons{"HOLDER_REQUEST", "KEY_COMPROMISE", "OTHER"};
};

struct LocalCaOptions {
  std::filesystem::path data_dir;
  CaProfile profile;
  const Clock* clock = nullptr;  // null: the system clock
  // Test hook for atomicity: called at named steps inside a transaction ("reissue:after-revoke",
  // "reissue:after-issue"); an error makes the operation roll back and return that error.
  std::function<Result<void>(std::string_view step)> fault_hook;
};

struct CaFiles {
  std::filesystem::path dir;
  std::filesystem::path root_cert;
  std::filesystem::path root_key;
  std::filesystem::path issuing_cert;
  std::filesystem::path issuing_key;
  std::filesystem::path subject_key;  // HMAC key for the subject hash stored instead of ID numbers
  // HMAC key for the soft download codes' hashes. Not part of the CA's identity: made when missing
  // (also in a DATA/ca from before soft downloads); losing it only voids codes not yet used.
  std::filesystem::path download_code_key;
};
CaFiles ca_files(const std::filesystem::path& data_dir);

class LocalCa final : public CaAdapter {
 public:
  // Creates DATA/ca on first start; CA_BROKEN when only part of it exists or the issuing CA does
  // not chain to the root; CA_STORAGE_FAILED when the index cannot be opened.
  static Result<std::unique_ptr<LocalCa>> open(LocalCaOptions options);
  ~LocalCa() override;

  Result<IssuedCertificate> apply(const ApplyRequest& request) override;
  Result<IssuedCertificate> renew(const RenewRequest& request) override;
  Result<CertificateStatus> freeze(const FreezeRequest& request) override;
  Result<CertificateStatus> unfreeze(const UnfreezeRequest& request) override;
  Result<IssuedCertificate> reissue(const ReissueRequest& request) override;
  Result<CertificateStatus> revoke(const RevokeRequest& request) override;
  Result<CertificateStatus> status(std::string_view serial) override;
  Result<DownloadedCertificate> download_soft(std::string_view reference, std::string_view code,
                                              std::string_view csr) override;
  Result<std::vector<CertificateStatus>> lookup(const CaSubject& subject) override;

  // A CRL (PEM) signed by the issuing CA: revoked certificates with their reason, frozen ones as
  // certificateHold. Valid from now for `next_update`.
  Result<std::string> crl_pem(std::chrono::hours next_update = std::chrono::hours(24));
  [[nodiscard]] std::string root_certificate_pem() const;
  [[nodiscard]] std::string issuing_certificate_pem() const;
  [[nodiscard]] const CaFiles& files() const { return files_; }

  struct Impl;

 private:
  explicit LocalCa(std::unique_ptr<Impl> impl, CaFiles files);
  std::unique_ptr<Impl> impl_;
  CaFiles files_;
};

}  // namespace kiosk::gateway::ca

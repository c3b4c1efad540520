// Head-office intake of evidence packages: the CompletedUploadSink that turns a complete upload
// into a verified, stored package and a signed receipt (or a recorded rejection). For each upload:
//   1. the archive is extracted strictly into a temporary directory under DATA/evidence/tmp;
//   2. verify_package with the public key of the client certificate the TLS layer verified when the
//      upload was created (that device is the manifest signer) — signature, manifest, keys.json,
//      membership, every stream's ciphertext hash;
//   3. manifest.kiosk_id == the uploading device; the upload's package_id and transaction_id equal
//      the manifest's ("tx-%08lld" of transaction.id);
//   4. with a head-office recipient key configured: that recipient's wrapped data key unwraps and
//      every stream's chunk tags verify with it (keys.json is outside the signature);
//   5. audit continuity: a checkpoint count this device stored before must carry the same head hash;
//   6. retain_until (retention.hpp), store.put, then a receipt signed with the receipt key, recorded
//      in table evidence_receipts so the same receipt is answered every time.
// A package that fails 1-5 is recorded in table evidence_rejections with the error code and the sink
// reports success: the upload is finished and a permanently bad package must not be offered again
// forever. Storage and signing failures are returned (the upload store offers the upload again at the
// next start). The temporary directory is removed on every path. Thread-safe.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/error.hpp"
#include "sync/gateway/evidence/evidence_store.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace kiosk::gateway::evidence {

struct IntakeOptions {
  int retention_years = 20;
  // Optional head-office recipient private key (step 4 above); null skips that step.
  EVP_PKEY* recipient_key = nullptr;
};

// What head office says about one (device, package).
struct ReceiptAnswer {
  enum class Kind { receipt, rejected, unknown };
  Kind kind = Kind::unknown;
  std::string receipt_wire;      // kind == receipt: the signed wire JSON (sync/package/receipt.hpp)
  std::string rejection_reason;  // kind == rejected: the verification error code
  std::string rejection_message;
};

class EvidenceIntake final : public uploads::CompletedUploadSink {
 public:
  // Opens the tables evidence_receipts and evidence_rejections in DATA/index.sqlite and the
  // temporary directory DATA/evidence/tmp (emptied: leftovers of a crash). `store`, `clock`,
  // `receipt_key` and `receipt_certificate` must outlive the intake. EVIDENCE_STORE_FAILED.
  static Result<std::unique_ptr<EvidenceIntake>> open(const std::filesystem::path& data_dir, EvidenceStore& store,
                                                      EVP_PKEY* receipt_key, X509* receipt_certificate,
                                                      const Clock& clock, IntakeOptions options = {});
  ~EvidenceIntake() override;
  EvidenceIntake(const EvidenceIntake&) = delete;
  EvidenceIntake& operator=(const EvidenceIntake&) = delete;

  Result<void> accept(const uploads::CompletedUpload& upload) override;

  // The receipt, the rejection, or nothing for this device's package. EVIDENCE_STORE_FAILED.
  Result<ReceiptAnswer> answer_for(std::string_view device_id, std::string_view package_id);

 private:
  struct Impl;
  explicit EvidenceIntake(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "tx-%08lld": the transaction id form of uploads and receipts for a manifest's transaction.id.
std::string transaction_id_text(std::int64_t transaction_id);

}  // namespace kiosk::gateway::evidence

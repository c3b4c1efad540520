// Sealing one finished transaction into an evidence package directory (FORMAT.md, "Package
// layout"): every evidence file as a sealed stream under one fresh data key, the data key wrapped
// for each head-office recipient, and a canonical manifest signed by the device key. The directory
// appears under its final name only when complete and durable.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/clock.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "sync/package/manifest.hpp"

namespace kiosk::sync::package {

struct SealedPackage {
  std::filesystem::path directory;  // <out_dir>/tx-<8-digit id>.csdcpkg
  Manifest manifest;
};

// "tx-00000042.csdcpkg": the journal's own naming of a transaction's evidence folder.
std::string package_directory_name(journal::TxId transaction_id);

// Seals a closed transaction of the journal whose evidence files live under `evidence_dir`. Each
// file's size and SHA-256 are checked against the journal row while it is encrypted: a changed
// file is refused (PACKAGE_EVIDENCE_DAMAGED), never packaged. Other errors: PACKAGE_TRANSACTION_OPEN,
// PACKAGE_NO_RECIPIENT, PACKAGE_RECIPIENT_DUPLICATE, PACKAGE_EXISTS (the final directory is already
// there: sealing never overwrites), PACKAGE_IO_FAILED, and the stream and wrapping errors. Built in
// `<name>.tmp` (a leftover of a crash is removed first), every file and the directory fsynced,
// renamed without replacing anything, and the parent fsynced. `checkpoint` is the audit chain head
// to record (AuditLog::head()); sealed_at comes from `clock`.
Result<SealedPackage> seal_package(const journal::TransactionRecord& record, const std::filesystem::path& evidence_dir,
                                   const std::filesystem::path& out_dir, EVP_PKEY* device_key,
                                   std::span<EVP_PKEY* const> recipients, const audit::Checkpoint& checkpoint,
                                   const Clock& clock);

}  // namespace kiosk::sync::package

// The evidence package manifest: what the device signs for one transaction (FORMAT.md, "Manifest"
// and "Canonical JSON"). It holds only what the journal holds (codes, staff ids, times, hashes),
// never personal data, and is serialised as canonical JSON so that the signed bytes are the one
// possible encoding of the content.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "sync/package/recipients.hpp"

namespace kiosk::sync::package {

// The fixed files of a package directory; every other file is a sealed stream the manifest names.
inline constexpr std::string_view kManifestFileName = "manifest.json";
inline constexpr std::string_view kSignatureFileName = "manifest.sig";
inline constexpr std::string_view kKeysFileName = "keys.json";
inline constexpr std::string_view kPackageSuffix = ".csdcpkg";
inline constexpr std::string_view kStreamFileSuffix = ".sealed";

inline constexpr int kManifestFormatVersion = 1;
// Suite 1: AES-256-GCM streams, SHA-256 hashes, ECDSA P-256 manifest signature. It is the suite
// number of the stream header too; 2 and 3 are reserved for SM4/SM3/SM2 and refused today.
inline constexpr int kSuiteAes256GcmSha256 = 1;

// Upper bound on manifest.json: a transaction has about a dozen steps with a few files each, so
// 1 MiB is far above any real manifest and keeps a hostile one from costing memory.
inline constexpr std::size_t kMaxManifestBytes = 1024 * 1024;
// Canonical JSON integers stay within what every JSON implementation reads exactly (I-JSON).
inline constexpr std::int64_t kMaxJsonInteger = (std::int64_t{1} << 53) - 1;

struct ManifestEvidence {
  std::string kind;         // [a-z0-9_-], 1..40
  std::string stream_file;  // the sealed stream's file name in the package directory
  std::uint64_t plaintext_size = 0;
  std::string plaintext_sha256;  // lowercase hex
  std::uint64_t ciphertext_size = 0;
  std::string ciphertext_sha256;  // lowercase hex
};

struct ManifestStep {
  std::int64_t sequence = 0;  // 1, 2, ... in order
  StepId step = StepId::consent;
  std::string actor_staff_id;           // empty when no staff member acted
  std::optional<StaffRole> actor_role;  // set exactly when actor_staff_id is
  std::string started_at;               // UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string ended_at;
  std::string result;  // the step's stable outcome code
  std::vector<ManifestEvidence> evidence;
};

struct ManifestTransaction {
  std::int64_t id = 0;  // the journal's transaction id on this kiosk
  Operation operation = Operation::apply;
  Channel channel = Channel::counter;
  InvestorType investor_type = InvestorType::natural;
  Medium medium = Medium::hard;
  std::string rule_pack_version;
  std::string terms_version_hash;
  TxState state = TxState::completed;  // never open: a package is sealed when its transaction ends
  std::string outcome_reason;          // the close or recovery reason code; may be empty
  std::string opened_at;
  std::string closed_at;
};

struct Manifest {
  int format_version = kManifestFormatVersion;
  int suite = kSuiteAes256GcmSha256;
  std::string package_id;  // 32 lowercase hex digits, random per package
  std::string kiosk_id;
  ManifestTransaction transaction;
  std::vector<ManifestStep> steps;
  audit::Checkpoint audit_checkpoint;  // the kiosk's audit chain at sealing: entries 1..count
  std::string sealed_at;
  std::vector<std::string> recipients;  // recipient_id_of() of each head-office key, sorted
};

// Re-encodes any JSON text canonically (FORMAT.md "Canonical JSON"): keys sorted byte-wise, no
// insignificant whitespace, integers only. PACKAGE_JSON_INVALID for text that is not JSON or
// cannot be made canonical (a fraction, an integer beyond +-(2^53-1), a duplicate key, bad UTF-8).
Result<std::string> canonicalize_json(std::string_view json_text);

// The canonical bytes of a manifest: what manifest.json holds and what the signature covers.
// PACKAGE_MANIFEST_INVALID (naming the field) when the manifest breaks a rule of FORMAT.md.
Result<std::string> serialize_manifest(const Manifest& manifest);

// Parses manifest.json. Accepts only canonical bytes of a valid manifest: any other spelling of
// the same content, an unknown or missing field, or a value outside its rule gives
// PACKAGE_MANIFEST_INVALID naming the field; a suite other than 1 gives PACKAGE_SUITE_UNSUPPORTED.
Result<Manifest> parse_manifest(std::string_view bytes);

// Checks the manifest's rules (the same checks serialize_manifest applies).
Result<void> validate_manifest(const Manifest& manifest);

// keys.json: the wrapped data keys, canonical JSON too, sorted by recipient id. It sits outside
// the signature on purpose (FORMAT.md "Package layout"): head office may re-wrap the data key for a
// new recipient during the 20-year retention without the kiosk's key.
inline constexpr std::size_t kMaxKeysBytes = 64 * 1024;
Result<std::string> serialize_keys(std::span<const WrappedKey> keys);
// PACKAGE_KEYS_INVALID for anything but the canonical encoding of 1 to 16 well-formed entries.
Result<std::vector<WrappedKey>> parse_keys(std::string_view bytes);

std::string_view to_string(WrapAlgorithm algorithm);

// Bytes as lowercase hex digits, the form every hash, id and wrapped key takes in the package's JSON.
std::string lower_hex(std::span<const std::uint8_t> bytes);

// True for an EC key on P-256, the only device-key type of suite 1.
bool is_p256_key(EVP_PKEY* key);

// ECDSA P-256 over SHA-256 of `canonical_manifest`, DER-encoded: the content of manifest.sig. The
// key is used only through EVP_DigestSign, so a key held by a provider (PKCS#11 token, TPM) works
// the same as a file key. PACKAGE_DEVICE_KEY_UNSUITABLE for a key that is not EC P-256,
// PACKAGE_SIGNING_FAILED when signing fails.
Result<std::vector<std::uint8_t>> sign_manifest(std::string_view canonical_manifest, EVP_PKEY* device_key);

// Checks a DER ECDSA P-256/SHA-256 signature over the exact manifest bytes. PACKAGE_SIGNATURE_INVALID
// when it does not verify (a wrong key included), PACKAGE_DEVICE_KEY_UNSUITABLE when the key is not
// EC P-256.
Result<void> verify_manifest_signature(std::string_view manifest_bytes, std::span<const std::uint8_t> signature,
                                       EVP_PKEY* device_public_key);

}  // namespace kiosk::sync::package

// Checking and opening an evidence package directory (FORMAT.md, "Package layout" and
// "Signature"): head office and `kioskctl evidence verify` check a package with the device's public
// key alone; a recipient's private key also decrypts it.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/package/manifest.hpp"
#include "sync/package/recipients.hpp"

namespace kiosk::sync::package {

struct VerifiedPackage {
  Manifest manifest;
  std::vector<WrappedKey> wrapped_keys;
};

struct OpenedPackage {
  Manifest manifest;
  std::vector<std::filesystem::path> files;  // in manifest order: <out_dir>/<stream file without .sealed>
};

// Checks, in this order, and stops at the first problem: manifest.json and manifest.sig present
// (PACKAGE_FILE_MISSING); the signature (PACKAGE_SIGNATURE_INVALID); the manifest itself
// (PACKAGE_MANIFEST_INVALID naming the field, PACKAGE_SUITE_UNSUPPORTED); keys.json and that it
// holds a wrapped key for every recipient the manifest names (PACKAGE_KEYS_INVALID); that the
// directory holds exactly the three fixed files and the streams the manifest names, all regular
// files (PACKAGE_FILE_MISSING, PACKAGE_UNEXPECTED_FILE); and every stream's size and SHA-256
// (PACKAGE_CIPHERTEXT_HASH_MISMATCH). Reads each stream once in constant memory; decrypts nothing.
Result<VerifiedPackage> verify_package(const std::filesystem::path& package_dir, EVP_PKEY* device_public_key);

// verify_package, then unwraps the data key with `recipient_private_key` (PACKAGE_WRONG_RECIPIENT
// when keys.json holds no key for it, PACKAGE_KEY_UNWRAP_FAILED when its wrapped key does not
// open) and decrypts every stream into a staging folder inside `out_dir` (created if needed),
// checking each stream's tags (the stream errors: PACKAGE_CHUNK_TAMPERED, PACKAGE_TRUNCATED, ...)
// and its plaintext size and SHA-256 against the manifest (PACKAGE_PLAINTEXT_HASH_MISMATCH). Only
// when every file checked out are they renamed into `out_dir`: a failed open releases nothing.
// PACKAGE_OUTPUT_EXISTS when a file to be written is already in `out_dir`.
Result<OpenedPackage> open_package(const std::filesystem::path& package_dir, EVP_PKEY* device_public_key,
                                   EVP_PKEY* recipient_private_key, const std::filesystem::path& out_dir);

}  // namespace kiosk::sync::package

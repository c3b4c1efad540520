// Shared by the uploader tests and the upload benchmark: a package directory of a given size, the
// archive bytes the gateway must end up with, and a device key on a SoftHSM2 token with a certificate
// from the gateway's development CA.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "sync/client/https_client.hpp"

namespace kiosk::sync::testing {

inline constexpr const char* kTokenLabel = "kiosk";
inline constexpr const char* kTokenKeyUri = "pkcs11:token=kiosk;object=devkey;type=private";

// <parent>/<name>/ with manifest.json, manifest.sig, keys.json and video.sealed (`video_bytes`
// deterministic pseudo-random bytes from `seed`). Returns the directory.
std::filesystem::path make_package_dir(const std::filesystem::path& parent, const std::string& name,
                                       std::uint64_t video_bytes, std::uint32_t seed);
// The whole PackageArchiveReader archive of `package_dir` (empty on failure).
std::string archive_bytes(const std::filesystem::path& package_dir);
// DATA/uploads/complete/<id> for a Location, or "" when it is not there.
std::string completed_upload(const std::filesystem::path& gateway_data_dir, const std::string& location);
std::string read_whole_file(const std::filesystem::path& file);
// The port of an https://host:port URL.
std::uint16_t url_port(const std::string& url);

// Generates an EC P-256 key "devkey" on the token `kTokenLabel` (already initialised, SOFTHSM2_CONF
// set), issues a client certificate for it (CN = device_id) from the gateway's dev CA in
// `gateway_data_dir`/pki and writes it to `cert_file`; writes the user PIN to `pin_file`.
// Returns "" or what failed.
std::string provision_token_identity(const std::filesystem::path& gateway_data_dir, const std::string& device_id,
                                     const std::filesystem::path& cert_file, const std::filesystem::path& pin_file);

}  // namespace kiosk::sync::testing

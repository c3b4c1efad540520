#include "upload_test_support.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "kiosk/core/openssl_handles.hpp"
#include "softhsm_fixture.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/package/package_archive.hpp"

namespace kiosk::sync::testing {

namespace fs = std::filesystem;

std::string read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path make_package_dir(const fs::path& parent, const std::string& name, std::uint64_t video_bytes,
                          std::uint32_t seed) {
  const fs::path dir = parent / name;
  fs::create_directories(dir);
  std::ofstream(dir / "manifest.json", std::ios::binary) << "{\"package_id\":\"" << name << "\"}";
  std::ofstream(dir / "manifest.sig", std::ios::binary) << "signature-bytes";
  std::ofstream(dir / "keys.json", std::ios::binary) << "{\"recipients\":[]}";
  std::ofstream video(dir / "video.sealed", std::ios::binary);
  std::vector<char> block(64 * 1024);
  std::uint32_t state = seed | 1U;
  for (std::uint64_t written = 0; written < video_bytes;) {
    for (char& byte : block) {
      state ^= state << 13;  // xorshift32: cheap bytes that do not compress
      state ^= state >> 17;
      state ^= state << 5;
      byte = static_cast<char>(state);
    }
    const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(block.size(), video_bytes - written));
    video.write(block.data(), n);
    written += static_cast<std::uint64_t>(n);
  }
  return dir;
}

std::string archive_bytes(const fs::path& package_dir) {
  auto archive = package::PackageArchiveReader::open(package_dir);
  if (!archive) return {};
  std::string bytes(archive->size(), '\0');
  auto read = archive->read_at(0, std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()));
  if (!read || *read != bytes.size()) return {};
  return bytes;
}

std::string completed_upload(const fs::path& gateway_data_dir, const std::string& location) {
  const auto slash = location.rfind('/');
  if (slash == std::string::npos) return {};
  const fs::path file = gateway_data_dir / "uploads" / "complete" / location.substr(slash + 1);
  if (!fs::exists(file)) return {};
  return read_whole_file(file);
}

std::uint16_t url_port(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

std::string provision_token_identity(const fs::path& gateway_data_dir, const std::string& device_id,
                                     const fs::path& cert_file, const fs::path& pin_file) {
  const std::string keygen = std::string(PKCS11_TOOL) + " --module " + SOFTHSM2_MODULE + " --token-label " +
                             kTokenLabel + " --login --pin " + hal::token::testing::kUserPin +
                             " --keypairgen --key-type EC:prime256v1 --label devkey --id 01 > /dev/null 2>&1";
  if (std::system(keygen.c_str()) != 0) return "pkcs11-tool --keypairgen failed";
  std::ofstream(pin_file) << hal::token::testing::kUserPin << "\n";
  // The public key is read with pkcs11-tool (no login), not through the engine: a login in this
  // process would hide a wrong PIN from the tests that follow (the module keeps the session).
  const fs::path public_der = pin_file.parent_path() / "devkey-public.der";
  const std::string read = std::string(PKCS11_TOOL) + " --module " + SOFTHSM2_MODULE + " --token-label " + kTokenLabel +
                           " --read-object --type pubkey --label devkey -o " + public_der.string() +
                           " > /dev/null 2>&1";
  if (std::system(read.c_str()) != 0) return "pkcs11-tool --read-object failed";
  const std::string der = read_whole_file(public_der);
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  openssl::Key key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (!key) return "the token's public key is not a DER SubjectPublicKeyInfo";
  const auto pki = gateway::dev_pki_paths(gateway_data_dir);
  auto ca_cert = gateway::load_certificate(pki.ca_cert);
  auto ca_key = gateway::load_private_key(pki.ca_key);
  if (!ca_cert || !ca_key) return "the gateway's dev CA cannot be read";
  auto cert = gateway::issue_certificate(gateway::CertSpec{.common_name = device_id,
                                                           .profile = gateway::CertProfile::tls_client,
                                                           .subject_alt_names = {},
                                                           .not_before_offset = std::chrono::seconds(-300),
                                                           .not_after_offset = std::chrono::hours(24)},
                                         key.get(), ca_cert->get(), ca_key->get());
  if (!cert) return "issue_certificate: " + cert.error().to_string();
  auto pem = gateway::certificate_pem(cert->get());
  if (!pem) return "certificate_pem failed";
  std::ofstream(cert_file) << *pem;
  return {};
}

}  // namespace kiosk::sync::testing

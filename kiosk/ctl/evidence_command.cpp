#include "kiosk/ctl/evidence_command.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/ctl/evidence_export.hpp"
#include "sync/package/package_reader.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;
namespace package = sync::package;

constexpr int kExitValid = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// A PEM certificate or key is a few KiB; the bound keeps a wrong file name from reading gigabytes.
constexpr std::uintmax_t kMaxPemBytes = 1024 * 1024;

constexpr const char* kEvidenceHelp = R"(kioskctl evidence - check an evidence package

Usage:
  kioskctl evidence verify DIR --device-cert F [--key FILE] [--decrypt-to OUT] [--json]
  kioskctl evidence export --gateway URL --ca FILE --staff-id ID ... --out DIR   (see export --help)

verify   checks the package directory DIR (tx-<id>.csdcpkg) as head office does, stopping at the
         first problem: the device signature over manifest.json, the manifest, keys.json, that the
         directory holds exactly the files the manifest names, and every stream's size and SHA-256.
         Nothing is decrypted without --key.
         With --key (a head-office recipient's private key) it also unwraps the data key and
         decrypts every stream, checking every chunk's tag and each file's size and SHA-256
         against the manifest. The decrypted files go to a private temporary folder that is
         removed afterwards, or with --decrypt-to they are kept in OUT.

Options:
  --device-cert F    the kiosk's device certificate (PEM; a PEM public key is accepted too). Its
                     validity dates are not checked: packages are kept for 20 years, longer
                     than any device certificate lives.
  --key FILE         a recipient private key (PEM, not encrypted) named in the package
  --decrypt-to OUT   keep the decrypted evidence files in OUT (needs --key). OUT must not exist
                     or be an empty directory. The files hold personal data: delete them when done.
  --json             print one JSON object instead of text:
                     {"package_id","transaction_id","kiosk_id","operation","state","files","bytes",
                      "signature","ciphertext_hashes","decrypted","verdict":"valid"}
                     ("bytes": the evidence files' plaintext size in total, as the manifest states),
                     or {"verdict":"invalid","code","message"} for a package that failed a check,
                     or {"verdict":"not_checked","code","message"} when an input could not be read

Exit status: 0 the package is valid, 1 it is invalid (PACKAGE_SIGNATURE_INVALID,
PACKAGE_MANIFEST_INVALID, PACKAGE_FILE_MISSING, PACKAGE_UNEXPECTED_FILE, PACKAGE_CIPHERTEXT_HASH_MISMATCH,
PACKAGE_WRONG_RECIPIENT, PACKAGE_CHUNK_TAMPERED, PACKAGE_PLAINTEXT_HASH_MISMATCH, ...) or was not
checked (EVIDENCE_DEVICE_CERT_UNREADABLE, EVIDENCE_KEY_UNREADABLE, EVIDENCE_OUTPUT_NOT_EMPTY,
EVIDENCE_TEMP_FAILED), 2 wrong usage.

Example:
  kioskctl evidence verify tx-00000042.csdcpkg --device-cert kiosk-0001.crt --json
)";

struct Options {
  fs::path package_dir;
  fs::path device_cert;
  fs::path key_file;
  fs::path decrypt_to;
  bool json = false;
};

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl evidence: %s\nRun 'kioskctl evidence --help' for usage.\n", message.c_str());
  return kExitUsage;
}

// `package_checked` tells a package that failed a check ("invalid") from one the command could not
// check because an input of its own was unusable ("not_checked"): only the first says the package is bad.
int report_failure(std::FILE* out, std::FILE* err, const Options& options, const Error& error, bool package_checked) {
  if (options.json) {
    const nlohmann::json report{
        {"verdict", package_checked ? "invalid" : "not_checked"}, {"code", error.code}, {"message", error.message}};
    std::fprintf(out, "%s\n", report.dump().c_str());
  } else if (package_checked) {
    std::fprintf(err, "kioskctl evidence: package %s is INVALID: %s\n", options.package_dir.c_str(),
                 error.to_string().c_str());
  } else {
    std::fprintf(err, "kioskctl evidence: package %s not checked: %s\n", options.package_dir.c_str(),
                 error.to_string().c_str());
  }
  return kExitFailed;
}

// Never asks on the terminal for a pass phrase: kioskctl runs in scripts, and an encrypted key
// simply fails to load with a clear error.
int no_pass_phrase(char*, int, int, void*) { return 0; }

Result<std::string> read_pem_file(const fs::path& file, const std::string& code, const std::string& what) {
  std::error_code error;
  const auto size = fs::file_size(file, error);
  if (error || size > kMaxPemBytes) return fail(code, "cannot read the " + what + " file " + file.string());
  std::ifstream in(file, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.good() && !in.eof()) return fail(code, "cannot read the " + what + " file " + file.string());
  return text;
}

Result<openssl::Key> load_device_key(const fs::path& file) {
  constexpr const char* kCode = "EVIDENCE_DEVICE_CERT_UNREADABLE";
  auto pem = read_pem_file(file, kCode, "device certificate");
  if (!pem) return std::unexpected(pem.error());
  openssl::Bio cert_bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  const openssl::Certificate certificate(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, no_pass_phrase, nullptr)
                                                  : nullptr);
  if (certificate) {
    openssl::Key key(X509_get_pubkey(certificate.get()));
    ERR_clear_error();
    if (!key) return fail(kCode, file.string() + " holds a certificate whose public key OpenSSL cannot read");
    return key;
  }
  ERR_clear_error();
  // Head office may keep only the device's public key (FORMAT.md's worked example is one).
  openssl::Bio key_bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  openssl::Key key(key_bio ? PEM_read_bio_PUBKEY(key_bio.get(), nullptr, no_pass_phrase, nullptr) : nullptr);
  ERR_clear_error();
  if (!key) return fail(kCode, file.string() + " holds no PEM certificate or public key");
  return key;
}

Result<openssl::Key> load_recipient_key(const fs::path& file) {
  constexpr const char* kCode = "EVIDENCE_KEY_UNREADABLE";
  auto pem = read_pem_file(file, kCode, "recipient key");
  if (!pem) return std::unexpected(pem.error());
  openssl::Bio bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  openssl::Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr) : nullptr);
  ERR_clear_error();
  if (!key) return fail(kCode, file.string() + " holds no unencrypted PEM private key");
  return key;
}

// A private folder (mode 0700 from mkdtemp) for decrypted evidence nobody asked to keep; it holds
// personal data, so it is removed however the check ends.
class TemporaryDirectory {
 public:
  static Result<TemporaryDirectory> create() {
    std::error_code error;
    const fs::path base = fs::temp_directory_path(error);
    if (error) return fail("EVIDENCE_TEMP_FAILED", "no temporary directory: " + error.message());
    std::string name = (base / "kioskctl-evidence-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) {
      return fail("EVIDENCE_TEMP_FAILED", "cannot create a temporary folder in " + base.string());
    }
    return TemporaryDirectory(fs::path(name));
  }
  TemporaryDirectory(TemporaryDirectory&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(TemporaryDirectory&&) = delete;
  ~TemporaryDirectory() {
    if (path_.empty()) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  explicit TemporaryDirectory(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

// --decrypt-to must not mix the package's files with anything else. Returns whether the folder is
// new, so that a failed open can take back the empty folder it would otherwise leave.
Result<bool> check_decrypt_target(const fs::path& directory) {
  std::error_code error;
  const auto status = fs::status(directory, error);
  if (!fs::exists(status)) return true;
  if (!fs::is_directory(status)) {
    return fail("EVIDENCE_OUTPUT_NOT_EMPTY", directory.string() + " exists and is not a directory");
  }
  if (!fs::is_empty(directory, error) || error) {
    return fail("EVIDENCE_OUTPUT_NOT_EMPTY", directory.string() + " is not empty; choose a new or empty folder");
  }
  return false;
}

std::string parse_options(const std::vector<std::string>& args, Options& options) {
  // args[0] is "verify".
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (arg == "--device-cert" || arg == "--key" || arg == "--decrypt-to") {
      if (i + 1 >= args.size() || args[i + 1].empty()) return arg + " needs a value";
      const std::string& value = args[++i];
      if (arg == "--device-cert") {
        options.device_cert = value;
      } else if (arg == "--key") {
        options.key_file = value;
      } else {
        options.decrypt_to = value;
      }
      continue;
    }
    if (arg.starts_with("-")) return "unknown option '" + arg + "'";
    if (!options.package_dir.empty()) return "only one package directory may be given";
    options.package_dir = arg;
  }
  if (options.package_dir.empty()) return "the package directory DIR is required";
  if (options.device_cert.empty()) return "--device-cert F is required";
  if (!options.decrypt_to.empty() && options.key_file.empty()) return "--decrypt-to needs --key";
  return {};
}

struct Totals {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
};

Totals totals_of(const package::Manifest& manifest) {
  Totals totals;
  for (const auto& step : manifest.steps) {
    for (const auto& item : step.evidence) {
      ++totals.files;
      totals.bytes += item.plaintext_size;
    }
  }
  return totals;
}

void print_valid(std::FILE* out, const Options& options, const package::Manifest& manifest, bool decrypted) {
  const Totals totals = totals_of(manifest);
  if (options.json) {
    const nlohmann::json report{{"package_id", manifest.package_id},
                                {"transaction_id", manifest.transaction.id},
                                {"kiosk_id", manifest.kiosk_id},
                                {"operation", std::string(to_string(manifest.transaction.operation))},
                                {"state", std::string(to_string(manifest.transaction.state))},
                                {"files", totals.files},
                                {"bytes", totals.bytes},
                                {"signature", "valid"},
                                {"ciphertext_hashes", "valid"},
                                {"decrypted", decrypted},
                                {"verdict", "valid"}};
    std::fprintf(out, "%s\n", report.dump().c_str());
    return;
  }
  std::fprintf(out,
               "package %s: valid\n"
               "  package id         %s\n"
               "  transaction        %lld (%s, %s) on kiosk %s\n"
               "  evidence           %zu files, %llu bytes\n"
               "  signature          valid (device key from %s)\n"
               "  ciphertext hashes  valid (every stream's size and SHA-256 match the manifest)\n",
               options.package_dir.c_str(), manifest.package_id.c_str(),
               static_cast<long long>(manifest.transaction.id),
               std::string(to_string(manifest.transaction.operation)).c_str(),
               std::string(to_string(manifest.transaction.state)).c_str(), manifest.kiosk_id.c_str(), totals.files,
               static_cast<unsigned long long>(totals.bytes), options.device_cert.c_str());
  if (!decrypted) {
    std::fputs("  decrypted          no (give --key to check every stream's tags and plaintext hashes)\n", out);
  } else if (options.decrypt_to.empty()) {
    std::fputs("  decrypted          yes: every tag and plaintext hash checked; the files were removed\n", out);
  } else {
    std::fprintf(out, "  decrypted          yes: every tag and plaintext hash checked; files kept in %s\n",
                 options.decrypt_to.c_str());
  }
}

int run_verify(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  Options options;
  if (const auto problem = parse_options(args, options); !problem.empty()) return usage_error(err, problem);

  // The inputs of the command itself are checked before the package, so that their errors are not
  // mistaken for a verdict on the package.
  auto device_key = load_device_key(options.device_cert);
  if (!device_key) return report_failure(out, err, options, device_key.error(), false);
  if (options.key_file.empty()) {
    auto verified = package::verify_package(options.package_dir, device_key->get());
    if (!verified) return report_failure(out, err, options, verified.error(), true);
    print_valid(out, options, verified->manifest, false);
    return kExitValid;
  }

  auto recipient_key = load_recipient_key(options.key_file);
  if (!recipient_key) return report_failure(out, err, options, recipient_key.error(), false);
  std::optional<TemporaryDirectory> temporary;
  bool created_target = false;
  if (options.decrypt_to.empty()) {
    auto made = TemporaryDirectory::create();
    if (!made) return report_failure(out, err, options, made.error(), false);
    temporary.emplace(std::move(*made));
  } else {
    auto is_new = check_decrypt_target(options.decrypt_to);
    if (!is_new) return report_failure(out, err, options, is_new.error(), false);
    created_target = *is_new;
  }
  const fs::path target = temporary ? temporary->path() : options.decrypt_to;

  auto opened = package::open_package(options.package_dir, device_key->get(), recipient_key->get(), target);
  if (!opened) {
    if (created_target) {
      std::error_code ignored;
      fs::remove(options.decrypt_to, ignored);  // only an empty folder: a failed open releases nothing
    }
    return report_failure(out, err, options, opened.error(), true);
  }
  print_valid(out, options, opened->manifest, true);
  return kExitValid;
}

}  // namespace

int run_evidence_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (verify, export)");
  if (args.front() == "export") {
    if (std::find(args.begin(), args.end(), "--help") != args.end()) {
      std::fputs(kEvidenceExportHelp, out);
      return kExitValid;
    }
    return run_evidence_export(args, stdin, out, err);
  }
  if (args.front() == "--help" || args.front() == "-h" || args.front() == "help" ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::fputs(kEvidenceHelp, out);
    return kExitValid;
  }
  if (args.front() == "verify") return run_verify(args, out, err);
  return usage_error(err, "unknown subcommand '" + args.front() + "'");
}

}  // namespace kiosk::ctl

#include "kiosk/ctl/evidence_export.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "kiosk/core/error.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/client/evidence_export_client.hpp"
#include "sync/package/package_archive.hpp"
#include "sync/package/package_reader.hpp"

namespace kiosk::ctl {

const char* const kEvidenceExportHelp =
    R"(kioskctl evidence export - export stored evidence from head office (inspection, REQ-44)

Usage:
  kioskctl evidence export --gateway URL --ca FILE --staff-id ID [--password-file F]
                           (--transaction ID [--device ID] | --investor-id ID | --from DATE --to DATE)
                           --out DIR [--json]

Signs in on the gateway's console listener as a staff member with the role "inspector", finds the
stored packages, and for each one writes into DIR:
  DIR/<device_id>/<transaction_id>/<transaction_id>.csdcpkg/   the package, extracted strictly
  DIR/<device_id>/<transaction_id>/device.crt                  the certificate of the uploading device
then checks every package as `kioskctl evidence verify` does (device signature, manifest, every
stream's size and SHA-256) and that its archive has the SHA-256 head office recorded. DIR/export.json
lists the criteria (an investor ID number only masked), who exported, when, and every package with
its hashes and verdict; DIR/README.txt says how to check the packages again offline.

Options:
  --gateway URL        the gateway's console listener, e.g. https://head-office:8444
  --ca FILE            the CA certificate the gateway's TLS certificate chains to
  --staff-id ID        the inspector's staff id
  --password-file F    read the password from the first line of F; without it, from standard input
  --transaction ID     a transaction id (tx-NNNNNNNN); with --device, on that kiosk only
  --device ID          with --transaction: the kiosk's device id
  --investor-id ID     every package of the transactions in which this ID number was checked
  --from DATE --to DATE  packages of transactions closed on these UTC dates (YYYY-MM-DD, inclusive)
  --out DIR            a new or empty directory
  --json               print export.json on standard output instead of a text summary

Exit status: 0 every package found was exported and is valid (also when none matched), 1 the
export failed (SIGN_IN_REFUSED, EXPORT_FORBIDDEN, EXPORT_OUTPUT_NOT_EMPTY, GATEWAY_UNREACHABLE, ...)
or a package failed a check (export.json names it), 2 wrong usage.

Example:
  kioskctl evidence export --gateway https://127.0.0.1:8444 --ca ca.crt --staff-id I0001 \
      --password-file pw.txt --transaction tx-00000042 --device SIM-0001 --out ./inspection-42
)";

namespace {

namespace fs = std::filesystem;
namespace package = sync::package;
using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr std::size_t kMaxPasswordBytes = 256;
constexpr std::chrono::seconds kGatewayTimeout{30};

struct ExportOptions {
  std::string gateway;
  fs::path ca_file;
  std::string staff_id;
  fs::path password_file;
  sync::EvidenceSearch criteria;
  fs::path out_dir;
  bool json = false;
};

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl evidence export: %s\nRun 'kioskctl evidence export --help' for usage.\n",
               message.c_str());
  return kExitUsage;
}

int failure(std::FILE* err, const Error& error) {
  std::fprintf(err, "kioskctl evidence export: %s\n", error.to_string().c_str());
  return kExitFailed;
}

bool looks_like_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

// A name from the gateway becomes a folder name: only the characters device and transaction ids
// may have, so nothing can point outside DIR.
bool is_safe_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && name.front() != '.' && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':';
  });
}

std::string parse_export_options(const std::vector<std::string>& args, ExportOptions& options) {
  std::map<std::string, std::string> values;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    static const std::vector<std::string> kWithValue = {"--gateway",     "--ca",     "--staff-id",    "--password-file",
                                                        "--transaction", "--device", "--investor-id", "--from",
                                                        "--to",          "--out"};
    if (std::find(kWithValue.begin(), kWithValue.end(), arg) == kWithValue.end()) {
      return arg.starts_with("-") ? "unknown option '" + arg + "'" : "unexpected argument '" + arg + "'";
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) return arg + " needs a value";
    if (values.contains(arg)) return arg + " may be given once";
    values[arg] = args[++i];
  }
  for (const char* required : {"--gateway", "--ca", "--staff-id", "--out"}) {
    if (!values.contains(required)) return std::string(required) + " is required";
  }
  options.gateway = values["--gateway"];
  options.ca_file = values["--ca"];
  options.staff_id = values["--staff-id"];
  options.out_dir = values["--out"];
  if (values.contains("--password-file")) options.password_file = values["--password-file"];

  const bool by_transaction = values.contains("--transaction");
  const bool by_investor = values.contains("--investor-id");
  const bool by_dates = values.contains("--from") || values.contains("--to");
  if (static_cast<int>(by_transaction) + static_cast<int>(by_investor) + static_cast<int>(by_dates) != 1) {
    return "give exactly one of --transaction ID, --investor-id ID or --from DATE --to DATE";
  }
  if (values.contains("--device") && !by_transaction) return "--device goes with --transaction";
  if (by_transaction) {
    options.criteria.transaction_id = values["--transaction"];
    if (values.contains("--device")) options.criteria.device_id = values["--device"];
  }
  if (by_investor) {
    const std::string& id = values["--investor-id"];
    if (id.size() != 18) return "--investor-id must be an 18-character ID number";
    options.criteria.investor_id = id;
  }
  if (by_dates) {
    if (!values.contains("--from") || !values.contains("--to")) return "--from and --to go together";
    if (!looks_like_date(values["--from"]) || !looks_like_date(values["--to"])) {
      return "--from and --to must be dates written YYYY-MM-DD";
    }
    if (values["--from"] > values["--to"]) return "--from is after --to";
    options.criteria.from = values["--from"];
    options.criteria.to = values["--to"];
  }
  return {};
}

Result<std::string> read_password(const ExportOptions& options, std::FILE* in) {
  std::string line;
  if (!options.password_file.empty()) {
    std::ifstream file(options.password_file);
    if (!file || !std::getline(file, line)) {
      return fail("EXPORT_PASSWORD_UNREADABLE", "cannot read a password from " + options.password_file.string());
    }
  } else {
    char buffer[kMaxPasswordBytes + 2] = {};
    if (std::fgets(buffer, sizeof buffer, in) == nullptr) {
      return fail("EXPORT_PASSWORD_UNREADABLE", "no password on standard input; pipe it in or use --password-file");
    }
    line = buffer;
    OPENSSL_cleanse(buffer, sizeof buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty() || line.size() > kMaxPasswordBytes) {
    return fail("EXPORT_PASSWORD_UNREADABLE", "the password must be 1-256 bytes on one line");
  }
  return line;
}

// DIR must not mix an export with anything else; it is created when missing.
Result<void> prepare_output(const fs::path& dir) {
  std::error_code error;
  const auto status = fs::status(dir, error);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) return fail("EXPORT_OUTPUT_NOT_EMPTY", dir.string() + " is not a directory");
    if (!fs::is_empty(dir, error) || error) {
      return fail("EXPORT_OUTPUT_NOT_EMPTY", dir.string() + " is not empty; choose a new or empty folder");
    }
    return {};
  }
  fs::create_directories(dir, error);
  if (error) return fail("EXPORT_WRITE_FAILED", "cannot create " + dir.string() + ": " + error.message());
  return {};
}

Result<void> write_text_file(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return fail("EXPORT_WRITE_FAILED", "cannot write " + file.string());
  return {};
}

int no_pass_phrase(char*, int, int, void*) { return 0; }

Result<openssl::Key> device_key_of(std::string_view pem) {
  openssl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  const openssl::Certificate certificate(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_pass_phrase, nullptr)
                                             : nullptr);
  openssl::Key key(certificate ? X509_get_pubkey(certificate.get()) : nullptr);
  ERR_clear_error();
  if (!key) return fail("EVIDENCE_DEVICE_CERT_UNREADABLE", "the device certificate from head office is not readable");
  return key;
}

struct PackageOutcome {
  std::string verdict = "not_checked";  // valid, invalid, not_checked
  std::string code;
  std::string message;
  std::string path;  // relative to DIR
  std::string certificate;
};

// Download, strict extraction, hash comparison and verification of one package.
PackageOutcome export_one(sync::EvidenceExportClient& client, const sync::EvidencePackageInfo& info,
                          const fs::path& out_dir) {
  PackageOutcome outcome;
  const auto not_checked = [&outcome](const Error& error) {
    outcome.verdict = "not_checked";
    outcome.code = error.code;
    outcome.message = error.message;
    return outcome;
  };
  if (!is_safe_name(info.device_id) || !is_safe_name(info.transaction_id) || !is_safe_name(info.package_id)) {
    return not_checked(Error{"EXPORT_BAD_ANSWER", "the gateway named a package with unusable characters"});
  }
  const fs::path relative = fs::path(info.device_id) / info.transaction_id;
  const fs::path folder = out_dir / relative;
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) return not_checked(Error{"EXPORT_WRITE_FAILED", "cannot create " + folder.string()});

  fs::path package_name = info.transaction_id + ".csdcpkg";
  if (fs::exists(folder / package_name)) package_name = info.transaction_id + "-" + info.package_id + ".csdcpkg";
  outcome.path = (relative / package_name).string();

  const fs::path archive = folder / ("." + info.package_id + ".tar.part");
  auto downloaded = client.download_archive(info.device_id, info.package_id, archive);
  if (!downloaded) return not_checked(downloaded.error());
  const int fd = ::open(archive.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fs::remove(archive, error);
    return not_checked(Error{"EXPORT_WRITE_FAILED", "cannot reopen the downloaded archive"});
  }
  auto extracted = package::extract_package_archive(fd, folder / package_name);
  ::close(fd);
  fs::remove(archive, error);  // the extracted package is what is checked; its hash is in export.json
  if (!extracted) {
    outcome.verdict = "invalid";
    outcome.code = extracted.error().code;
    outcome.message = extracted.error().message;
    return outcome;
  }
  if (extracted->archive_sha256 != info.archive_sha256 || extracted->archive_bytes != info.archive_size) {
    outcome.verdict = "invalid";
    outcome.code = "EXPORT_ARCHIVE_HASH_MISMATCH";
    outcome.message = "the downloaded archive is not the one head office recorded (size or SHA-256 differs)";
    return outcome;
  }

  // The certificate the device uploaded this very package with: a re-enrolled kiosk has a new key.
  auto certificate = client.device_certificate(info.device_id, info.package_id);
  if (!certificate) return not_checked(certificate.error());
  const fs::path certificate_file = folder / "device.crt";
  if (!fs::exists(certificate_file)) {
    if (auto written = write_text_file(certificate_file, *certificate); !written) return not_checked(written.error());
  }
  outcome.certificate = (relative / "device.crt").string();

  auto key = device_key_of(*certificate);
  if (!key) return not_checked(key.error());
  auto verified = package::verify_package(folder / package_name, key->get());
  if (!verified) {
    outcome.verdict = "invalid";
    outcome.code = verified.error().code;
    outcome.message = verified.error().message;
    return outcome;
  }
  if (verified->manifest.package_id != info.package_id || verified->manifest.kiosk_id != info.device_id) {
    outcome.verdict = "invalid";
    outcome.code = "EXPORT_PACKAGE_MISMATCH";
    outcome.message = "the package's manifest names another package id or kiosk than head office's index";
    return outcome;
  }
  outcome.verdict = "valid";
  return outcome;
}

constexpr const char* kReadme = R"(Evidence export from head office (REQ-44)

This folder was written by `kioskctl evidence export`. export.json says who exported it, when, with
which criteria, and lists every package with the SHA-256 of its archive and manifest as head office
recorded them, and the verdict of the check made at export time.

Layout:
  <device_id>/<transaction_id>/<transaction_id>.csdcpkg/   one evidence package (sync/package/FORMAT.md)
  <device_id>/<transaction_id>/device.crt                  the certificate of the kiosk that signed it

To check a package again, offline (no network, no head-office key needed):
  kioskctl evidence verify <device_id>/<transaction_id>/<transaction_id>.csdcpkg \
      --device-cert <device_id>/<transaction_id>/device.crt
This checks the device signature over manifest.json, the manifest, keys.json, that the folder holds
exactly the files the manifest names, and every encrypted stream's size and SHA-256. With --key (a
head-office recipient's private key) it also decrypts and checks every file.

The device certificate's validity dates are not checked: evidence is kept for 20 years, longer than
any device certificate lives. Check that the certificate chains to the broker's device CA with
  openssl verify -CAfile <device CA certificate> <device_id>/<transaction_id>/device.crt
)";

}  // namespace

int run_evidence_export(const std::vector<std::string>& args, std::FILE* in, std::FILE* out, std::FILE* err) {
  ExportOptions options;
  if (const auto problem = parse_export_options(args, options); !problem.empty()) return usage_error(err, problem);

  if (auto prepared = prepare_output(options.out_dir); !prepared) return failure(err, prepared.error());
  auto password = read_password(options, in);
  if (!password) return failure(err, password.error());
  auto client = sync::EvidenceExportClient::create(options.gateway, options.ca_file, kGatewayTimeout);
  if (!client) return failure(err, client.error());
  auto role = client->sign_in(options.staff_id, *password);
  OPENSSL_cleanse(password->data(), password->size());
  if (!role) return failure(err, role.error());
  auto packages = client->search(options.criteria);
  if (!packages) return failure(err, packages.error());

  json criteria = json::object();
  if (options.criteria.transaction_id) criteria["transaction_id"] = *options.criteria.transaction_id;
  if (options.criteria.device_id) criteria["device_id"] = *options.criteria.device_id;
  if (options.criteria.investor_id) criteria["investor_id_masked"] = log::mask_id_number(*options.criteria.investor_id);
  if (options.criteria.from) criteria["from"] = *options.criteria.from;
  if (options.criteria.to) criteria["to"] = *options.criteria.to;

  json listed = json::array();
  std::size_t valid = 0;
  for (const auto& info : *packages) {
    const PackageOutcome outcome = export_one(*client, info, options.out_dir);
    if (outcome.verdict == "valid") ++valid;
    json verification{{"verdict", outcome.verdict}};
    if (!outcome.code.empty()) {
      verification["code"] = outcome.code;
      verification["message"] = outcome.message;
    }
    listed.push_back(json{{"device_id", info.device_id},
                          {"package_id", info.package_id},
                          {"transaction_id", info.transaction_id},
                          {"archive_sha256", info.archive_sha256},
                          {"archive_size", info.archive_size},
                          {"manifest_sha256", info.manifest_sha256},
                          {"operation", info.operation},
                          {"transaction_state", info.transaction_state},
                          {"closed_at", info.closed_at},
                          {"received_at", info.received_at},
                          {"retain_until", info.retain_until},
                          {"legal_hold", info.legal_hold},
                          {"path", outcome.path},
                          {"device_certificate", outcome.certificate},
                          {"verification", std::move(verification)}});
  }
  const json report{{"format_version", 1},
                    {"exported_at", utc_iso8601(std::chrono::system_clock::now(), TimePrecision::milliseconds)},
                    {"gateway", options.gateway},
                    {"staff_id", options.staff_id},
                    {"role", *role},
                    {"criteria", std::move(criteria)},
                    {"package_count", packages->size()},
                    {"valid_count", valid},
                    {"packages", std::move(listed)}};
  const std::string report_text = report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (auto written = write_text_file(options.out_dir / "export.json", report_text); !written) {
    return failure(err, written.error());
  }
  if (auto written = write_text_file(options.out_dir / "README.txt", kReadme); !written) {
    return failure(err, written.error());
  }

  const bool all_valid = valid == packages->size();
  if (options.json) {
    std::fputs(report_text.c_str(), out);
  } else {
    std::fprintf(out, "exported %zu package(s) to %s: %zu valid, %zu not valid or not checked\n", packages->size(),
                 options.out_dir.c_str(), valid, packages->size() - valid);
    for (const auto& item : report["packages"]) {
      const auto& verification = item["verification"];
      std::fprintf(out, "  %s %s  %s%s%s\n", item["device_id"].get<std::string>().c_str(),
                   item["transaction_id"].get<std::string>().c_str(),
                   verification["verdict"].get<std::string>().c_str(), verification.contains("code") ? ": " : "",
                   verification.contains("code") ? verification["code"].get<std::string>().c_str() : "");
    }
    std::fprintf(out, "see %s and %s\n", (options.out_dir / "export.json").c_str(),
                 (options.out_dir / "README.txt").c_str());
  }
  return all_valid ? kExitOk : kExitFailed;
}

}  // namespace kiosk::ctl

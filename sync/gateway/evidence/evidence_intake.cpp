#include "sync/gateway/evidence/evidence_intake.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <variant>
#include <vector>

#include "kiosk/core/log.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/gateway/evidence/retention.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/sqlite_run.hpp"
#include "sync/package/manifest.hpp"
#include "sync/package/package_archive.hpp"
#include "sync/package/package_reader.hpp"
#include "sync/package/receipt.hpp"
#include "sync/package/recipients.hpp"
#include "sync/package/stream_cipher.hpp"

namespace kiosk::gateway::evidence {
namespace {

namespace fs = std::filesystem;
namespace pkg = kiosk::sync::package;
using Param = SqlParam;

Error store_error(std::string what) { return Error{"EVIDENCE_STORE_FAILED", std::move(what)}; }

// Errors of the machine, not of the package: the upload is offered again later instead of being
// rejected for good.
bool is_transient(std::string_view code) {
  return code == "PACKAGE_IO_FAILED" || code == "PACKAGE_OUTPUT_EXISTS" || code == "PACKAGE_CRYPTO_FAILED" ||
         code == "EVIDENCE_STORE_FAILED" || code == "RANDOM_UNAVAILABLE";
}

struct Fd {
  int fd = -1;
  explicit Fd(int value) : fd(value) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Removes a directory tree when it goes out of scope: the temporary package never outlives accept().
struct TreeRemover {
  fs::path dir;
  ~TreeRemover() {
    std::error_code ignored;
    if (!dir.empty()) fs::remove_all(dir, ignored);
  }
};

std::optional<std::string> read_small_file(const fs::path& file, std::size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes;
  bytes.resize(limit + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > limit) return std::nullopt;
  bytes.resize(got);
  return bytes;
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return hex_encode(digest.data(), size);
}

openssl::Certificate certificate_from_pem(std::string_view pem) {
  openssl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  openssl::Certificate cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return cert;
}

// A verification outcome: a rejection code and message, or a transient error to return.
struct Rejection {
  std::string code;
  std::string message;
};

}  // namespace

std::string transaction_id_text(std::int64_t transaction_id) {
  char text[32];
  std::snprintf(text, sizeof text, "tx-%08lld", static_cast<long long>(transaction_id));
  return text;
}

struct EvidenceIntake::Impl {
  EvidenceStore* store = nullptr;
  EVP_PKEY* receipt_key = nullptr;
  X509* receipt_certificate = nullptr;
  const Clock* clock = nullptr;
  IntakeOptions options;
  fs::path tmp_dir;
  sqlite3* db = nullptr;
  std::mutex mutex;  // one package at a time: verification is bounded, and put + receipt stay in order

  ~Impl() {
    if (db != nullptr) sqlite3_close(db);
  }

  template <class RowFn>
  Result<void> run(const char* sql, std::initializer_list<Param> params, RowFn&& row) {
    auto ran = run_sql(db, sql, std::span(params.begin(), params.size()), std::forward<RowFn>(row));
    if (!ran) return std::unexpected(store_error("evidence index " + ran.error()));
    return {};
  }

  static std::string column_text(sqlite3_stmt* stmt, int column) {
    const auto* text = sqlite3_column_text(stmt, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
  }

  struct RecordedReceipt {
    std::string archive_sha256;
    std::string wire;
  };
  Result<std::optional<RecordedReceipt>> recorded_receipt(std::string_view device_id, std::string_view package_id) {
    std::optional<RecordedReceipt> found;
    auto ran = run("SELECT archive_sha256, wire_json FROM evidence_receipts WHERE device_id = ?1 AND package_id = ?2",
                   {device_id, package_id}, [&](sqlite3_stmt* stmt) {
                     found = RecordedReceipt{column_text(stmt, 0), column_text(stmt, 1)};
                   });
    if (!ran) return std::unexpected(ran.error());
    return found;
  }

  Result<void> record_rejection(const uploads::CompletedUpload& upload, const Rejection& rejection) {
    const std::string at = utc_iso8601(clock->now(), TimePrecision::milliseconds);
    auto recorded =
        run("INSERT OR REPLACE INTO evidence_rejections (device_id, package_id, archive_sha256, reason, message, at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            {upload.device_id, upload.package_id, upload.archive_sha256, rejection.code, rejection.message, at},
            [](sqlite3_stmt*) {});
    if (!recorded) return recorded;
    // The code and ids only: messages of the package checks carry no personal data, but the log stays minimal.
    log::warn("evidence_rejected", {{"device_id", upload.device_id},
                                    {"package_id", upload.package_id},
                                    {"upload_id", upload.id},
                                    {"reason", rejection.code}});
    return {};
  }

  // Steps 1-5 of the header. A Rejection for a bad package; an Error for a failure of the machine.
  Result<std::variant<Rejection, StoredPackage>> check(const uploads::CompletedUpload& upload,
                                                       const fs::path& package_dir) {
    using Outcome = std::variant<Rejection, StoredPackage>;
    const auto reject = [](std::string code, std::string message) -> Result<Outcome> {
      return Outcome{Rejection{std::move(code), std::move(message)}};
    };
    // The device that uploaded is the one whose certificate the TLS layer verified at creation.
    if (upload.device_certificate_pem.empty()) {
      return reject("PACKAGE_SIGNER_UNKNOWN", "the upload has no recorded device certificate to check the signature");
    }
    const auto device_cert = certificate_from_pem(upload.device_certificate_pem);
    if (!device_cert || certificate_common_name(device_cert.get()) != upload.device_id) {
      return reject("PACKAGE_SIGNER_UNKNOWN", "the recorded device certificate does not name the uploading device");
    }
    EVP_PKEY* device_key = X509_get0_pubkey(device_cert.get());

    {
      Fd archive(::open(upload.file.c_str(), O_RDONLY | O_CLOEXEC));
      if (archive.fd < 0) {
        return std::unexpected(store_error("cannot read the complete upload: " + std::string(std::strerror(errno))));
      }
      auto extracted = pkg::extract_package_archive(archive.fd, package_dir);
      if (!extracted) {
        if (is_transient(extracted.error().code)) return std::unexpected(extracted.error());
        return reject(extracted.error().code, extracted.error().message);
      }
    }

    auto verified = pkg::verify_package(package_dir, device_key);
    if (!verified) {
      if (is_transient(verified.error().code)) return std::unexpected(verified.error());
      if (verified.error().code == "PACKAGE_SIGNATURE_INVALID") {
        // Name the likely cause: a manifest that (unauthenticated) names another kiosk was signed by
        // that kiosk, not by the device that uploaded it.
        const auto bytes = read_small_file(package_dir / pkg::kManifestFileName, pkg::kMaxManifestBytes);
        if (bytes) {
          if (auto claimed = pkg::parse_manifest(*bytes); claimed && claimed->kiosk_id != upload.device_id) {
            return reject("PACKAGE_SIGNER_MISMATCH",
                          "the manifest names another kiosk than the uploading device and is not signed by this "
                          "device's key");
          }
        }
      }
      return reject(verified.error().code, verified.error().message);
    }
    const pkg::Manifest& manifest = verified->manifest;
    if (manifest.kiosk_id != upload.device_id) {
      return reject("PACKAGE_SIGNER_MISMATCH", "the manifest's kiosk_id is not the uploading device");
    }
    if (manifest.package_id != upload.package_id) {
      return reject("PACKAGE_METADATA_MISMATCH", "the upload's package_id differs from the manifest's");
    }
    if (transaction_id_text(manifest.transaction.id) != upload.transaction_id) {
      return reject("PACKAGE_METADATA_MISMATCH", "the upload's transaction_id differs from the manifest's");
    }

    if (options.recipient_key != nullptr) {
      if (auto rejected = check_recipient(*verified, package_dir); rejected) return Outcome{*rejected};
    }

    auto earlier = store->checkpoint_hash_at(upload.device_id, manifest.audit_checkpoint.count);
    if (!earlier) return std::unexpected(earlier.error());
    if (*earlier && **earlier != manifest.audit_checkpoint.head_hash) {
      return reject("AUDIT_CHECKPOINT_FORK", "this device stored another audit head hash for checkpoint " +
                                                 std::to_string(manifest.audit_checkpoint.count) +
                                                 ": its audit chain was rewritten");
    }

    const auto manifest_bytes = read_small_file(package_dir / pkg::kManifestFileName, pkg::kMaxManifestBytes);
    if (!manifest_bytes) return std::unexpected(store_error("cannot read the verified manifest again"));
    const std::string received_at = utc_iso8601(clock->now(), TimePrecision::milliseconds);
    auto retain_until = compute_retain_until(manifest.transaction.closed_at, received_at, options.retention_years);
    if (!retain_until) return std::unexpected(retain_until.error());

    StoredPackage row;
    row.device_id = upload.device_id;
    row.package_id = manifest.package_id;
    row.transaction_id = upload.transaction_id;
    row.archive_sha256 = upload.archive_sha256;
    row.archive_size = upload.length;
    row.manifest_sha256 = sha256_hex(*manifest_bytes);
    row.operation = std::string(to_string(manifest.transaction.operation));
    row.transaction_state = std::string(to_string(manifest.transaction.state));
    row.closed_at = manifest.transaction.closed_at;
    row.checkpoint_count = manifest.audit_checkpoint.count;
    row.checkpoint_head_hash = manifest.audit_checkpoint.head_hash;
    row.received_at = received_at;
    row.retain_until = *retain_until;
    return Outcome{std::move(row)};
  }

  // keys.json is not signed: with head office's own recipient key, check that its wrapped data key
  // opens and that every stream's tags verify under it (a substituted or damaged wrapped key fails).
  std::optional<Rejection> check_recipient(const pkg::VerifiedPackage& verified, const fs::path& package_dir) {
    const std::string id = pkg::recipient_id_of(options.recipient_key);
    const pkg::WrappedKey* wrapped = nullptr;
    for (const auto& key : verified.wrapped_keys) {
      if (key.recipient_id == id) wrapped = &key;
    }
    if (wrapped == nullptr) {
      return Rejection{"PACKAGE_WRONG_RECIPIENT", "keys.json holds no data key for head office's recipient key"};
    }
    auto data_key = pkg::unwrap_data_key(*wrapped, options.recipient_key);
    if (!data_key) return Rejection{data_key.error().code, data_key.error().message};
    for (const auto& step : verified.manifest.steps) {
      for (const auto& evidence : step.evidence) {
        Fd stream(::open((package_dir / evidence.stream_file).c_str(), O_RDONLY | O_CLOEXEC));
        if (stream.fd < 0) return Rejection{"PACKAGE_FILE_MISSING", "a stream named by the manifest cannot be read"};
        auto checked = pkg::verify_stream(stream.fd, *data_key);
        if (!checked) return Rejection{checked.error().code, checked.error().message};
      }
    }
    return std::nullopt;
  }

  Result<std::string> sign_and_record(const StoredPackage& stored) {
    auto receipt_id = random_hex(16);
    if (!receipt_id) return std::unexpected(receipt_id.error());
    pkg::Receipt receipt;
    receipt.receipt_id = *receipt_id;
    receipt.device_id = stored.device_id;
    receipt.package_id = stored.package_id;
    receipt.transaction_id = stored.transaction_id;
    receipt.archive_sha256 = stored.archive_sha256;
    receipt.archive_size = stored.archive_size;
    receipt.manifest_sha256 = stored.manifest_sha256;
    receipt.store = std::string(store->kind());
    receipt.received_at = stored.received_at;
    receipt.retain_until = stored.retain_until;
    auto wire = pkg::sign_receipt(receipt, receipt_key, receipt_certificate);
    if (!wire) return std::unexpected(wire.error());
    // INSERT OR IGNORE: the first receipt recorded is the one answered forever.
    auto recorded =
        run("INSERT OR IGNORE INTO evidence_receipts (device_id, package_id, archive_sha256, receipt_id, wire_json, "
            "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            {stored.device_id, stored.package_id, stored.archive_sha256, receipt.receipt_id, *wire,
             utc_iso8601(clock->now(), TimePrecision::milliseconds)},
            [](sqlite3_stmt*) {});
    if (!recorded) return std::unexpected(recorded.error());
    // A rejection recorded by an earlier, failed attempt no longer applies.
    if (auto cleared = run("DELETE FROM evidence_rejections WHERE device_id = ?1 AND package_id = ?2",
                           {stored.device_id, stored.package_id}, [](sqlite3_stmt*) {});
        !cleared) {
      return std::unexpected(cleared.error());
    }
    log::info("evidence_receipted", {{"device_id", stored.device_id},
                                     {"package_id", stored.package_id},
                                     {"transaction_id", stored.transaction_id},
                                     {"receipt_id", receipt.receipt_id},
                                     {"store", receipt.store}});
    return *wire;
  }
};

EvidenceIntake::EvidenceIntake(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EvidenceIntake::~EvidenceIntake() = default;

Result<std::unique_ptr<EvidenceIntake>> EvidenceIntake::open(const fs::path& data_dir, EvidenceStore& store,
                                                             EVP_PKEY* receipt_key, X509* receipt_certificate,
                                                             const Clock& clock, IntakeOptions options) {
  if (receipt_key == nullptr || receipt_certificate == nullptr) {
    return std::unexpected(store_error("the intake needs the receipt signer's key and certificate"));
  }
  auto impl = std::make_unique<Impl>();
  impl->store = &store;
  impl->receipt_key = receipt_key;
  impl->receipt_certificate = receipt_certificate;
  impl->clock = &clock;
  impl->options = options;
  impl->tmp_dir = data_dir / "evidence" / "tmp";
  std::error_code dir_error;
  fs::remove_all(impl->tmp_dir, dir_error);  // leftovers of a crash: verification starts again from the upload
  fs::create_directories(impl->tmp_dir, dir_error);
  if (dir_error) {
    return std::unexpected(store_error("cannot create " + impl->tmp_dir.string() + ": " + dir_error.message()));
  }
  ::chmod((data_dir / "evidence").c_str(), 0700);
  ::chmod(impl->tmp_dir.c_str(), 0700);
  const fs::path index = data_dir / "index.sqlite";
  const char* schema =
      "CREATE TABLE IF NOT EXISTS evidence_receipts ("
      "  device_id TEXT NOT NULL,"
      "  package_id TEXT NOT NULL,"
      "  archive_sha256 TEXT NOT NULL,"
      "  receipt_id TEXT NOT NULL,"
      "  wire_json TEXT NOT NULL,"
      "  created_at TEXT NOT NULL,"
      "  PRIMARY KEY (device_id, package_id));"
      "CREATE TABLE IF NOT EXISTS evidence_rejections ("
      "  device_id TEXT NOT NULL,"
      "  package_id TEXT NOT NULL,"
      "  archive_sha256 TEXT NOT NULL,"
      "  reason TEXT NOT NULL,"
      "  message TEXT NOT NULL,"
      "  at TEXT NOT NULL,"
      "  PRIMARY KEY (device_id, package_id));";
  auto opened = open_index_database(index, schema);
  if (!opened) return std::unexpected(store_error(opened.error()));
  impl->db = *opened;
  return std::unique_ptr<EvidenceIntake>(new EvidenceIntake(std::move(impl)));
}

Result<void> EvidenceIntake::accept(const uploads::CompletedUpload& upload) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  // Replay: the package already has its receipt; nothing new is stored and the receipt stands.
  auto earlier = s.recorded_receipt(upload.device_id, upload.package_id);
  if (!earlier) return std::unexpected(earlier.error());
  if (*earlier) {
    if ((*earlier)->archive_sha256 != upload.archive_sha256) {
      log::warn("evidence_upload_conflict", {{"device_id", upload.device_id}, {"package_id", upload.package_id}});
    }
    return {};
  }

  auto suffix = random_hex(8);
  if (!suffix) return std::unexpected(suffix.error());
  const TreeRemover work{s.tmp_dir / (upload.id + "-" + *suffix)};
  std::error_code dir_error;
  fs::create_directory(work.dir, dir_error);
  if (dir_error) return std::unexpected(store_error("cannot create a temporary directory: " + dir_error.message()));

  auto checked = s.check(upload, work.dir / "package");
  if (!checked) {
    log::error("evidence_intake_failed",
               {{"device_id", upload.device_id}, {"package_id", upload.package_id}, {"code", checked.error().code}});
    return std::unexpected(checked.error());
  }
  if (const auto* rejection = std::get_if<Rejection>(&*checked)) return s.record_rejection(upload, *rejection);

  auto stored = s.store->put(upload.file, std::get<StoredPackage>(*checked));
  if (!stored) {
    if (stored.error().code == "EVIDENCE_CONFLICT") {
      return s.record_rejection(upload, Rejection{stored.error().code, stored.error().message});
    }
    log::error("evidence_store_failed",
               {{"device_id", upload.device_id}, {"package_id", upload.package_id}, {"code", stored.error().code}});
    return std::unexpected(stored.error());
  }
  auto wire = s.sign_and_record(*stored);
  if (!wire) {
    log::error("evidence_receipt_failed",
               {{"device_id", upload.device_id}, {"package_id", upload.package_id}, {"code", wire.error().code}});
    return std::unexpected(wire.error());
  }
  return {};
}

Result<ReceiptAnswer> EvidenceIntake::answer_for(std::string_view device_id, std::string_view package_id) {
  Impl& s = *impl_;
  ReceiptAnswer answer;
  auto earlier = s.recorded_receipt(device_id, package_id);
  if (!earlier) return std::unexpected(earlier.error());
  if (*earlier) {
    answer.kind = ReceiptAnswer::Kind::receipt;
    answer.receipt_wire = (*earlier)->wire;
    return answer;
  }
  auto ran = s.run("SELECT reason, message FROM evidence_rejections WHERE device_id = ?1 AND package_id = ?2",
                   {device_id, package_id}, [&](sqlite3_stmt* stmt) {
                     answer.kind = ReceiptAnswer::Kind::rejected;
                     answer.rejection_reason = Impl::column_text(stmt, 0);
                     answer.rejection_message = Impl::column_text(stmt, 1);
                   });
  if (!ran) return std::unexpected(ran.error());
  return answer;
}

}  // namespace kiosk::gateway::evidence

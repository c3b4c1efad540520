#include "kiosk/app/identity_worker.hpp"

#include <algorithm>
#include <span>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::app {
namespace {

using namespace kiosk::hal::idcard;

std::string json_text(std::string_view text) { return "\"" + log::json_escape(text) + "\""; }

// Splits UTF-8 into code points' byte sequences (the name came from our own UCS-2 decoder, so
// it is valid UTF-8).
std::vector<std::string> utf8_characters(const std::string& text) {
  std::vector<std::string> characters;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : 4;
    characters.push_back(text.substr(i, length));
    i += length;
  }
  return characters;
}

}  // namespace

IdentityProblem problem_for(const ReaderError& failure) {
  switch (failure.completion) {
    case Completion::no_media: return IdentityProblem::card_removed_early;  // it was there a moment ago
    case Completion::user_error:
      return failure.error.code == "IDCARD_CARD_MOVED" ? IdentityProblem::card_removed_early
                                                       : IdentityProblem::card_unreadable;
    case Completion::fraud_attempt: return IdentityProblem::suspect_card;
    case Completion::success:
    case Completion::timeout:
    case Completion::invalid_data:
    case Completion::hardware_error:
    case Completion::device_not_ready:
    case Completion::internal_error: return IdentityProblem::reader_fault;
  }
  return IdentityProblem::reader_fault;
}

IdentityProblem problem_for_document_check(const std::string& code) {
  if (code == "ID_EXPIRED") return IdentityProblem::document_expired;
  if (code == "ID_NOT_YET_VALID") return IdentityProblem::document_not_yet_valid;
  return IdentityProblem::suspect_card;  // ID_NUMBER_FORMAT, ID_NUMBER_CHECK_DIGIT
}

std::string mask_name(const std::string& utf8_name) {
  std::string masked;
  bool first = true;
  for (const auto& character : utf8_characters(utf8_name)) {
    if (character == " ") {
      masked += ' ';
    } else if (first) {
      masked += character;
      first = false;
    } else {
      masked += '*';
    }
  }
  return masked;
}

IdentityWorker::IdentityWorker(IdentityWorkerConfig config, NciisCheck nciis, EventQueue<Event>& queue)
    : config_(std::move(config)), nciis_(std::move(nciis)), queue_(queue), reader_(config_.reader) {
  auto decoder = PhotoDecoder::load(config_.photo_decoder);
  if (decoder) {
    decoder_.emplace(std::move(*decoder));
  } else {
    decoder_problem_ = decoder.error().code;
    log::info("photo_decoder_unavailable", {{"code", decoder.error().code}, {"message", decoder.error().message}});
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

IdentityWorker::~IdentityWorker() {
  thread_.request_stop();
  wake_.notify_all();
}

void IdentityWorker::arm(std::uint64_t attempt, std::string transaction_id) {
  {
    std::lock_guard lock(mutex_);
    if (armed_attempt_ == attempt) return;
    armed_attempt_ = attempt;
    armed_transaction_id_ = std::move(transaction_id);
  }
  wake_.notify_all();
}

void IdentityWorker::disarm() {
  std::lock_guard lock(mutex_);
  armed_attempt_.reset();
}

std::optional<VerifiedRead> IdentityWorker::verified_read(std::uint64_t attempt) const {
  std::lock_guard lock(mutex_);
  if (!verified_ || verified_->attempt != attempt) return std::nullopt;
  return verified_;
}

void IdentityWorker::forget() {
  std::lock_guard lock(mutex_);
  verified_.reset();
}

void IdentityWorker::report_reader(bool online, const std::string& code) {
  if (reported_online_ == online && reported_code_ == code) return;
  reported_online_ = online;
  reported_code_ = code;
  log::info("id_reader_status", {{"online", online ? "true" : "false"}, {"code", code}});
  queue_.push(event::CardReaderStatus{online, code});
}

void IdentityWorker::run(std::stop_token stop) {
  auto next_health_check = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    std::optional<std::uint64_t> attempt;
    {
      std::unique_lock lock(mutex_);
      attempt = armed_attempt_;
    }
    if (attempt) {
      auto present = reader_.card_present();
      if (!present) {
        report_reader(false, present.error().error.code);
      } else {
        report_reader(true, "");
        if (*present) read_for(*attempt);
      }
    } else if (std::chrono::steady_clock::now() >= next_health_check) {
      auto status = reader_.sam_status();
      report_reader(status.has_value(), status ? "" : status.error().error.code);
      next_health_check = std::chrono::steady_clock::now() + config_.health_interval;
    }
    std::unique_lock lock(mutex_);
    const auto interval =
        armed_attempt_ ? config_.poll_interval : std::min(config_.poll_interval * 4, config_.health_interval);
    wake_.wait_for(lock, stop, interval, [&] { return armed_attempt_.has_value() && armed_attempt_ != attempt; });
  }
}

void IdentityWorker::read_for(std::uint64_t attempt) {
  queue_.push(event::CardDetected{attempt});
  const auto fail = [&](IdentityProblem problem, const std::string& code) {
    {
      std::lock_guard lock(mutex_);
      if (armed_attempt_ == attempt) armed_attempt_.reset();
    }
    queue_.push(event::IdentityFailed{attempt, problem, code});
  };

  auto card = reader_.read_card();
  if (!card) {
    if (card.error().completion == Completion::device_not_ready) report_reader(false, card.error().error.code);
    log::warn("id_card_read_failed", {{"code", card.error().error.code},
                                      {"completion", std::string(to_string(card.error().completion))},
                                      {"sw3", card.error().sw3 ? std::to_string(*card.error().sw3) : ""}});
    fail(problem_for(card.error()), card.error().error.code);
    return;
  }
  const TimePoint read_at = std::chrono::system_clock::now();
  const IdDocument& document = card->document;
  const DocumentType type = document_type_of(document.layout);

  // Evidence first: a refused card is evidence too (REQ-06: the evidence is kept).
  std::vector<std::uint8_t> chip_data = card->text_block;
  chip_data.insert(chip_data.end(), card->photo_wlt.begin(), card->photo_wlt.end());
  chip_data.insert(chip_data.end(), card->fingerprint.begin(), card->fingerprint.end());
  const std::string chip_data_sha256 = journal::sha256_hex(chip_data);
  const std::string chip_photo_sha256 = journal::sha256_hex(card->photo_wlt);
  std::string reader_id = "unknown";
  if (auto sam = reader_.sam_id()) reader_id = sam->to_string();

  std::optional<NciisOutcome> nciis;
  std::string nciis_transport_problem;
  const auto check = check_document(document, local_date(read_at));
  // REQ-08: the channel must accept the document, and its procedure must allow a chip read.
  const auto procedure = config_.accepted_documents.find(type);
  const bool accepted = procedure != config_.accepted_documents.end() &&
                        std::find(procedure->second.methods.begin(), procedure->second.methods.end(),
                                  policy::VerificationMethod::chip_read) != procedure->second.methods.end();
  const bool needs_images = accepted && !procedure->second.images.empty();
  if (check && accepted && config_.nciis_check && type == DocumentType::prc_id && nciis_) {
    std::string transaction_id;
    {
      std::lock_guard lock(mutex_);
      transaction_id = armed_transaction_id_;
    }
    auto answer = nciis_(transaction_id, document.name, document.id_number);
    if (answer) {
      nciis = *answer;
    } else {
      nciis_transport_problem = answer.error().code;
    }
  }

  const std::string stamp = utc_iso8601(read_at) + "-" + std::to_string(attempt);
  std::string safe_stamp = stamp;
  std::replace(safe_stamp.begin(), safe_stamp.end(), ':', '-');
  const auto folder = config_.evidence_dir / "identity" / safe_stamp;
  std::string manifest = "{\"kind\":\"id_chip_read\",\"reader_id\":" + json_text(reader_id) +
                         ",\"read_at\":" + json_text(utc_iso8601(read_at, TimePrecision::milliseconds)) +
                         ",\"document_type\":" + json_text(to_string(type)) +
                         ",\"card_layout\":" + json_text(to_string(document.layout)) +
                         ",\"chip_data_sha256\":" + json_text(chip_data_sha256) +
                         ",\"chip_photo_sha256\":" + json_text(chip_photo_sha256) +
                         ",\"document_check\":" + json_text(check ? "ok" : check.error().code) +
                         ",\"document_accepted\":" + (accepted ? "true" : "false");
  if (nciis) {
    manifest += ",\"nciis\":{\"request_id\":" + json_text(nciis->request_id) +
                ",\"checked_at\":" + json_text(nciis->checked_at) + ",\"result\":" + json_text(nciis->result) +
                ",\"photo_sha256\":" + json_text(nciis->photo_sha256) + "}";
  } else if (!nciis_transport_problem.empty()) {
    manifest += ",\"nciis\":{\"result\":\"ERROR\",\"transport_error\":" + json_text(nciis_transport_problem) + "}";
  }
  manifest += "}\n";
  const auto bytes = [](std::string_view text) {
    return std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  };
  Result<journal::FileDigest> written = journal::FileDigest{};
  if (auto made = journal::ensure_directory_durable(folder); !made) written = std::unexpected(made.error());
  if (written) written = journal::write_file_atomically(folder / "chip-text.bin", card->text_block);
  if (written) written = journal::write_file_atomically(folder / "chip-photo.wlt", card->photo_wlt);
  if (written && !card->fingerprint.empty()) {
    written = journal::write_file_atomically(folder / "chip-fingerprint.bin", card->fingerprint);
  }
  if (written) written = journal::write_file_atomically(folder / "idv.json", bytes(manifest));
  if (!written) {
    // Without its evidence the check cannot count (ARCHITECTURE.md: no evidence, no step).
    log::error("identity_evidence_not_saved", {{"code", written.error().code}, {"message", written.error().message}});
    fail(IdentityProblem::reader_fault, written.error().code);
    return;
  }

  if (!check) return fail(problem_for_document_check(check.error().code), check.error().code);
  if (!accepted) return fail(IdentityProblem::document_not_accepted, "DOCUMENT_NOT_ACCEPTED");
  // Both sides must be imaged (REQ-08); the kiosk has no document camera yet, so it says so
  // rather than letting the document through without its images.
  if (needs_images) return fail(IdentityProblem::document_imaging_unavailable, "DOCUMENT_IMAGING_UNAVAILABLE");
  if (!nciis_transport_problem.empty()) return fail(IdentityProblem::nciis_unavailable, nciis_transport_problem);
  if (nciis && nciis->result == "ERROR") return fail(IdentityProblem::nciis_unavailable, "NCIIS_ERROR");
  if (nciis && nciis->result != "MATCH") return fail(IdentityProblem::nciis_mismatch, "NCIIS_" + nciis->result);

  IdentitySummary summary;
  summary.document_type = std::string(to_string(document.layout));
  summary.masked_name = mask_name(document.name.empty() ? document.english_name : document.name);
  summary.masked_number = log::mask_id_number(document.id_number);
  summary.valid_until = document.valid_until ? date_text(*document.valid_until) : "long-term";
  summary.nciis_result = nciis ? nciis->result : "";
  if (decoder_) {
    auto photo = decoder_->decode(card->photo_wlt);
    if (photo) {
      summary.photo = ChipPhoto{PhotoStatus::decoded, DecodedPhoto::kWidth, DecodedPhoto::kHeight,
                                std::make_shared<const std::vector<std::uint8_t>>(std::move(photo->rgb))};
    } else {
      summary.photo.status = PhotoStatus::decode_failed;
      log::warn("photo_decode_failed", {{"code", photo.error().code}});
    }
  }
  VerifiedRead verified;
  verified.attempt = attempt;
  verified.document_type = type;
  verified.name = document.name.empty() ? document.english_name : document.name;
  verified.id_number = document.id_number;
  verified.idv_details = {{"document_type", std::string(to_string(type))},
                          {"verification_method", "chip-read"},
                          {"reader_id", reader_id},
                          {"read_at", utc_iso8601(read_at, TimePrecision::milliseconds)},
                          {"chip_data_sha256", chip_data_sha256},
                          {"chip_photo_sha256", chip_photo_sha256}};
  verified.evidence_files = {{"id_chip_read", folder / "idv.json"},
                             {"chip_text", folder / "chip-text.bin"},
                             {"chip_photo", folder / "chip-photo.wlt"}};
  if (!card->fingerprint.empty())
    verified.evidence_files.emplace_back("chip_fingerprint", folder / "chip-fingerprint.bin");
  if (nciis) {
    verified.idv_details["nciis_request_id"] = nciis->request_id;
    verified.idv_details["nciis_checked_at"] = nciis->checked_at;
    verified.idv_details["nciis_result"] = nciis->result;
    verified.idv_details["nciis_photo_sha256"] = nciis->photo_sha256;
  }
  {
    std::lock_guard lock(mutex_);
    if (armed_attempt_ == attempt) armed_attempt_.reset();
    verified_ = std::move(verified);
  }
  queue_.push(event::IdentityVerified{attempt, std::move(summary)});
}

}  // namespace kiosk::app

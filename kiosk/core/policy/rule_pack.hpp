// The rule pack (REQ-01, REQ-02, REQ-29, REQ-30): the signed, versioned document from head-office
// compliance that says which channels and operations were filed with CSDC, the allowed matrix
// (requirements.md M1), the mandatory evidence steps (M2), the per-operation preconditions and
// state changes (M3), and every [I] / TBD-CSDC setting. Code enforces what the pack says; the pack
// never switches off what the seed itself forbids (REQ-23), see policy.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/policy/document_procedure.hpp"

namespace kiosk::policy {

inline constexpr std::int64_t kRulePackFormatVersion = 1;
inline constexpr std::size_t kMaxRulePackBytes = 256 * 1024;  // a real pack is a few KiB

// How strictly a pack is loaded. Production refuses anything unsigned or unfiled (REQ-02).
enum class LoadMode { production, simulator, development };

// A matrix cell: allowed, or the stable refusal code the pack gives for it.
struct MatrixCell {
  bool allowed = false;
  std::string refusal_code;  // empty when allowed
};

// Steps inserted into a channel's list just before `before` (M3 extras, E9 institution documents).
struct StepInsertion {
  std::vector<StepId> steps;
  std::optional<StepId> before;  // set whenever `steps` is not empty
};

// M3: what an operation needs and what it does to the certificate.
struct OperationRule {
  bool from_no_certificate = false;                // "none": the subject holds no certificate of this kind yet
  std::vector<CertState> from_states;              // allowed states of the existing certificate
  CertState to_state = CertState::active;          // the state the operation leaves that certificate in
  std::optional<CertState> new_certificate_state;  // reissue: the replacement certificate's state
  std::vector<std::string> reason_codes;           // non-empty means a reason code is mandatory
  StepInsertion extra_steps;
};

// Every [I] / TBD-CSDC item of requirements.md, each defaulting to the stricter reading.
struct PackSettings {
  std::int64_t renewal_window_days = 30;
  bool allow_duplicate_active_certificate = false;
  std::int64_t recording_gap_threshold_seconds = 2;
  std::int64_t local_retention_days = 7;
  std::int64_t evidence_retention_years = 20;
  std::string terms_version;
};

inline constexpr std::size_t kChannelCount = 3;
inline constexpr std::size_t kInvestorCount = 2;
inline constexpr std::size_t kMediumCount = 2;
inline constexpr std::size_t kOperationCount = 6;
inline constexpr std::size_t kDocumentCount = EnumNames<DocumentType>::values.size();

constexpr std::size_t index_of(Channel value) { return static_cast<std::size_t>(value); }
constexpr std::size_t index_of(InvestorType value) { return static_cast<std::size_t>(value); }
constexpr std::size_t index_of(Medium value) { return static_cast<std::size_t>(value); }
constexpr std::size_t index_of(Operation value) { return static_cast<std::size_t>(value); }
constexpr std::size_t index_of(DocumentType value) { return static_cast<std::size_t>(value); }

struct ChannelRules {
  bool filed = false;
  std::array<bool, kOperationCount> operation_filed{};
  std::array<std::string, kOperationCount> not_supported_reason{};  // REQ-30: why an operation is not offered
  std::vector<StepId> steps;                                        // M2, in order
  std::vector<DocumentType> documents;                              // REQ-08; each has a procedure
};

struct RulePack {
  std::string source_name;  // file name, for messages
  std::int64_t format_version = kRulePackFormatVersion;
  std::string pack_version;
  std::string filing_reference;  // empty: not filed (production refuses it)
  std::string filing_date;       // YYYY-MM-DD, empty when absent
  std::array<ChannelRules, kChannelCount> channels;
  // [channel][investor][medium][operation]
  std::array<std::array<std::array<std::array<MatrixCell, kOperationCount>, kMediumCount>, kInvestorCount>,
             kChannelCount>
      matrix;
  std::array<OperationRule, kOperationCount> operations;
  std::array<StepInsertion, kInvestorCount> investor_steps;
  // REQ-08: one verification procedure per document type; every document a filed channel accepts has one.
  std::array<std::optional<DocumentProcedure>, kDocumentCount> document_procedures;
  PackSettings settings;

  [[nodiscard]] const ChannelRules& channel(Channel value) const { return channels[index_of(value)]; }
  [[nodiscard]] const MatrixCell& cell(Operation op, Channel ch, InvestorType investor, Medium medium) const {
    return matrix[index_of(ch)][index_of(investor)][index_of(medium)][index_of(op)];
  }
  [[nodiscard]] const OperationRule& operation(Operation op) const { return operations[index_of(op)]; }
  // The document's procedure, or nullptr when the pack defines none (then no channel accepts it).
  [[nodiscard]] const DocumentProcedure* procedure(DocumentType document) const {
    const auto& entry = document_procedures[index_of(document)];
    return entry ? &*entry : nullptr;
  }
  // The documents `ch` accepts, each with its procedure: what a transaction copies when it opens.
  [[nodiscard]] AcceptedDocuments accepted_documents(Channel ch) const;
};

enum class SignatureStatus { verified, unsigned_pack, not_checked };
std::string_view to_string(SignatureStatus status);

struct LoadedRulePack {
  RulePack pack;
  SignatureStatus signature = SignatureStatus::unsigned_pack;
};

// Parses a pack's text. Errors (RULEPACK_SYNTAX, RULEPACK_MISSING_KEY, RULEPACK_BAD_VALUE,
// RULEPACK_UNKNOWN_KEY, RULEPACK_PAIR_UNDEFINED, RULEPACK_CONTRADICTS_REQUIREMENTS,
// RULEPACK_TOO_LARGE, RULEPACK_UNSUPPORTED_FORMAT) name the source, the line and the key.
Result<RulePack> parse_rule_pack(std::string_view text, std::string source_name);

// Reads `path` and its detached signature `<path>.sig` and parses the pack.
// Production: RULEPACK_UNSIGNED (no .sig), RULEPACK_NO_TRUSTED_KEY, RULEPACK_BAD_SIGNATURE,
// RULEPACK_NO_FILING_REFERENCE (no filing reference or date). Simulator and development: an
// unsigned pack loads and says so; a signature that is present is still checked when a key is
// given, and a bad one is still refused.
Result<LoadedRulePack> load_rule_pack(const std::filesystem::path& path, LoadMode mode,
                                      std::string_view trusted_public_key_pem);

// Reads a small file whole (a pack, a signature, a PEM key), refusing anything over `max_bytes`.
// RULEPACK_UNREADABLE or RULEPACK_TOO_LARGE.
Result<std::string> read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes);

// `<pack>.sig`
std::filesystem::path signature_path_for(const std::filesystem::path& pack_path);

}  // namespace kiosk::policy

#include "kiosk/core/policy/rule_pack.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "kiosk/core/policy/pack_signature.hpp"

namespace kiosk::policy {

namespace {

constexpr std::size_t kMaxTextValue = 200;  // versions, references, reasons
constexpr std::size_t kMaxSignatureBytes = 4096;

constexpr std::array<std::string_view, 3> kMatrixRefusalCodes{"CHANNEL_MEDIUM_NOT_ALLOWED", "INVESTOR_TYPE_NOT_ALLOWED",
                                                              "OPERATION_NOT_ALLOWED"};

std::string join_path(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

template <NamedEnum E>
std::string names_of() {
  std::string out;
  for (const auto& [value, name] : EnumNames<E>::values) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string operation_names() {
  std::string out;
  for (const Operation op : kAllOperations) out += (out.empty() ? "" : ", ") + std::string(to_string(op));
  return out;
}

bool is_upper_snake(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); });
}

// Reads one pack; every error names the source, the line and the dotted key.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[nodiscard]] std::string where(const toml::node& node, std::string_view key) const {
    std::ostringstream out;
    out << source_ << ':' << std::max<std::uint32_t>(node.source().begin.line, 1) << ": key '" << key << "'";
    return out.str();
  }

  Error missing(const toml::table& parent, std::string_view key) const {
    return Error{"RULEPACK_MISSING_KEY", where(parent, key) + " is required but missing"};
  }
  Error bad(const toml::node& node, std::string_view key, std::string_view what) const {
    return Error{"RULEPACK_BAD_VALUE", where(node, key) + " " + std::string(what)};
  }

  // Refuses keys the format does not define: a typo must not silently fall back to a default.
  Result<void> only_keys(const toml::table& table, std::string_view path,
                         std::initializer_list<std::string_view> allowed) const {
    for (const auto& [name, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), name.str()) == allowed.end()) {
        return std::unexpected(Error{"RULEPACK_UNKNOWN_KEY", where(node, join_path(path, name.str())) +
                                                                 " is not part of rule-pack format 1; check its "
                                                                 "spelling against default-rulepack.toml"});
      }
    }
    return {};
  }

  Result<const toml::table*> table(const toml::table& parent, std::string_view key, std::string_view path,
                                   bool required) const {
    const toml::node* node = parent.get(key);
    const std::string full = join_path(path, key);
    if (node == nullptr) {
      if (required) return std::unexpected(missing(parent, full));
      return nullptr;
    }
    if (const auto* child = node->as_table()) return child;
    return std::unexpected(bad(*node, full, "must be a table"));
  }

  Result<std::optional<std::string>> text(const toml::table& parent, std::string_view key, std::string_view path,
                                          bool required) const {
    const toml::node* node = parent.get(key);
    const std::string full = join_path(path, key);
    if (node == nullptr) {
      if (required) return std::unexpected(missing(parent, full));
      return std::optional<std::string>{};
    }
    const auto value = node->value_exact<std::string>();
    if (!value) return std::unexpected(bad(*node, full, "must be a string"));
    if (value->size() > kMaxTextValue) {
      return std::unexpected(bad(*node, full, "is longer than " + std::to_string(kMaxTextValue) + " characters"));
    }
    return std::optional<std::string>(*value);
  }

  Result<std::int64_t> integer(const toml::table& parent, std::string_view key, std::string_view path,
                               std::int64_t fallback, std::int64_t min, std::int64_t max) const {
    const toml::node* node = parent.get(key);
    if (node == nullptr) return fallback;
    const auto value = node->value_exact<std::int64_t>();
    if (!value || *value < min || *value > max) {
      return std::unexpected(bad(*node, join_path(path, key),
                                 "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max)));
    }
    return *value;
  }

  Result<bool> boolean(const toml::table& parent, std::string_view key, std::string_view path, bool fallback) const {
    const toml::node* node = parent.get(key);
    if (node == nullptr) return fallback;
    const auto value = node->value_exact<bool>();
    if (!value) return std::unexpected(bad(*node, join_path(path, key), "must be true or false"));
    return *value;
  }

  // An array of distinct names, each parsed by `parse`; `kind` and `choices` go into the message.
  template <class T, class Parse>
  Result<std::vector<T>> names(const toml::table& parent, std::string_view key, std::string_view path, bool required,
                               Parse parse, std::string_view kind, const std::string& choices) const {
    const toml::node* node = parent.get(key);
    const std::string full = join_path(path, key);
    if (node == nullptr) {
      if (required) return std::unexpected(missing(parent, full));
      return std::vector<T>{};
    }
    const toml::array* array = node->as_array();
    if (array == nullptr)
      return std::unexpected(bad(*node, full, "must be an array of " + std::string(kind) + " names"));
    if (array->size() > 64) return std::unexpected(bad(*node, full, "has more than 64 entries"));
    std::vector<T> out;
    for (const toml::node& element : *array) {
      const auto name = element.value_exact<std::string>();
      if (!name) return std::unexpected(bad(element, full, "must hold only strings"));
      const std::optional<T> value = parse(*name);
      if (!value) {
        return std::unexpected(bad(element, full,
                                   "has \"" + name->substr(0, kMaxTextValue) + "\", which is not a " +
                                       std::string(kind) + "; use one of " + choices));
      }
      if (std::find(out.begin(), out.end(), *value) != out.end()) {
        return std::unexpected(bad(element, full, "names \"" + *name + "\" twice"));
      }
      out.push_back(*value);
    }
    return out;
  }

  template <NamedEnum E>
  Result<std::vector<E>> enum_names(const toml::table& parent, std::string_view key, std::string_view path,
                                    bool required, std::string_view kind) const {
    return names<E>(
        parent, key, path, required, [](std::string_view n) { return parse_enum<E>(n); }, kind, names_of<E>());
  }

  Result<std::vector<Operation>> operations(const toml::table& parent, std::string_view key,
                                            std::string_view path) const {
    return names<Operation>(
        parent, key, path, true, [](std::string_view n) { return operation_from_string(n); }, "operation",
        operation_names());
  }

  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  std::string source_;
};

std::optional<CertState> parse_state(std::string_view name) { return parse_enum<CertState>(name); }

Result<void> read_filing(const Reader& in, const toml::table& root, RulePack& pack) {
  auto filing = in.table(root, "filing", "", true);
  if (!filing) return std::unexpected(filing.error());
  const toml::table& table = **filing;
  if (auto ok = in.only_keys(table, "filing", {"reference", "date", "channels", "operations"}); !ok) return ok;
  auto reference = in.text(table, "reference", "filing", false);
  if (!reference) return std::unexpected(reference.error());
  pack.filing_reference = reference->value_or("");
  if (const toml::node* date = table.get("date")) {
    const auto value = date->value_exact<toml::date>();
    if (!value) return std::unexpected(in.bad(*date, "filing.date", "must be a TOML date such as 2026-03-01"));
    char text[16];
    std::snprintf(text, sizeof text, "%04u-%02u-%02u", static_cast<unsigned>(value->year),
                  static_cast<unsigned>(value->month), static_cast<unsigned>(value->day));
    pack.filing_date = text;
  }
  auto channels = in.enum_names<Channel>(table, "channels", "filing", true, "channel");
  if (!channels) return std::unexpected(channels.error());
  for (const Channel ch : *channels) pack.channels[index_of(ch)].filed = true;

  auto operations = in.table(table, "operations", "filing", true);
  if (!operations) return std::unexpected(operations.error());
  for (const auto& [name, node] : **operations) {
    const auto ch = parse_enum<Channel>(name.str());
    if (!ch || !pack.channels[index_of(*ch)].filed) {
      return std::unexpected(in.bad(node, join_path("filing.operations", name.str()),
                                    "is not a filed channel; list it in filing.channels first"));
    }
  }
  for (const Channel ch : *channels) {
    if ((*operations)->get(to_string(ch)) == nullptr) continue;  // REQ-30 check below names the pair
    auto ops = in.operations(**operations, to_string(ch), "filing.operations");
    if (!ops) return std::unexpected(ops.error());
    for (const Operation op : *ops) pack.channels[index_of(ch)].operation_filed[index_of(op)] = true;
  }
  return {};
}

Result<void> read_not_supported(const Reader& in, const toml::table& root, RulePack& pack) {
  auto section = in.table(root, "not_supported", "", false);
  if (!section) return std::unexpected(section.error());
  if (*section == nullptr) return {};
  for (const auto& [ch_name, ch_node] : **section) {
    const std::string path = join_path("not_supported", ch_name.str());
    const auto ch = parse_enum<Channel>(ch_name.str());
    const auto* ops = ch_node.as_table();
    if (!ch || ops == nullptr) {
      return std::unexpected(
          in.bad(ch_node, path, "must be a table named after a channel (" + names_of<Channel>() + ")"));
    }
    for (const auto& [op_name, reason_node] : *ops) {
      const std::string key = join_path(path, op_name.str());
      const auto op = operation_from_string(op_name.str());
      if (!op) return std::unexpected(in.bad(reason_node, key, "is not an operation (" + operation_names() + ")"));
      auto reason = in.text(*ops, op_name.str(), path, true);
      if (!reason) return std::unexpected(reason.error());
      if ((*reason)->empty()) return std::unexpected(in.bad(reason_node, key, "must give the reason in words"));
      ChannelRules& rules = pack.channels[index_of(*ch)];
      if (rules.operation_filed[index_of(*op)]) {
        return std::unexpected(in.bad(reason_node, key, "contradicts filing.operations, which lists it as filed"));
      }
      rules.not_supported_reason[index_of(*op)] = **reason;
    }
  }
  return {};
}

// REQ-30: every (operation, filed channel) pair is either filed or explicitly not supported.
Result<void> check_no_undefined_pair(const Reader& in, const toml::table& root, const RulePack& pack) {
  for (const auto& [ch, ch_name] : EnumNames<Channel>::values) {
    const ChannelRules& rules = pack.channels[index_of(ch)];
    if (!rules.filed) continue;
    for (const Operation op : kAllOperations) {
      if (rules.operation_filed[index_of(op)] || !rules.not_supported_reason[index_of(op)].empty()) continue;
      const toml::node* filing = root.get("filing");
      return std::unexpected(
          Error{"RULEPACK_PAIR_UNDEFINED", in.where(filing != nullptr ? *filing : static_cast<const toml::node&>(root),
                                                    "filing.operations." + std::string(ch_name)) +
                                               " leaves operation '" + std::string(to_string(op)) +
                                               "' undefined for the filed channel '" + std::string(ch_name) +
                                               "' (REQ-30): list it there, or give a reason under [not_supported." +
                                               std::string(ch_name) + "]"});
    }
  }
  return {};
}

Result<void> read_matrix(const Reader& in, const toml::table& root, RulePack& pack) {
  auto matrix = in.table(root, "matrix", "", true);
  if (!matrix) return std::unexpected(matrix.error());
  if (auto ok = in.only_keys(**matrix, "matrix", {"counter", "witness", "other"}); !ok) return ok;
  for (const auto& [ch, ch_name] : EnumNames<Channel>::values) {
    const std::string ch_path = join_path("matrix", ch_name);
    auto ch_table = in.table(**matrix, ch_name, "matrix", true);
    if (!ch_table) return std::unexpected(ch_table.error());
    if (auto ok = in.only_keys(**ch_table, ch_path, {"natural", "institution"}); !ok) return ok;
    for (const auto& [investor, investor_name] : EnumNames<InvestorType>::values) {
      const std::string inv_path = join_path(ch_path, investor_name);
      auto inv_table = in.table(**ch_table, investor_name, ch_path, true);
      if (!inv_table) return std::unexpected(inv_table.error());
      if (auto ok = in.only_keys(**inv_table, inv_path, {"hard", "soft"}); !ok) return ok;
      for (const auto& [medium, medium_name] : EnumNames<Medium>::values) {
        const std::string cell_path = join_path(inv_path, medium_name);
        auto cells = in.table(**inv_table, medium_name, inv_path, true);
        if (!cells) return std::unexpected(cells.error());
        if (auto ok = in.only_keys(**cells, cell_path, {"apply", "renew", "reissue", "freeze", "unfreeze", "revoke"});
            !ok) {
          return ok;
        }
        for (const Operation op : kAllOperations) {
          auto value = in.text(**cells, to_string(op), cell_path, true);
          if (!value) return std::unexpected(value.error());
          MatrixCell& cell = pack.matrix[index_of(ch)][index_of(investor)][index_of(medium)][index_of(op)];
          const std::string& word = **value;
          if (word == "allow") {
            cell = MatrixCell{true, ""};
          } else if (std::find(kMatrixRefusalCodes.begin(), kMatrixRefusalCodes.end(), word) !=
                     kMatrixRefusalCodes.end()) {
            cell = MatrixCell{false, word};
          } else {
            return std::unexpected(in.bad(*(*cells)->get(to_string(op)), join_path(cell_path, to_string(op)),
                                          "must be \"allow\" or a refusal code: CHANNEL_MEDIUM_NOT_ALLOWED, "
                                          "INVESTOR_TYPE_NOT_ALLOWED or OPERATION_NOT_ALLOWED"));
          }
          // REQ-23 ([S] §B4): the other-methods channel never issues a hard certificate or serves an
          // institution. Only the [I] cells (freeze, unfreeze, revoke) are for compliance to decide.
          const bool issues = op == Operation::apply || op == Operation::renew || op == Operation::reissue;
          if (cell.allowed && ch == Channel::other && issues &&
              (medium == Medium::hard || investor == InvestorType::institution)) {
            return std::unexpected(
                Error{"RULEPACK_CONTRADICTS_REQUIREMENTS",
                      in.where(*(*cells)->get(to_string(op)), join_path(cell_path, to_string(op))) +
                          " allows issuing a hard certificate or serving an institution in the other-methods channel, "
                          "which REQ-23 (seed §B4) forbids"});
          }
        }
      }
    }
  }
  return {};
}

// The steps a pack can never drop, because the sources themselves require them (REQ-39): consent
// before any camera (REQ-46), identity verification (REQ-05), review (REQ-27) and the operation
// itself last; in the witness channel also the introduction (REQ-14), the witness's identity check
// and signing (REQ-19) and the paper form (REQ-20). [I] steps stay the pack's decision.
Result<void> check_step_floor(const Reader& in, const toml::node& node, Channel ch, const std::vector<StepId>& steps) {
  const std::string key = join_path("steps", to_string(ch));
  std::vector<StepId> required{StepId::consent, StepId::idv, StepId::review, StepId::issue};
  if (ch == Channel::witness) {
    required.insert(required.end(),
                    {StepId::witness_intro, StepId::identity_check, StepId::form_capture, StepId::witness_signing});
  }
  for (const StepId step : required) {
    if (std::find(steps.begin(), steps.end(), step) == steps.end()) {
      return std::unexpected(Error{"RULEPACK_CONTRADICTS_REQUIREMENTS",
                                   in.where(node, key) + " lacks the step '" + std::string(to_string(step)) +
                                       "', which the requirements make mandatory in this channel (REQ-39)"});
    }
  }
  if (steps.front() != StepId::consent) {
    return std::unexpected(in.bad(node, key, "must start with 'consent': no camera starts before it (REQ-46)"));
  }
  if (steps.back() != StepId::issue) {
    return std::unexpected(in.bad(node, key, "must end with 'issue', after the review (REQ-27)"));
  }
  return {};
}

Result<void> read_channel_lists(const Reader& in, const toml::table& root, RulePack& pack) {
  auto steps = in.table(root, "steps", "", true);
  if (!steps) return std::unexpected(steps.error());
  auto documents = in.table(root, "documents", "", true);
  if (!documents) return std::unexpected(documents.error());
  if (auto ok = in.only_keys(**steps, "steps", {"counter", "witness", "other"}); !ok) return ok;
  if (auto ok = in.only_keys(**documents, "documents", {"counter", "witness", "other"}); !ok) return ok;
  for (const auto& [ch, ch_name] : EnumNames<Channel>::values) {
    ChannelRules& rules = pack.channels[index_of(ch)];
    // A channel that was not filed needs no steps: evaluation refuses it before looking.
    auto list = in.enum_names<StepId>(**steps, ch_name, "steps", rules.filed, "step");
    if (!list) return std::unexpected(list.error());
    rules.steps = std::move(*list);
    if (rules.filed) {
      const toml::node& node = *(*steps)->get(ch_name);
      if (auto ok = check_step_floor(in, node, ch, rules.steps); !ok) return ok;
    }
    auto docs = in.enum_names<DocumentType>(**documents, ch_name, "documents", rules.filed, "document type");
    if (!docs) return std::unexpected(docs.error());
    if (rules.filed && docs->empty()) {
      return std::unexpected(in.bad(*(*documents)->get(ch_name), join_path("documents", ch_name),
                                    "must allow at least one document type"));
    }
    rules.documents = std::move(*docs);
  }
  return {};
}

// REQ-05, REQ-08: how each document type is verified. Every document a filed channel accepts
// needs a procedure; what the sources fix is enforced, the [I] reviewer confirmation is the pack's.
Result<void> read_document_procedures(const Reader& in, const toml::table& root, RulePack& pack) {
  auto section = in.table(root, "document_procedures", "", false);
  if (!section) return std::unexpected(section.error());
  if (*section != nullptr) {
    for (const auto& [doc_name, node] : **section) {
      const std::string path = join_path("document_procedures", doc_name.str());
      const auto document = parse_enum<DocumentType>(doc_name.str());
      if (!document) {
        return std::unexpected(
            Error{"RULEPACK_UNKNOWN_KEY",
                  in.where(node, path) + " is not a document type; use one of " + names_of<DocumentType>()});
      }
      const toml::table* table = node.as_table();
      if (table == nullptr) return std::unexpected(in.bad(node, path, "must be a table"));
      if (auto ok = in.only_keys(*table, path, {"methods", "images", "reviewer_confirmation"}); !ok) {
        return std::unexpected(ok.error());
      }
      DocumentProcedure procedure;
      auto methods = in.enum_names<VerificationMethod>(*table, "methods", path, true, "verification method");
      if (!methods) return std::unexpected(methods.error());
      if (methods->empty()) {
        return std::unexpected(in.bad(*table->get("methods"), join_path(path, "methods"), "must not be empty"));
      }
      procedure.methods = std::move(*methods);
      auto images = in.enum_names<DocumentSide>(*table, "images", path, true, "document side");
      if (!images) return std::unexpected(images.error());
      procedure.images = std::move(*images);
      // Required rather than defaulted: whether a second person confirms is compliance's decision.
      if (table->get("reviewer_confirmation") == nullptr) {
        return std::unexpected(in.missing(*table, join_path(path, "reviewer_confirmation")));
      }
      auto reviewer = in.boolean(*table, "reviewer_confirmation", path, true);
      if (!reviewer) return std::unexpected(reviewer.error());
      procedure.reviewer_confirmation = *reviewer;

      const auto has = [](const auto& list, auto value) {
        return std::find(list.begin(), list.end(), value) != list.end();
      };
      const bool both_sides = has(procedure.images, DocumentSide::front) && has(procedure.images, DocumentSide::back);
      if (has(procedure.methods, VerificationMethod::document_image) && procedure.methods.size() == 1 && !both_sides) {
        return std::unexpected(in.bad(*table, join_path(path, "images"),
                                      "must list \"front\" and \"back\": a document checked only from its images "
                                      "needs both sides"));
      }
      if (*document == DocumentType::prc_id && has(procedure.methods, VerificationMethod::document_image)) {
        return std::unexpected(Error{"RULEPACK_CONTRADICTS_REQUIREMENTS",
                                     in.where(*table, join_path(path, "methods")) +
                                         " allows document-image for the PRC ID card, which REQ-05 says is "
                                         "checked by the card reader or NCIIS only"});
      }
      if (*document != DocumentType::prc_id && !both_sides) {
        return std::unexpected(Error{"RULEPACK_CONTRADICTS_REQUIREMENTS",
                                     in.where(*table, join_path(path, "images")) +
                                         " must list \"front\" and \"back\": REQ-08 has both sides of this "
                                         "document imaged"});
      }
      pack.document_procedures[index_of(*document)] = std::move(procedure);
    }
  }
  for (const auto& [ch, ch_name] : EnumNames<Channel>::values) {
    const ChannelRules& rules = pack.channels[index_of(ch)];
    if (!rules.filed) continue;
    for (const DocumentType document : rules.documents) {
      if (pack.procedure(document) != nullptr) continue;
      const toml::table& at = *section != nullptr ? **section : root;
      return std::unexpected(
          Error{"RULEPACK_MISSING_KEY", in.where(at, "document_procedures." + std::string(to_string(document))) +
                                            " is required because documents." + std::string(ch_name) +
                                            " accepts it: give its verification procedure (REQ-08)"});
    }
  }
  return {};
}

Result<StepInsertion> read_insertion(const Reader& in, const toml::table& table, std::string_view path) {
  StepInsertion insertion;
  auto steps = in.enum_names<StepId>(table, "extra_steps", path, false, "step");
  if (!steps) return std::unexpected(steps.error());
  insertion.steps = std::move(*steps);
  auto before = in.text(table, "extra_steps_before", path, !insertion.steps.empty());
  if (!before) return std::unexpected(before.error());
  if (*before) {
    insertion.before = parse_enum<StepId>(**before);
    if (!insertion.before) {
      return std::unexpected(in.bad(*table.get("extra_steps_before"), join_path(path, "extra_steps_before"),
                                    "is not a step; use one of " + names_of<StepId>()));
    }
  }
  return insertion;
}

Result<void> read_operations(const Reader& in, const toml::table& root, RulePack& pack) {
  auto operations = in.table(root, "operations", "", true);
  if (!operations) return std::unexpected(operations.error());
  if (auto ok = in.only_keys(**operations, "operations", {"apply", "renew", "reissue", "freeze", "unfreeze", "revoke"});
      !ok) {
    return ok;
  }
  for (const Operation op : kAllOperations) {
    const std::string path = join_path("operations", to_string(op));
    auto table = in.table(**operations, to_string(op), "operations", true);
    if (!table) return std::unexpected(table.error());
    const toml::table& t = **table;
    if (auto ok = in.only_keys(t, path,
                               {"from", "to", "new_certificate", "reason_codes", "extra_steps", "extra_steps_before"});
        !ok) {
      return ok;
    }
    OperationRule& rule = pack.operations[index_of(op)];
    // "none" stands for "no certificate yet" (M3 apply).
    auto from = in.names<std::string>(
        t, "from", path, true,
        [](std::string_view n) -> std::optional<std::string> {
          if (n == "none" || parse_state(n)) return std::string(n);
          return std::nullopt;
        },
        "certificate state", "none, " + names_of<CertState>());
    if (!from) return std::unexpected(from.error());
    if (from->empty()) return std::unexpected(in.bad(*t.get("from"), join_path(path, "from"), "must not be empty"));
    for (const std::string& name : *from) {
      if (const auto state = parse_state(name)) {
        rule.from_states.push_back(*state);
      } else {
        rule.from_no_certificate = true;
      }
    }
    for (const auto& [key, target] : {std::pair<std::string_view, bool>{"to", true}, {"new_certificate", false}}) {
      auto name = in.text(t, key, path, target);
      if (!name) return std::unexpected(name.error());
      if (!*name) continue;
      const auto state = parse_state(**name);
      if (!state) {
        return std::unexpected(in.bad(*t.get(key), join_path(path, key),
                                      "is not a certificate state; use one of " + names_of<CertState>()));
      }
      if (target) {
        rule.to_state = *state;
      } else {
        rule.new_certificate_state = *state;
      }
    }
    auto reasons = in.names<std::string>(
        t, "reason_codes", path, false,
        [](std::string_view n) { return is_upper_snake(n) ? std::optional<std::string>(n) : std::nullopt; },
        "reason code", "UPPER_SNAKE_CASE words");
    if (!reasons) return std::unexpected(reasons.error());
    rule.reason_codes = std::move(*reasons);
    // M3 / REQ-34, REQ-36: freeze and reissue always record a reason.
    if ((op == Operation::freeze || op == Operation::reissue) && rule.reason_codes.empty()) {
      return std::unexpected(Error{"RULEPACK_CONTRADICTS_REQUIREMENTS",
                                   in.where(t, join_path(path, "reason_codes")) +
                                       " must list the reason codes: M3 makes a reason mandatory for " +
                                       std::string(to_string(op))});
    }
    auto extra = read_insertion(in, t, path);
    if (!extra) return std::unexpected(extra.error());
    rule.extra_steps = std::move(*extra);
  }
  return {};
}

Result<void> read_investor_steps(const Reader& in, const toml::table& root, RulePack& pack) {
  auto section = in.table(root, "investor_steps", "", false);
  if (!section) return std::unexpected(section.error());
  if (*section == nullptr) return {};
  if (auto ok = in.only_keys(**section, "investor_steps", {"natural", "institution"}); !ok) return ok;
  for (const auto& [investor, name] : EnumNames<InvestorType>::values) {
    const std::string path = join_path("investor_steps", name);
    auto table = in.table(**section, name, "investor_steps", false);
    if (!table) return std::unexpected(table.error());
    if (*table == nullptr) continue;
    if (auto ok = in.only_keys(**table, path, {"extra_steps", "extra_steps_before"}); !ok) return ok;
    auto extra = read_insertion(in, **table, path);
    if (!extra) return std::unexpected(extra.error());
    pack.investor_steps[index_of(investor)] = std::move(*extra);
  }
  return {};
}

// Every insertion must land on a step the channel has, and must not repeat one it already has.
Result<void> check_insertions(const Reader& in, const toml::table& root, const RulePack& pack) {
  auto check = [&](const StepInsertion& insertion, const std::string& path) -> Result<void> {
    if (insertion.steps.empty()) return {};
    for (const auto& [ch, ch_name] : EnumNames<Channel>::values) {
      const ChannelRules& rules = pack.channels[index_of(ch)];
      if (!rules.filed) continue;
      const auto* node = root.at_path(path).node();
      const toml::node& at = node != nullptr ? *node : static_cast<const toml::node&>(root);
      if (std::find(rules.steps.begin(), rules.steps.end(), *insertion.before) == rules.steps.end()) {
        return std::unexpected(in.bad(at, path + ".extra_steps_before",
                                      "names a step the filed channel '" + std::string(ch_name) + "' does not have"));
      }
      for (const StepId step : insertion.steps) {
        if (std::find(rules.steps.begin(), rules.steps.end(), step) != rules.steps.end()) {
          return std::unexpected(in.bad(at, path + ".extra_steps",
                                        "adds '" + std::string(to_string(step)) + "', which the channel '" +
                                            std::string(ch_name) + "' already has"));
        }
      }
    }
    return {};
  };
  for (const Operation op : kAllOperations) {
    if (auto ok = check(pack.operation(op).extra_steps, "operations." + std::string(to_string(op))); !ok) return ok;
  }
  for (const auto& [investor, name] : EnumNames<InvestorType>::values) {
    if (auto ok = check(pack.investor_steps[index_of(investor)], "investor_steps." + std::string(name)); !ok) return ok;
  }
  return {};
}

Result<void> read_settings(const Reader& in, const toml::table& root, RulePack& pack) {
  auto section = in.table(root, "settings", "", true);
  if (!section) return std::unexpected(section.error());
  const toml::table& t = **section;
  if (auto ok =
          in.only_keys(t, "settings",
                       {"renewal_window_days", "allow_duplicate_active_certificate", "recording_gap_threshold_seconds",
                        "local_retention_days", "evidence_retention_years", "terms_version"});
      !ok) {
    return ok;
  }
  PackSettings& s = pack.settings;
  auto window = in.integer(t, "renewal_window_days", "settings", s.renewal_window_days, 1, 366);
  auto duplicate =
      in.boolean(t, "allow_duplicate_active_certificate", "settings", s.allow_duplicate_active_certificate);
  auto gap = in.integer(t, "recording_gap_threshold_seconds", "settings", s.recording_gap_threshold_seconds, 1, 60);
  auto local = in.integer(t, "local_retention_days", "settings", s.local_retention_days, 0, 3650);
  // REQ-42: never less than 20 years.
  auto years = in.integer(t, "evidence_retention_years", "settings", s.evidence_retention_years, 20, 100);
  auto terms = in.text(t, "terms_version", "settings", true);
  if (!window) return std::unexpected(window.error());
  if (!duplicate) return std::unexpected(duplicate.error());
  if (!gap) return std::unexpected(gap.error());
  if (!local) return std::unexpected(local.error());
  if (!years) return std::unexpected(years.error());
  if (!terms) return std::unexpected(terms.error());
  if ((*terms)->empty())
    return std::unexpected(in.bad(*t.get("terms_version"), "settings.terms_version", "must not be empty (REQ-51)"));
  s = PackSettings{*window, *duplicate, *gap, *local, *years, **terms};
  return {};
}

Result<RulePack> parse_document(const Reader& in, const toml::table& root) {
  RulePack pack;
  pack.source_name = in.source();
  if (auto ok = in.only_keys(root, "",
                             {"format_version", "pack_version", "filing", "not_supported", "matrix", "steps",
                              "documents", "document_procedures", "operations", "investor_steps", "settings"});
      !ok) {
    return std::unexpected(ok.error());
  }
  const toml::node* format = root.get("format_version");
  if (format == nullptr) return std::unexpected(in.missing(root, "format_version"));
  if (format->value_exact<std::int64_t>() != kRulePackFormatVersion) {
    return std::unexpected(Error{"RULEPACK_UNSUPPORTED_FORMAT",
                                 in.where(*format, "format_version") + " must be 1; this kiosk reads format 1 only"});
  }
  auto version = in.text(root, "pack_version", "", true);
  if (!version) return std::unexpected(version.error());
  if ((*version)->empty())
    return std::unexpected(in.bad(*root.get("pack_version"), "pack_version", "must not be empty"));
  pack.pack_version = **version;

  for (auto step : {read_filing, read_not_supported}) {
    if (auto ok = step(in, root, pack); !ok) return std::unexpected(ok.error());
  }
  if (auto ok = check_no_undefined_pair(in, root, pack); !ok) return std::unexpected(ok.error());
  for (auto step : {read_matrix, read_channel_lists, read_document_procedures, read_operations, read_investor_steps,
                    read_settings}) {
    if (auto ok = step(in, root, pack); !ok) return std::unexpected(ok.error());
  }
  if (auto ok = check_insertions(in, root, pack); !ok) return std::unexpected(ok.error());
  return pack;
}

}  // namespace

AcceptedDocuments RulePack::accepted_documents(Channel ch) const {
  AcceptedDocuments accepted;
  for (const DocumentType document : channel(ch).documents) {
    if (const DocumentProcedure* found = procedure(document)) accepted.emplace(document, *found);
  }
  return accepted;
}

std::string_view to_string(SignatureStatus status) {
  switch (status) {
    case SignatureStatus::verified: return "verified";
    case SignatureStatus::unsigned_pack: return "unsigned";
    case SignatureStatus::not_checked: return "not-checked";
  }
  return "unsigned";
}

Result<RulePack> parse_rule_pack(std::string_view text, std::string source_name) {
  if (text.size() > kMaxRulePackBytes) {
    return fail("RULEPACK_TOO_LARGE", source_name + " is larger than " + std::to_string(kMaxRulePackBytes / 1024) +
                                          " KiB; it is not a rule pack");
  }
  const Reader reader(std::move(source_name));
  try {
    const toml::table root = toml::parse(text, reader.source());
    return parse_document(reader, root);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << reader.source() << ':' << error.source().begin.line << ':' << error.source().begin.column
        << ": not valid TOML: " << error.description();
    return fail("RULEPACK_SYNTAX", out.str());
  } catch (const std::exception& error) {
    return fail("RULEPACK_SYNTAX", reader.source() + ": could not be read as TOML: " + error.what());
  }
}

Result<std::string> read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail("RULEPACK_UNREADABLE", "cannot open " + path.string() + ": check the path and its permissions");
  }
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    return fail("RULEPACK_TOO_LARGE", path.string() + " is larger than " + std::to_string(max_bytes) +
                                          " bytes, more than such a file can be");
  }
  return text;
}

std::filesystem::path signature_path_for(const std::filesystem::path& pack_path) {
  std::filesystem::path sig = pack_path;
  sig += ".sig";
  return sig;
}

Result<LoadedRulePack> load_rule_pack(const std::filesystem::path& path, LoadMode mode,
                                      std::string_view trusted_public_key_pem) {
  auto text = read_bounded_file(path, kMaxRulePackBytes);
  if (!text) return std::unexpected(text.error());
  const std::filesystem::path sig_path = signature_path_for(path);
  const bool production = mode == LoadMode::production;

  SignatureStatus status = SignatureStatus::unsigned_pack;
  if (std::filesystem::exists(sig_path)) {
    auto signature = read_bounded_file(sig_path, kMaxSignatureBytes);
    if (!signature) return std::unexpected(signature.error());
    if (trusted_public_key_pem.empty()) {
      if (production) {
        return fail("RULEPACK_NO_TRUSTED_KEY", "no head-office public key is configured, so the signature of " +
                                                   path.string() + " cannot be checked; provision the key first");
      }
      status = SignatureStatus::not_checked;
    } else {
      if (trusted_public_key_pem.size() > kMaxKeyFileBytes) {
        return fail("RULEPACK_BAD_KEY", "the trusted public key is larger than any PEM P-256 key");
      }
      auto verified = verify_detached(*text, *signature, trusted_public_key_pem);
      if (!verified) {
        return fail(verified.error().code, path.string() + ": " + verified.error().message);
      }
      status = SignatureStatus::verified;
    }
  } else if (production) {
    return fail("RULEPACK_UNSIGNED", path.string() + " has no signature file " + sig_path.string() +
                                         "; a production kiosk loads only packs signed by head office (REQ-02)");
  }

  auto pack = parse_rule_pack(*text, path.string());
  if (!pack) return std::unexpected(pack.error());
  if (production && (pack->filing_reference.empty() || pack->filing_date.empty())) {
    return fail("RULEPACK_NO_FILING_REFERENCE",
                path.string() + " has no " + (pack->filing_reference.empty() ? "filing.reference" : "filing.date") +
                    "; a production kiosk loads only a pack tied to a CSDC filing (REQ-01, REQ-02)");
  }
  return LoadedRulePack{std::move(*pack), status};
}

}  // namespace kiosk::policy

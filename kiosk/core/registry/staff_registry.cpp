#include "kiosk/core/registry/staff_registry.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "kiosk/core/log.hpp"

namespace kiosk::registry {
namespace {

constexpr std::int64_t kSchemaVersion = 1;

// Builds "file:line: key 'staff[3].status'" for messages, so the feed's author can find the spot.
class Where {
 public:
  explicit Where(const std::string& source) : source_(source) {}
  [[nodiscard]] std::string at(const toml::node& node, std::string_view key) const {
    std::ostringstream out;
    out << source_ << ':' << node.source().begin.line << ": key '" << key << "'";
    return out.str();
  }

 private:
  const std::string& source_;
};

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return (c >= 'a' && c <= 'z') ? char(c - 32) : c; });
  return out;
}

// Reads the fields of one [[staff]] table, refusing any key it does not know.
class RecordReader {
 public:
  RecordReader(const toml::table& table, std::string prefix, const Where& where)
      : table_(table), prefix_(std::move(prefix)), where_(where) {}

  Result<std::string> string(std::string_view key, bool required) {
    const toml::node* node = lookup(key);
    if (node == nullptr) {
      if (required) return missing(key);
      return std::string();
    }
    const auto value = node->value_exact<std::string>();
    if (!value) return bad(*node, key, "must be a string");
    if (value->size() > kMaxFieldLength) {
      return bad(*node, key, "is longer than " + std::to_string(kMaxFieldLength) + " characters");
    }
    if (required && value->empty()) return bad(*node, key, "must not be empty");
    return *value;
  }

  Result<bool> boolean(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) return missing(key);
    const auto value = node->value_exact<bool>();
    if (!value) return bad(*node, key, "must be true or false");
    return *value;
  }

  Result<std::optional<Date>> date(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) return std::optional<Date>{};
    const auto value = node->value_exact<toml::date>();
    if (!value) return bad(*node, key, "must be a date like 2026-12-31");
    const std::chrono::year_month_day day{std::chrono::year{value->year}, std::chrono::month{value->month},
                                          std::chrono::day{value->day}};
    if (!day.ok()) return bad(*node, key, "is not a calendar date");
    return std::optional<Date>{Date{day}};
  }

  template <class E>
  Result<E> choice(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) return missing(key);
    const auto value = node->value_exact<std::string>();
    if (value) {
      if (const auto parsed = parse_enum<E>(*value)) return *parsed;
    }
    return bad(*node, key, "must be one of " + names<E>());
  }

  Result<std::vector<StaffRole>> roles(std::string_view key) {
    const toml::node* node = lookup(key);
    if (node == nullptr) return missing(key);
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty() || array->size() > EnumNames<StaffRole>::values.size()) {
      return bad(*node, key, "must be a non-empty list of " + names<StaffRole>());
    }
    std::vector<StaffRole> out;
    for (const toml::node& element : *array) {
      const auto text = element.value_exact<std::string>();
      const auto role = text ? parse_enum<StaffRole>(*text) : std::nullopt;
      if (!role) return bad(element, key, "lists a role that is not one of " + names<StaffRole>());
      if (std::find(out.begin(), out.end(), *role) != out.end()) return bad(element, key, "lists a role twice");
      out.push_back(*role);
    }
    return out;
  }

  Result<void> no_unknown_keys() const {
    for (const auto& [key, node] : table_) {
      if (asked_.count(std::string(key.str())) == 0) {
        return bad(node, key.str(), "is not a staff field (a typo?)");
      }
    }
    return {};
  }

 private:
  const toml::node* lookup(std::string_view key) {
    asked_.emplace(key);
    return table_.get(key);
  }
  std::unexpected<Error> missing(std::string_view key) const {
    return fail("REGISTRY_BAD_VALUE",
                where_.at(table_, prefix_ + "." + std::string(key)) + " is missing; every staff entry needs it");
  }
  std::unexpected<Error> bad(const toml::node& node, std::string_view key, const std::string& what) const {
    return fail("REGISTRY_BAD_VALUE", where_.at(node, prefix_ + "." + std::string(key)) + " " + what);
  }
  template <class E>
  static std::string names() {
    std::string out;
    for (const auto& [value, name] : EnumNames<E>::values) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
  }

  const toml::table& table_;
  std::string prefix_;
  const Where& where_;
  std::set<std::string, std::less<>> asked_;
};

Result<StaffRecord> read_record(const toml::table& table, std::string prefix, const Where& where) {
  RecordReader reader(table, std::move(prefix), where);
  StaffRecord record;
  auto id = reader.string("id", true);
  if (!id) return std::unexpected(id.error());
  record.staff_id = std::move(*id);
  auto name = reader.string("name", true);
  if (!name) return std::unexpected(name.error());
  record.display_name = std::move(*name);
  auto id_number = reader.string("id_number", true);
  if (!id_number) return std::unexpected(id_number.error());
  record.id_number = upper(*id_number);
  auto roles = reader.roles("roles");
  if (!roles) return std::unexpected(roles.error());
  record.roles = std::move(*roles);
  auto employment = reader.choice<EmploymentType>("employment");
  if (!employment) return std::unexpected(employment.error());
  record.employment = *employment;
  auto contract = reader.boolean("labor_contract");
  if (!contract) return std::unexpected(contract.error());
  record.has_labor_contract = *contract;
  auto training = reader.date("training_passed");
  if (!training) return std::unexpected(training.error());
  record.training_passed_on = *training;
  auto qualification = reader.string("qualification_number", false);
  if (!qualification) return std::unexpected(qualification.error());
  record.qualification_number = std::move(*qualification);
  auto valid_until = reader.date("qualification_valid_until");
  if (!valid_until) return std::unexpected(valid_until.error());
  record.qualification_valid_until = *valid_until;
  auto status = reader.choice<StaffStatus>("status");
  if (!status) return std::unexpected(status.error());
  record.status = *status;
  auto reassessment = reader.date("reassessment_due");
  if (!reassessment) return std::unexpected(reassessment.error());
  record.reassessment_due = *reassessment;
  if (auto clean = reader.no_unknown_keys(); !clean) return std::unexpected(clean.error());
  return record;
}

Result<std::vector<StaffRecord>> read_registry(const toml::table& root, const std::string& source) {
  const Where where(source);
  for (const auto& [key, node] : root) {
    if (key.str() != "schema" && key.str() != "staff") {
      return fail("REGISTRY_BAD_VALUE",
                  where.at(node, key.str()) + " is not a registry field (expected schema, staff)");
    }
  }
  const toml::node* schema = root.get("schema");
  if (schema == nullptr || schema->value_exact<std::int64_t>() != kSchemaVersion) {
    return fail("REGISTRY_BAD_VALUE", (schema != nullptr ? where.at(*schema, "schema") : source + ": key 'schema'") +
                                          " must be " + std::to_string(kSchemaVersion) +
                                          " (this kiosk reads staff feed schema 1)");
  }
  std::vector<StaffRecord> records;
  const toml::node* staff = root.get("staff");
  if (staff == nullptr) return records;  // an empty feed is valid: nobody may act
  const toml::array* array = staff->as_array();
  if (array == nullptr) return fail("REGISTRY_BAD_VALUE", where.at(*staff, "staff") + " must be [[staff]] tables");
  if (array->size() > kMaxStaffRecords) {
    return fail("REGISTRY_BAD_VALUE",
                where.at(*staff, "staff") + " has more than " + std::to_string(kMaxStaffRecords) + " entries");
  }
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string prefix = "staff[" + std::to_string(i + 1) + "]";
    const toml::table* table = (*array)[i].as_table();
    if (table == nullptr) return fail("REGISTRY_BAD_VALUE", where.at((*array)[i], prefix) + " must be a table");
    auto record = read_record(*table, prefix, where);
    if (!record) return std::unexpected(record.error());
    if (!seen.insert(record->staff_id).second) {
      return fail("REGISTRY_BAD_VALUE",
                  where.at(*table, prefix + ".id") + " repeats staff id " + record->staff_id + " given earlier");
    }
    records.push_back(std::move(*record));
  }
  return records;
}

bool needs_qualification(StaffRole role) { return role != StaffRole::onsite; }

}  // namespace

bool StaffRecord::holds(StaffRole role) const { return std::find(roles.begin(), roles.end(), role) != roles.end(); }

Result<StaffRegistry> StaffRegistry::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail("REGISTRY_UNREADABLE",
                "cannot open staff registry " + file.string() + ": check the path and its permissions");
  }
  std::string text;
  text.resize(kMaxRegistryBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return from_string(text, file.string());
}

Result<StaffRegistry> StaffRegistry::from_string(std::string_view text, std::string source_name) {
  if (text.size() > kMaxRegistryBytes) {
    return fail("REGISTRY_UNREADABLE", source_name + " is larger than " + std::to_string(kMaxRegistryBytes >> 20U) +
                                           " MiB; it is not a staff feed");
  }
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << source_name << ':' << error.source().begin.line << ':' << error.source().begin.column
        << ": not valid TOML: " << error.description();
    return fail("REGISTRY_SYNTAX", out.str());
  }
  auto records = read_registry(root, source_name);
  if (!records) return std::unexpected(records.error());
  // Not logged here: the caller that puts a new feed into effect records it in the audit log.
  return StaffRegistry(std::move(*records));
}

const StaffRecord* StaffRegistry::find(std::string_view staff_id) const {
  const auto found =
      std::find_if(records_.begin(), records_.end(), [&](const StaffRecord& r) { return r.staff_id == staff_id; });
  return found != records_.end() ? &*found : nullptr;
}

Result<void> check_eligible(const StaffRecord& staff, StaffRole role, TimePoint now) {
  const Date today = std::chrono::floor<std::chrono::days>(now);
  const std::string who = "staff " + staff.staff_id + " as " + std::string(to_string(role));
  if (staff.status == StaffStatus::revoked) return fail("STATUS_REVOKED", who + ": the registry status is REVOKED");
  if (staff.status == StaffStatus::suspended) {
    return fail("STATUS_SUSPENDED", who + ": the registry status is SUSPENDED; choose another staff member");
  }
  if (!staff.holds(role)) return fail("ROLE_NOT_HELD", who + ": the registry does not grant this role");
  if (role == StaffRole::witness && staff.employment != EmploymentType::regular) {
    return fail("EXCLUDED_EMPLOYMENT_TYPE",
                who + ": employment type " + std::string(to_string(staff.employment)) + " may not witness (REQ-12)");
  }
  if (!staff.has_labor_contract) return fail("NO_LABOR_CONTRACT", who + ": no labour contract with the agent");
  if (!staff.training_passed_on || *staff.training_passed_on > today) {
    return fail("TRAINING_MISSING", who + ": no passed training on record");
  }
  if (needs_qualification(role)) {
    if (staff.qualification_number.empty() || !staff.qualification_valid_until) {
      return fail("QUALIFICATION_MISSING", who + ": no securities practitioner qualification on record");
    }
    if (*staff.qualification_valid_until < today) {
      return fail("QUALIFICATION_EXPIRED", who + ": the qualification has expired");
    }
  }
  if (staff.reassessment_due && *staff.reassessment_due < today) {
    return fail("REASSESSMENT_OVERDUE", who + ": the periodic re-assessment is overdue");
  }
  return {};
}

namespace {

// Whether one person may hold both roles in the same transaction.
bool roles_compatible(StaffRole a, StaffRole b, bool two_staff_mode) {
  if (a == b) return true;  // re-assigning the same role is not a second role
  if (a == StaffRole::reviewer || b == StaffRole::reviewer) return false;  // REQ-27 four eyes
  const auto is_pair = [&](StaffRole x, StaffRole y) { return (a == x && b == y) || (a == y && b == x); };
  if (is_pair(StaffRole::witness, StaffRole::operator_)) return two_staff_mode;  // REQ-16 (c)
  return true;  // the on-site staff member may also witness or operate
}

Result<void> check_conflicts(const StaffRecord& staff, StaffRole role, const TransactionParties& parties) {
  const std::string who = "staff " + staff.staff_id + " as " + std::string(to_string(role));
  if (!parties.investor_id_number.empty() && upper(parties.investor_id_number) == staff.id_number) {
    return fail("CONFLICT_STAFF_IS_INVESTOR", who + ": the staff member is the investor of this transaction");
  }
  const auto& marketers = parties.investor_marketer_staff_ids;
  if (std::find(marketers.begin(), marketers.end(), staff.staff_id) != marketers.end()) {
    return fail("CONFLICT_INVESTORS_MARKETER", who + ": the staff member is this investor's registered marketer");
  }
  for (const auto& [held_role, holder] : parties.assigned) {
    if (holder == staff.staff_id && !roles_compatible(held_role, role, parties.two_staff_mode)) {
      return fail("CONFLICT_SAME_TRANSACTION_ROLE", who + ": the same person already acts as " +
                                                        std::string(to_string(held_role)) + " in this transaction");
    }
  }
  return {};
}

}  // namespace

Result<void> check_assignment(const StaffRegistry& registry, std::string_view staff_id, StaffRole role,
                              const TransactionParties& parties, TimePoint now) {
  const StaffRecord* staff = registry.find(staff_id);
  Result<void> verdict = staff == nullptr
                             ? fail("STAFF_UNKNOWN", "staff " + std::string(staff_id) +
                                                         " is not in the staff registry; check the staff number")
                             : check_eligible(*staff, role, now);
  if (verdict && staff != nullptr) verdict = check_conflicts(*staff, role, parties);
  if (!verdict) {
    log::info("staff_assignment_refused", {{"staff_id", std::string(staff_id)},
                                           {"role", std::string(to_string(role))},
                                           {"code", verdict.error().code},
                                           {"investor", log::mask_id_number(parties.investor_id_number)}});
  }
  return verdict;
}

}  // namespace kiosk::registry

// The staff registry (REQ-11, 12, 13, 15, 16, 17, 24, 27): who may act as witness, operator,
// reviewer or on-site staff, loaded from head office's TOML feed, and the checks that run every
// time a staff member is assigned a role in a transaction (not only at sign-in), including the
// conflict-of-interest rules. Records hold a staff member's own ID number only for the "staff is
// the investor" check; it is never logged or exported.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::registry {

// REQ-12: marketing, dispatched, broker agents without a contract and subsidiary employees may
// not witness.
enum class EmploymentType { regular, marketing, dispatched, broker_agent_no_contract, subsidiary };
enum class StaffStatus { active, suspended, revoked };  // REQ-17: a suspension takes effect at once

using Date = std::chrono::sys_days;

struct StaffRecord {
  std::string staff_id;      // the public staff number
  std::string display_name;  // public (roster) but never logged
  std::string id_number;     // the person's own ID number, for CONFLICT_STAFF_IS_INVESTOR only
  std::vector<StaffRole> roles;
  EmploymentType employment = EmploymentType::regular;
  bool has_labor_contract = false;
  std::optional<Date> training_passed_on;
  std::string qualification_number;  // SAC registration number; empty when none
  std::optional<Date> qualification_valid_until;
  StaffStatus status = StaffStatus::active;
  std::optional<Date> reassessment_due;

  [[nodiscard]] bool holds(StaffRole role) const;
};

// Bounds on the head-office feed: anything larger is refused, not truncated.
inline constexpr std::size_t kMaxRegistryBytes = 4U << 20U;
inline constexpr std::size_t kMaxStaffRecords = 20000;
inline constexpr std::size_t kMaxFieldLength = 200;

class StaffRegistry {
 public:
  // REGISTRY_UNREADABLE if the file cannot be read or is too large, REGISTRY_SYNTAX for invalid
  // TOML, REGISTRY_BAD_VALUE (naming file:line:key) for a missing, wrong or unknown field.
  static Result<StaffRegistry> from_file(const std::filesystem::path& file);
  static Result<StaffRegistry> from_string(std::string_view text, std::string source_name);
  explicit StaffRegistry(std::vector<StaffRecord> records) : records_(std::move(records)) {}

  [[nodiscard]] const StaffRecord* find(std::string_view staff_id) const;
  [[nodiscard]] const std::vector<StaffRecord>& records() const { return records_; }

 private:
  std::vector<StaffRecord> records_;
};

// Whether `staff` may act in `role` at `now` (UTC day). Codes, checked in this order:
// STATUS_REVOKED, STATUS_SUSPENDED, ROLE_NOT_HELD, EXCLUDED_EMPLOYMENT_TYPE (witness only, REQ-12),
// NO_LABOR_CONTRACT, TRAINING_MISSING, QUALIFICATION_MISSING, QUALIFICATION_EXPIRED (not for
// on-site staff, who need no qualification when a remote witness joins, REQ-22),
// REASSESSMENT_OVERDUE.
Result<void> check_eligible(const StaffRecord& staff, StaffRole role, TimePoint now);

// The other people of the transaction an assignment is checked against.
struct TransactionParties {
  std::string investor_id_number;                        // the verified investor's (or institution agent's) ID number
  std::vector<std::string> investor_marketer_staff_ids;  // the investor's registered marketers
  std::vector<std::pair<StaffRole, std::string>> assigned;  // roles already held in this transaction
  bool two_staff_mode = false;                              // the filed two-staff witness mode (REQ-16 exception)
};

// The check at assignment time: STAFF_UNKNOWN, any check_eligible code, then the conflicts
// CONFLICT_STAFF_IS_INVESTOR, CONFLICT_INVESTORS_MARKETER (REQ-16 a, b) and
// CONFLICT_SAME_TRANSACTION_ROLE: a reviewer holds no other role in the transaction (REQ-27); a
// witness is not the operator unless two_staff_mode (REQ-16 c); the on-site staff member may also
// be the witness or the operator.
Result<void> check_assignment(const StaffRegistry& registry, std::string_view staff_id, StaffRole role,
                              const TransactionParties& parties, TimePoint now);

}  // namespace kiosk::registry

namespace kiosk {
template <>
struct EnumNames<registry::EmploymentType> {
  using T = registry::EmploymentType;
  static constexpr std::array values = std::to_array<std::pair<T, std::string_view>>({
      {T::regular, "regular"},
      {T::marketing, "marketing"},
      {T::dispatched, "dispatched"},
      {T::broker_agent_no_contract, "broker_agent_no_contract"},
      {T::subsidiary, "subsidiary"},
  });
};
template <>
struct EnumNames<registry::StaffStatus> {
  using T = registry::StaffStatus;
  static constexpr std::array values = std::to_array<std::pair<T, std::string_view>>({
      {T::active, "active"},
      {T::suspended, "suspended"},
      {T::revoked, "revoked"},
  });
};
}  // namespace kiosk

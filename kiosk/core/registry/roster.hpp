// The public roster (REQ-13): what the broker's website and hotline publish so investors can check
// a staff member's standing: name, staff number, qualification number, status, and the roles the
// person may act in today. Only ACTIVE staff eligible as witness, operator or reviewer appear, so a
// suspension removes the person at the next publication.
#pragma once

#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/registry/staff_registry.hpp"

namespace kiosk::registry {

struct RosterEntry {
  std::string display_name;
  std::string staff_id;
  std::string qualification_number;
  StaffStatus status = StaffStatus::active;
  std::vector<StaffRole> eligible_roles;  // witness, operator, reviewer that pass check_eligible
};

std::vector<RosterEntry> public_roster(const StaffRegistry& registry, TimePoint now);

// "name,staff_id,qualification_number,status,roles" then one line per entry (RFC 4180 quoting;
// roles separated by ';').
std::string roster_to_csv(const std::vector<RosterEntry>& roster);
// {"staff":[{"name":..,"staff_id":..,"qualification_number":..,"status":..,"roles":[..]}]}
std::string roster_to_json(const std::vector<RosterEntry>& roster);

}  // namespace kiosk::registry

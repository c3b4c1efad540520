#include "kiosk/core/registry/roster.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk::registry {
namespace {

constexpr StaffRole kPublicRoles[] = {StaffRole::witness, StaffRole::operator_, StaffRole::reviewer};

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::vector<RosterEntry> public_roster(const StaffRegistry& registry, TimePoint now) {
  std::vector<RosterEntry> roster;
  for (const StaffRecord& staff : registry.records()) {
    if (staff.status != StaffStatus::active) continue;
    RosterEntry entry{staff.display_name, staff.staff_id, staff.qualification_number, staff.status, {}};
    for (const StaffRole role : kPublicRoles) {
      if (check_eligible(staff, role, now)) entry.eligible_roles.push_back(role);
    }
    if (!entry.eligible_roles.empty()) roster.push_back(std::move(entry));
  }
  return roster;
}

std::string roster_to_csv(const std::vector<RosterEntry>& roster) {
  std::string out = "name,staff_id,qualification_number,status,roles\r\n";
  for (const RosterEntry& entry : roster) {
    std::string roles;
    for (const StaffRole role : entry.eligible_roles)
      roles += (roles.empty() ? "" : ";") + std::string(to_string(role));
    out += csv_field(entry.display_name) + ',' + csv_field(entry.staff_id) + ',' +
           csv_field(entry.qualification_number) + ',' + std::string(to_string(entry.status)) + ',' + roles + "\r\n";
  }
  return out;
}

std::string roster_to_json(const std::vector<RosterEntry>& roster) {
  std::string out = "{\"staff\":[";
  bool first = true;
  for (const RosterEntry& entry : roster) {
    out += first ? "" : ",";
    first = false;
    out += "{\"name\":\"" + log::json_escape(entry.display_name) + "\",\"staff_id\":\"" +
           log::json_escape(entry.staff_id) + "\",\"qualification_number\":\"" +
           log::json_escape(entry.qualification_number) + "\",\"status\":\"" + std::string(to_string(entry.status)) +
           "\",\"roles\":[";
    for (std::size_t i = 0; i < entry.eligible_roles.size(); ++i) {
      out += (i == 0 ? "\"" : ",\"") + std::string(to_string(entry.eligible_roles[i])) + "\"";
    }
    out += "]}";
  }
  return out + "]}\n";
}

}  // namespace kiosk::registry

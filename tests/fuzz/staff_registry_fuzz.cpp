// Feeds arbitrary bytes to the staff registry parser (head office's TOML feed), then runs the
// eligibility checks and the roster export on whatever it accepted. Whatever the bytes, the result
// is a registry or a REGISTRY_* error: no crash, no hang, no leak.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiosk/core/registry/roster.hpp"
#include "kiosk/core/registry/staff_registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto registry = kiosk::registry::StaffRegistry::from_string(text, "fuzz.toml");
  if (!registry) {
    if (registry.error().code.rfind("REGISTRY_", 0) != 0) __builtin_trap();
    return 0;
  }
  const kiosk::TimePoint now{std::chrono::sys_days{std::chrono::year{2026} / 11 / 24}};
  kiosk::registry::TransactionParties parties;
  parties.investor_id_number = "110101199003071234";
  for (const auto& staff : registry->records()) {
    (void)kiosk::registry::check_assignment(*registry, staff.staff_id, kiosk::StaffRole::witness, parties, now);
  }
  const auto roster = kiosk::registry::public_roster(*registry, now);
  (void)kiosk::registry::roster_to_csv(roster);
  (void)kiosk::registry::roster_to_json(roster);
  return 0;
}

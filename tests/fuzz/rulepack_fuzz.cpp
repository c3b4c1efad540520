// Feeds arbitrary bytes to the rule-pack parser, then evaluates every query against whatever
// loaded. Whatever the bytes, the result is a pack or a RULEPACK_* error: no crash, no hang, no leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiosk/core/policy/policy.hpp"
#include "kiosk/core/policy/rule_pack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto pack = kiosk::policy::parse_rule_pack(text, "fuzz.toml");
  if (!pack) {
    if (pack.error().code.rfind("RULEPACK_", 0) != 0) __builtin_trap();
    return 0;
  }
  for (const auto& [channel, channel_name] : kiosk::EnumNames<kiosk::Channel>::values) {
    for (const auto& [investor, investor_name] : kiosk::EnumNames<kiosk::InvestorType>::values) {
      for (const auto& [medium, medium_name] : kiosk::EnumNames<kiosk::Medium>::values) {
        for (const kiosk::Operation op : kiosk::kAllOperations) {
          const auto decision = kiosk::policy::evaluate(*pack, {op, channel, investor, medium, std::nullopt});
          if (decision.allowed == decision.mandatory_steps.empty()) __builtin_trap();
        }
      }
    }
  }
  (void)kiosk::policy::render_matrix_markdown(*pack);
  return 0;
}

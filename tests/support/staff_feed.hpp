// A head-office staff feed for tests: every member eligible for their roles (a witness, an on-site
// operator, two reviewers, one of them also on site), plus a witness whose qualification lapsed.
#pragma once

#include <string_view>

namespace kiosk::testing {

inline constexpr std::string_view kStaffFeed = R"toml(
schema = 1

[[staff]]
id = "W0042"
name = "Li Wei"
id_number = "440301198801015671"
roles = ["witness"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000042"
qualification_valid_until = 2030-12-31
status = "active"
reassessment_due = 2030-06-30

[[staff]]
id = "S0007"
name = "Zhou Min"
id_number = "440301198801015672"
roles = ["onsite", "operator"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000007"
qualification_valid_until = 2030-12-31
status = "active"
reassessment_due = 2030-06-30

[[staff]]
id = "R0003"
name = "Qian Hua"
id_number = "440301198801015673"
roles = ["reviewer"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000003"
qualification_valid_until = 2030-12-31
status = "active"
reassessment_due = 2030-06-30

[[staff]]
id = "R0008"
name = "Wu Fang"
id_number = "440301198801015675"
roles = ["reviewer", "onsite"]
employment = "regular"
labor_contract = true
training_passed = 2023-03-01
qualification_number = "S0010200000008"
qualification_valid_until = 2030-12-31
status = "active"
reassessment_due = 2030-06-30

[[staff]]
id = "W0099"
name = "Sun Li"
id_number = "440301198801015674"
roles = ["witness"]
employment = "regular"
labor_contract = true
training_passed = 2020-03-01
qualification_number = "S0010200000099"
qualification_valid_until = 2021-12-31
status = "active"
reassessment_due = 2030-06-30
)toml";

}  // namespace kiosk::testing

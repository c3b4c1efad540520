// The staff registry: loading head office's feed, eligibility (REQ-11, 12, 15, 17, 24), the
// assignment-time conflict checks (REQ-16, 27) and the public roster (REQ-13).
#include "kiosk/core/registry/staff_registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kiosk/core/registry/roster.hpp"

namespace kiosk::registry {
namespace {

using namespace std::chrono;

const TimePoint kToday{sys_days{year{2026} / 11 / 24} + hours{10}};

Date day(int y, unsigned m, unsigned d) { return sys_days{year{y} / m / d}; }

StaffRecord eligible(std::string id, std::vector<StaffRole> roles) {
  StaffRecord staff;
  staff.staff_id = std::move(id);
  staff.display_name = "Staff " + staff.staff_id;
  staff.id_number = "440301198801015678";
  staff.roles = std::move(roles);
  staff.employment = EmploymentType::regular;
  staff.has_labor_contract = true;
  staff.training_passed_on = day(2025, 3, 1);
  staff.qualification_number = "S0010200000001";
  staff.qualification_valid_until = day(2027, 12, 31);
  staff.status = StaffStatus::active;
  staff.reassessment_due = day(2027, 6, 30);
  return staff;
}

std::string code_of(const Result<void>& result) { return result ? "OK" : result.error().code; }

TEST(Eligibility, FullyEligibleStaffPassesEveryRoleHeld) {
  const StaffRecord staff = eligible("S1", {StaffRole::witness, StaffRole::operator_, StaffRole::reviewer});
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "OK");
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::operator_, kToday)), "OK");
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::reviewer, kToday)), "OK");
}

// REQ-11: no labour contract, or no passed training, means no witness session.
TEST(Eligibility, Req11WitnessWithoutLabourContractOrTrainingIsRefused) {
  StaffRecord staff = eligible("S1", {StaffRole::witness});
  staff.has_labor_contract = false;
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "NO_LABOR_CONTRACT");
  staff = eligible("S1", {StaffRole::witness});
  staff.training_passed_on.reset();
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "TRAINING_MISSING");
  staff.training_passed_on = day(2026, 12, 1);  // scheduled, not yet passed
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "TRAINING_MISSING");
}

}  // namespace

void PrintTo(EmploymentType type, std::ostream* out) { *out << to_string(type); }

namespace {

// REQ-12: each excluded employment type is refused when assigned as witness.
class ExcludedEmployment : public ::testing::TestWithParam<EmploymentType> {};

TEST_P(ExcludedEmployment, Req12AssigningAsWitnessIsRefused) {
  StaffRecord staff = eligible("S7", {StaffRole::witness});
  staff.employment = GetParam();
  const StaffRegistry registry({staff});
  const auto verdict = check_assignment(registry, "S7", StaffRole::witness, {}, kToday);
  EXPECT_EQ(code_of(verdict), "EXCLUDED_EMPLOYMENT_TYPE");
}

INSTANTIATE_TEST_SUITE_P(EachExcludedType, ExcludedEmployment,
                         ::testing::Values(EmploymentType::marketing, EmploymentType::dispatched,
                                           EmploymentType::broker_agent_no_contract, EmploymentType::subsidiary),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

// REQ-15: an expired or missing qualification makes a witness ineligible.
TEST(Eligibility, Req15ExpiredOrMissingQualificationIsRefused) {
  StaffRecord staff = eligible("S1", {StaffRole::witness});
  staff.qualification_valid_until = day(2026, 11, 23);
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "QUALIFICATION_EXPIRED");
  staff.qualification_valid_until = day(2026, 11, 24);  // valid through its last day
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "OK");
  staff.qualification_number.clear();
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "QUALIFICATION_MISSING");
}

// REQ-17: suspended, revoked and overdue re-assessment are ineligible at once.
TEST(Eligibility, Req17SuspendedRevokedOrOverdueIsRefused) {
  StaffRecord staff = eligible("S1", {StaffRole::witness});
  staff.status = StaffStatus::suspended;
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "STATUS_SUSPENDED");
  staff.status = StaffStatus::revoked;
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "STATUS_REVOKED");
  staff = eligible("S1", {StaffRole::witness});
  staff.reassessment_due = day(2026, 11, 1);
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "REASSESSMENT_OVERDUE");
}

TEST(Eligibility, Req17SuspensionInTheFeedBlocksTheNextAssignment) {
  StaffRecord staff = eligible("S1", {StaffRole::witness});
  EXPECT_EQ(code_of(check_assignment(StaffRegistry({staff}), "S1", StaffRole::witness, {}, kToday)), "OK");
  staff.status = StaffStatus::suspended;
  EXPECT_EQ(code_of(check_assignment(StaffRegistry({staff}), "S1", StaffRole::witness, {}, kToday)),
            "STATUS_SUSPENDED");
}

TEST(Eligibility, RoleNotGrantedIsRefused) {
  const StaffRecord staff = eligible("S1", {StaffRole::operator_});
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::reviewer, kToday)), "ROLE_NOT_HELD");
}

// REQ-24: operators and reviewers are held to the same checks as witnesses.
TEST(Eligibility, Req24ReviewerWithLapsedQualificationCannotApprove) {
  StaffRecord staff = eligible("S2", {StaffRole::reviewer});
  staff.qualification_valid_until = day(2025, 1, 1);
  EXPECT_EQ(code_of(check_assignment(StaffRegistry({staff}), "S2", StaffRole::reviewer, {}, kToday)),
            "QUALIFICATION_EXPIRED");
  staff = eligible("S2", {StaffRole::operator_});
  staff.has_labor_contract = false;
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::operator_, kToday)), "NO_LABOR_CONTRACT");
}

TEST(Eligibility, ExcludedEmploymentTypesMayStillBeOnsiteStaffWithoutQualification) {
  StaffRecord staff = eligible("S3", {StaffRole::onsite, StaffRole::witness});
  staff.employment = EmploymentType::marketing;
  staff.qualification_number.clear();
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::onsite, kToday)), "OK");
  EXPECT_EQ(code_of(check_eligible(staff, StaffRole::witness, kToday)), "EXCLUDED_EMPLOYMENT_TYPE");
}

class Conflicts : public ::testing::Test {
 protected:
  StaffRegistry registry_{{eligible("W1", {StaffRole::witness, StaffRole::operator_, StaffRole::onsite}),
                           eligible("R1", {StaffRole::reviewer, StaffRole::operator_})}};
};

// REQ-16 (a): the witness is the investor.
TEST_F(Conflicts, Req16aStaffWhoIsTheInvestorIsRefused) {
  TransactionParties parties;
  parties.investor_id_number = "440301198801015678";
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)),
            "CONFLICT_STAFF_IS_INVESTOR");
  parties.investor_id_number = "110101199003071234";
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)), "OK");
}

// REQ-16 (b): the witness is the investor's registered marketer.
TEST_F(Conflicts, Req16bInvestorsMarketerIsRefused) {
  TransactionParties parties;
  parties.investor_marketer_staff_ids = {"X9", "W1"};
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)),
            "CONFLICT_INVESTORS_MARKETER");
}

// REQ-16 (c): the witness is the operator of the same transaction, except in two-staff mode.
TEST_F(Conflicts, Req16cWitnessWhoIsTheOperatorIsRefusedOutsideTwoStaffMode) {
  TransactionParties parties;
  parties.assigned = {{StaffRole::operator_, "W1"}};
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)),
            "CONFLICT_SAME_TRANSACTION_ROLE");
  parties.two_staff_mode = true;
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)), "OK");
}

// REQ-27: the reviewer is never the operator, not even in two-staff mode or by switching role.
TEST_F(Conflicts, Req27OperatorCannotReviewTheSameTransaction) {
  TransactionParties parties;
  parties.two_staff_mode = true;
  parties.assigned = {{StaffRole::operator_, "R1"}};
  EXPECT_EQ(code_of(check_assignment(registry_, "R1", StaffRole::reviewer, parties, kToday)),
            "CONFLICT_SAME_TRANSACTION_ROLE");
  parties.assigned = {{StaffRole::reviewer, "R1"}};
  EXPECT_EQ(code_of(check_assignment(registry_, "R1", StaffRole::operator_, parties, kToday)),
            "CONFLICT_SAME_TRANSACTION_ROLE");
  parties.assigned = {{StaffRole::operator_, "W1"}};
  EXPECT_EQ(code_of(check_assignment(registry_, "R1", StaffRole::reviewer, parties, kToday)), "OK");
}

TEST_F(Conflicts, OnsiteStaffMayAlsoWitness) {
  TransactionParties parties;
  parties.assigned = {{StaffRole::onsite, "W1"}};
  EXPECT_EQ(code_of(check_assignment(registry_, "W1", StaffRole::witness, parties, kToday)), "OK");
}

TEST_F(Conflicts, UnknownStaffIsRefused) {
  EXPECT_EQ(code_of(check_assignment(registry_, "NOPE", StaffRole::witness, {}, kToday)), "STAFF_UNKNOWN");
}

// REQ-13: the roster lists only active, eligible staff, with the public fields and no ID number.
TEST(Roster, Req13SuspendedStaffLeaveThePublicRoster) {
  StaffRecord suspended = eligible("S2", {StaffRole::witness});
  suspended.status = StaffStatus::suspended;
  StaffRecord expired = eligible("S3", {StaffRole::operator_});
  expired.qualification_valid_until = day(2026, 1, 1);
  StaffRecord onsite_only = eligible("S4", {StaffRole::onsite});
  StaffRecord quoted = eligible("S5", {StaffRole::witness, StaffRole::reviewer});
  quoted.display_name = "Li, \"Jr\"";
  const StaffRegistry registry({eligible("S1", {StaffRole::witness}), suspended, expired, onsite_only, quoted});

  const auto roster = public_roster(registry, kToday);
  ASSERT_EQ(roster.size(), 2U);
  EXPECT_EQ(roster[0].staff_id, "S1");
  EXPECT_EQ(roster[1].staff_id, "S5");

  const std::string csv = roster_to_csv(roster);
  EXPECT_EQ(csv,
            "name,staff_id,qualification_number,status,roles\r\n"
            "Staff S1,S1,S0010200000001,active,witness\r\n"
            "\"Li, \"\"Jr\"\"\",S5,S0010200000001,active,witness;reviewer\r\n");
  const std::string json = roster_to_json(roster);
  EXPECT_EQ(json,
            "{\"staff\":[{\"name\":\"Staff S1\",\"staff_id\":\"S1\",\"qualification_number\":\"S0010200000001\","
            "\"status\":\"active\",\"roles\":[\"witness\"]},{\"name\":\"Li, \\\"Jr\\\"\",\"staff_id\":\"S5\","
            "\"qualification_number\":\"S0010200000001\",\"status\":\"active\",\"roles\":[\"witness\",\"reviewer\"]}]}"
            "\n");
  EXPECT_EQ(csv.find("440301"), std::string::npos);
  EXPECT_EQ(json.find("440301"), std::string::npos);
}

constexpr const char* kGoodFeed = R"toml(schema = 1

[[staff]]
id = "S1001"
name = "Wang Fang"
id_number = "44030119880101567x"
roles = ["witness", "operator"]
employment = "regular"
labor_contract = true
training_passed = 2025-03-01
qualification_number = "S0010200000001"
qualification_valid_until = 2027-12-31
status = "active"
reassessment_due = 2027-06-30

[[staff]]
id = "S1002"
name = "Zhao Lei"
id_number = "110101199003071234"
roles = ["onsite"]
employment = "marketing"
labor_contract = true
training_passed = 2025-05-01
status = "suspended"
)toml";

TEST(RegistryFile, ReadsEveryField) {
  auto registry = StaffRegistry::from_string(kGoodFeed, "staff.toml");
  ASSERT_TRUE(registry) << registry.error().to_string();
  ASSERT_EQ(registry->records().size(), 2U);
  const StaffRecord* first = registry->find("S1001");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->display_name, "Wang Fang");
  EXPECT_EQ(first->id_number, "44030119880101567X");
  EXPECT_EQ(first->roles, (std::vector<StaffRole>{StaffRole::witness, StaffRole::operator_}));
  EXPECT_EQ(first->training_passed_on, day(2025, 3, 1));
  EXPECT_EQ(first->qualification_valid_until, day(2027, 12, 31));
  EXPECT_EQ(first->reassessment_due, day(2027, 6, 30));
  const StaffRecord* second = registry->find("S1002");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->employment, EmploymentType::marketing);
  EXPECT_EQ(second->status, StaffStatus::suspended);
  EXPECT_TRUE(second->qualification_number.empty());
  EXPECT_FALSE(second->reassessment_due);
}

TEST(RegistryFile, ReadsFromDisk) {
  const auto path = std::filesystem::temp_directory_path() / ("kiosk_staff_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << kGoodFeed;
  auto registry = StaffRegistry::from_file(path);
  ASSERT_TRUE(registry) << registry.error().to_string();
  EXPECT_EQ(registry->records().size(), 2U);
  std::filesystem::remove(path);
  auto missing = StaffRegistry::from_file(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "REGISTRY_UNREADABLE");
}

struct BadFeed {
  std::string name;
  std::string replace;
  std::string with;
  std::string code;
  std::string where;  // part of the message naming line and key
};

void PrintTo(const BadFeed& feed, std::ostream* out) { *out << feed.name; }

class RegistryFileErrors : public ::testing::TestWithParam<BadFeed> {};

TEST_P(RegistryFileErrors, NamesFileLineAndKey) {
  std::string text = kGoodFeed;
  const auto at = text.find(GetParam().replace);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, GetParam().replace.size(), GetParam().with);
  auto registry = StaffRegistry::from_string(text, "staff.toml");
  ASSERT_FALSE(registry);
  EXPECT_EQ(registry.error().code, GetParam().code);
  EXPECT_NE(registry.error().message.find(GetParam().where), std::string::npos) << registry.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RegistryFileErrors,
    ::testing::Values(
        BadFeed{"bad_status", "status = \"suspended\"", "status = \"on_leave\"", "REGISTRY_BAD_VALUE",
                "staff.toml:24: key 'staff[2].status' must be one of active, suspended, revoked"},
        BadFeed{"bad_role", "[\"onsite\"]", "[\"cashier\"]", "REGISTRY_BAD_VALUE",
                "staff.toml:20: key 'staff[2].roles'"},
        BadFeed{"bad_date", "2027-12-31", "\"next year\"", "REGISTRY_BAD_VALUE",
                "staff.toml:12: key 'staff[1].qualification_valid_until'"},
        BadFeed{"typo_key", "labor_contract = true\ntraining_passed = 2025-05-01",
                "labour_contract = true\ntraining_passed = 2025-05-01", "REGISTRY_BAD_VALUE",
                "staff[2].labor_contract"},
        BadFeed{"missing_id", "id = \"S1002\"\n", "", "REGISTRY_BAD_VALUE", "key 'staff[2].id' is missing"},
        BadFeed{"duplicate_id", "id = \"S1002\"", "id = \"S1001\"", "REGISTRY_BAD_VALUE", "repeats staff id S1001"},
        BadFeed{"wrong_schema", "schema = 1", "schema = 2", "REGISTRY_BAD_VALUE", "staff.toml:1: key 'schema'"},
        BadFeed{"unknown_top", "schema = 1", "schema = 1\nextra = 3", "REGISTRY_BAD_VALUE",
                "staff.toml:2: key 'extra'"},
        BadFeed{"syntax", "labor_contract = true\ntraining_passed = 2025-03-01", "labor_contract = tru",
                "REGISTRY_SYNTAX", "staff.toml:9:"}),
    [](const auto& param_info) { return param_info.param.name; });

TEST(RegistryFile, RefusesOversizedFeedAndOverlongFields) {
  const std::string huge(kMaxRegistryBytes + 1, '#');
  auto registry = StaffRegistry::from_string(huge, "staff.toml");
  ASSERT_FALSE(registry);
  EXPECT_EQ(registry.error().code, "REGISTRY_UNREADABLE");

  std::string text = kGoodFeed;
  text.replace(text.find("Wang Fang"), 9, std::string(kMaxFieldLength + 1, 'a'));
  registry = StaffRegistry::from_string(text, "staff.toml");
  ASSERT_FALSE(registry);
  EXPECT_NE(registry.error().message.find("staff[1].name"), std::string::npos) << registry.error().message;
}

}  // namespace
}  // namespace kiosk::registry

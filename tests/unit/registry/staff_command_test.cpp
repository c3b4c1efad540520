// `kioskctl staff roster`: the public roster as CSV or JSON; exit 1 for a bad registry file, 2 for
// bad arguments.
#include "kiosk/ctl/staff_command.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

using kiosk::testing::CommandRun;

CommandRun run(const std::vector<std::string>& args) { return kiosk::testing::run_command(run_staff_command, args); }

std::filesystem::path write_registry(const std::string& name, const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / ("kiosk_staff_cli_" + std::to_string(::getpid()) + name + ".toml");
  std::ofstream(path) << text;
  return path;
}

constexpr const char* kFeed = R"toml(schema = 1
[[staff]]
id = "S1001"
name = "Wang Fang"
id_number = "440301198801015678"
roles = ["witness"]
employment = "regular"
labor_contract = true
training_passed = 2025-03-01
qualification_number = "S0010200000001"
qualification_valid_until = 2027-12-31
status = "active"
[[staff]]
id = "S1002"
name = "Zhao Lei"
id_number = "110101199003071234"
roles = ["witness"]
employment = "regular"
labor_contract = true
training_passed = 2025-03-01
qualification_number = "S0010200000002"
qualification_valid_until = 2027-12-31
status = "suspended"
)toml";

TEST(StaffCommand, RosterAsCsvListsOnlyActiveEligibleStaff) {
  const auto path = write_registry("csv", kFeed);
  const CommandRun result = run({"roster", "--format", "csv", "--registry", path.string(), "--as-of", "2026-11-24"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "name,staff_id,qualification_number,status,roles\r\n"
            "Wang Fang,S1001,S0010200000001,active,witness\r\n");
}

TEST(StaffCommand, RosterAsJsonHonoursTheAsOfDate) {
  const auto path = write_registry("json", kFeed);
  CommandRun result = run({"roster", "--format", "json", "--registry", path.string(), "--as-of", "2026-11-24"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "{\"staff\":[{\"name\":\"Wang Fang\",\"staff_id\":\"S1001\",\"qualification_number\":\"S0010200000001\","
            "\"status\":\"active\",\"roles\":[\"witness\"]}]}\n");
  // After the qualification lapses the same feed publishes nobody.
  result = run({"roster", "--format", "json", "--registry", path.string(), "--as-of", "2028-01-01"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "{\"staff\":[]}\n");
}

TEST(StaffCommand, InvalidRegistryExitsOneNamingLineAndKey) {
  std::string text = kFeed;
  text.replace(text.find("status = \"suspended\""), 20, "status = \"paused\"");
  const auto path = write_registry("bad", text);
  const CommandRun result = run({"roster", "--format", "csv", "--registry", path.string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.err.find(":23: key 'staff[2].status'"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty());
  EXPECT_EQ(run({"roster", "--format", "csv", "--registry", "/nonexistent/staff.toml"}).code, 1);
}

TEST(StaffCommand, BadArgumentsExitTwo) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"list"}).code, 2);
  EXPECT_EQ(run({"roster"}).code, 2);
  EXPECT_EQ(run({"roster", "--format", "xml"}).code, 2);
  EXPECT_EQ(run({"roster", "--format", "csv", "--as-of", "2026-13-01"}).code, 2);
  EXPECT_EQ(run({"roster", "--format", "csv", "--bogus"}).code, 2);
}

TEST(StaffCommand, HelpExplainsWhatIsPublished) {
  const CommandRun result = run({"roster", "--help"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("REQ-13"), std::string::npos);
  EXPECT_NE(result.out.find("Exit status"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::ctl

// REQ-48: names are never logged and ID numbers appear only masked. The scan runs the registry,
// assignment and certificate operations with real personal data and reads every log line back.
#include "kiosk/core/audit/personal_data.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/core/certificate/certificate.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/registry/staff_registry.hpp"

namespace kiosk::audit {
namespace {

constexpr const char* kInvestorId = "11010119900307123X";
constexpr const char* kInvestorName = "李小明";
constexpr const char* kStaffId = "440301198801015678";
constexpr const char* kStaffName = "王芳";

TEST(PersonalData, NamesAreReplacedByAFixedPlaceholder) {
  EXPECT_EQ(mask_name(kInvestorName), kMaskedName);
  EXPECT_EQ(mask_name("Zhang San"), kMaskedName);
  EXPECT_EQ(mask_name(""), kMaskedName);
}

TEST(PersonalData, IdNumbersKeepOnlyFirstAndLastFour) {
  EXPECT_EQ(mask_id(kInvestorId), "1101**********123X");
  EXPECT_EQ(mask_id("1234567"), "*******");
}

std::string registry_text() {
  std::ostringstream out;
  out << "schema = 1\n[[staff]]\nid = \"S1001\"\nname = \"" << kStaffName << "\"\nid_number = \"" << kStaffId
      << "\"\nroles = [\"witness\", \"operator\"]\nemployment = \"regular\"\nlabor_contract = true\n"
      << "training_passed = 2024-01-10\nqualification_number = \"S0010200000001\"\n"
      << "qualification_valid_until = 2024-06-30\nstatus = \"active\"\n";
  return out.str();
}

TEST(PersonalData, LogsOfRegistryAndCertificateOperationsHoldNoUnmaskedIdsOrNames) {
  const auto log_path =
      std::filesystem::temp_directory_path() / ("kiosk_personal_data_" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(log_path);
  ASSERT_TRUE(log::open_file(log_path));
  log::set_min_level(log::Level::debug);

  const TimePoint now{std::chrono::sys_days{std::chrono::year{2025} / 1 / 15}};
  auto registry = registry::StaffRegistry::from_string(registry_text(), "staff.toml");
  ASSERT_TRUE(registry) << registry.error().to_string();
  registry::TransactionParties parties;
  parties.investor_id_number = kInvestorId;
  // Refused (expired qualification), and refused as the investor themself: both are logged.
  EXPECT_FALSE(registry::check_assignment(*registry, "S1001", StaffRole::witness, parties, now));
  parties.investor_id_number = kStaffId;
  EXPECT_FALSE(registry::check_assignment(*registry, "S1001", StaffRole::onsite, parties, now));

  const certificate::Subject subject{InvestorType::natural, DocumentType::prc_id, kInvestorId};
  const certificate::Requester investor{InvestorType::natural, DocumentType::prc_id, kInvestorId, "", false};
  const certificate::Requester stranger{InvestorType::natural, DocumentType::prc_id, kStaffId, "", false};
  const std::vector<std::string> reasons{"LOST_MEDIUM"};
  auto issued =
      certificate::apply({"C-1", subject, certificate::SubjectKind::person, Medium::hard, now + std::chrono::days{365}},
                         investor, {}, {}, now);
  ASSERT_TRUE(issued);
  auto frozen = certificate::freeze(*issued, investor, "LOST_MEDIUM", reasons, now);
  ASSERT_TRUE(frozen);
  EXPECT_FALSE(certificate::unfreeze(*frozen, stranger, now));
  ASSERT_TRUE(certificate::reissue(*frozen, investor,
                                   {"LOST_MEDIUM", "C-2", Medium::hard, now + std::chrono::days{365}}, reasons, now));
  log::set_min_level(log::Level::info);
  ASSERT_TRUE(log::open_file("/dev/null"));

  std::ifstream in(log_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 6U) << "the operations above should have logged";
  // Any run of 15+ ID-number characters is an unmasked ID number (masked ones contain stars).
  const std::regex unmasked_id("[0-9]{6}[0-9X]{9,12}");
  bool saw_masked = false;
  for (const std::string& line : lines) {
    EXPECT_FALSE(std::regex_search(line, unmasked_id)) << line;
    EXPECT_EQ(line.find(kInvestorName), std::string::npos) << line;
    EXPECT_EQ(line.find(kStaffName), std::string::npos) << line;
    if (line.find("1101**********123X") != std::string::npos) saw_masked = true;
  }
  EXPECT_TRUE(saw_masked) << "the logs should refer to the investor in masked form";
  std::filesystem::remove(log_path);
}

}  // namespace
}  // namespace kiosk::audit

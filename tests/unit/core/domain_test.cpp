#include "kiosk/core/domain.hpp"

#include <gtest/gtest.h>

namespace kiosk {
namespace {

template <class E>
void expect_round_trip() {
  for (const auto& [value, name] : EnumNames<E>::values) {
    EXPECT_EQ(to_string(value), name);
    EXPECT_EQ(parse_enum<E>(name), value) << name;
  }
  EXPECT_FALSE(parse_enum<E>("no-such-name").has_value());
}

TEST(Domain, EveryNameRoundTrips) {
  expect_round_trip<Channel>();
  expect_round_trip<InvestorType>();
  expect_round_trip<Medium>();
  expect_round_trip<DocumentType>();
  expect_round_trip<KioskMode>();
  expect_round_trip<StaffRole>();
  expect_round_trip<CertState>();
  expect_round_trip<TxState>();
  expect_round_trip<StepId>();
}

TEST(Domain, CliNamesAreTheOnesTheIssueSpecifies) {
  EXPECT_EQ(parse_enum<DocumentType>("hkmotw-residence"), DocumentType::hkmotw_residence);
  EXPECT_EQ(parse_enum<StaffRole>("operator"), StaffRole::operator_);
  EXPECT_EQ(parse_enum<KioskMode>("attended-witness"), KioskMode::attended_witness);
}

TEST(Domain, KioskModesMapToTheirChannels) {
  EXPECT_EQ(channel_of(KioskMode::attended_counter), Channel::counter);
  EXPECT_EQ(channel_of(KioskMode::attended_witness), Channel::witness);
  EXPECT_EQ(channel_of(KioskMode::remote), Channel::other);
}

}  // namespace
}  // namespace kiosk

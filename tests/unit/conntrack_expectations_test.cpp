// Expectations: the kernel's removal of an expectation, which ctnetlink may
// report before the expected connection's first packet reaches verdictd.
#include <gtest/gtest.h>

#include "conntrack/expectations.hpp"

namespace verdictd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ConntrackExpectations : public ::testing::Test {
 protected:
  // The FTP helper's expectation of 10.0.0.2 -> 10.0.0.1:50000 from any port.
  static Tuple data_connection(std::uint16_t source_port) {
    return {.family = Family::kIPv4,
            .protocol = 6,
            .source = *IpAddress::parse("10.0.0.2"),
            .destination = *IpAddress::parse("10.0.0.1"),
            .source_port = source_port,
            .destination_port = 50000};
  }
  void expect(std::uint32_t kernel_id, ConntrackTime expires) {
    expectations_.add({.kernel_id = kernel_id,
                       .tuple = data_connection(0),
                       .mask = {.family = Family::kIPv4,
                                .protocol = 6,
                                .source = *IpAddress::parse("255.255.255.255"),
                                .destination = *IpAddress::parse("255.255.255.255"),
                                .destination_port = 0xffff},
                       .master = {},
                       .expires = expires,
                       .helper = {'f', 't', 'p'}});
  }

  Expectations expectations_;
  const ConntrackTime start_{seconds{1000}};
};

TEST_F(ConntrackExpectations, RemovedByTheKernelIsStillTakenWithinTheGrace) {
  expect(7, start_ + seconds{300});
  expectations_.remove(7, start_);
  EXPECT_EQ(expectations_.size(), 0U);
  const auto taken = expectations_.take(data_connection(40000), start_ + milliseconds{20});
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->kernel_id, 7U);
  EXPECT_EQ(std::string_view(taken->helper.data()), "ftp");
  // Taken once, as the kernel takes it.
  EXPECT_FALSE(expectations_.take(data_connection(40001), start_ + milliseconds{30}));
}

TEST_F(ConntrackExpectations, RemovedByTheKernelIsGoneAfterTheGrace) {
  expect(7, start_ + seconds{300});
  expectations_.remove(7, start_);
  EXPECT_FALSE(
      expectations_.take(data_connection(40000), start_ + Expectations::kTakenByKernelGrace));
}

TEST_F(ConntrackExpectations, RemovedAsItExpiredIsNotKept) {
  expect(7, start_ + seconds{5});
  expectations_.remove(7, start_ + seconds{5});
  EXPECT_FALSE(expectations_.take(data_connection(40000), start_ + seconds{5}));
  // Nor past its own end within the grace.
  expect(8, start_ + milliseconds{100});
  expectations_.remove(8, start_);
  EXPECT_FALSE(expectations_.take(data_connection(40000), start_ + milliseconds{100}));
}

TEST_F(ConntrackExpectations, TakenHereFirstIsNotBroughtBackByTheKernelsRemoval) {
  expect(7, start_ + seconds{300});
  ASSERT_TRUE(expectations_.take(data_connection(40000), start_));
  expectations_.remove(7, start_);
  EXPECT_FALSE(expectations_.take(data_connection(40001), start_));
}

TEST_F(ConntrackExpectations, ClearForgetsTheRemovedOnesToo) {
  expect(7, start_ + seconds{300});
  expectations_.remove(7, start_);
  expectations_.clear();
  EXPECT_FALSE(expectations_.take(data_connection(40000), start_));
}

}  // namespace
}  // namespace verdictd

#include "core/status.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0)
    return make_error("not_positive", "value must be positive");
  return value;
}

Result<int> doubled_positive(int value) {
  TALLY_TRY(parse_positive(value));
  return value * 2;
}

Status check_positive(int value) {
  TALLY_TRY(parse_positive(value));
  return Status::success();
}

TEST(Status, DefaultIsSuccess) {
  EXPECT_TRUE(Status().ok());
}

TEST(Status, CarriesCodeAndMessage) {
  Status status = make_error("bad_thing", "a bad thing happened");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "bad_thing");
  EXPECT_EQ(status.error().message, "a bad thing happened");
}

TEST(Result, HoldsValueOrError) {
  EXPECT_EQ(*parse_positive(3), 3);
  EXPECT_EQ(parse_positive(-1).error().code, "not_positive");
}

TEST(Result, TryPropagatesIntoResultAndStatus) {
  EXPECT_EQ(*doubled_positive(4), 8);
  EXPECT_EQ(doubled_positive(0).error().code, "not_positive");
  EXPECT_TRUE(check_positive(1).ok());
  EXPECT_EQ(check_positive(0).error().code, "not_positive");
}

TEST(AssertDeathTest, FailedInvariantAbortsEvenInReleaseBuilds) {
  EXPECT_DEATH(TALLY_ASSERT_MSG(1 + 1 == 3, "arithmetic broke"),
               "invariant violated.*arithmetic broke");
  EXPECT_DEATH((void)parse_positive(-1).value(), "value\\(\\) called on a failed Result");
}

}  // namespace
}  // namespace tally

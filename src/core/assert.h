#pragma once
// Invariant checks that stay on in every build type, release included. A broken invariant in a
// ledger means corrupted money; stopping the process is always better than carrying on.

namespace tally {

[[noreturn]] void assertion_failed(const char* expression, const char* file, int line,
                                   const char* message);

}  // namespace tally

#define TALLY_ASSERT(condition) \
  ((condition) ? (void)0 : ::tally::assertion_failed(#condition, __FILE__, __LINE__, nullptr))

#define TALLY_ASSERT_MSG(condition, message) \
  ((condition) ? (void)0 : ::tally::assertion_failed(#condition, __FILE__, __LINE__, (message)))

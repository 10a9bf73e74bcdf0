#include "core/assert.h"

#include <cstdio>
#include <cstdlib>

namespace tally {

void assertion_failed(const char* expression, const char* file, int line, const char* message) {
  std::fprintf(stderr, "tally: invariant violated at %s:%d: %s%s%s\n", file, line, expression,
               message != nullptr ? " — " : "", message != nullptr ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace tally

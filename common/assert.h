// V2G_ASSERT: always-on assertion for programmer errors (never for validating input from users,
// peers or files: those get a Status). Aborts with file and line, also in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace v2g::detail {
[[noreturn]] inline void AssertFail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "v2g: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}
}  // namespace v2g::detail

#define V2G_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::v2g::detail::AssertFail(#expr, __FILE__, __LINE__))

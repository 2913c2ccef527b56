// The signature-check switch of fuzz builds, and nothing else.
//
// CMake defines V2G_FUZZING only with V2G_FUZZ, which it refuses without the sanitizers (and
// without clang), so no release build has the switch: there FuzzSignatureChecksSkipped() is a
// constant false and every signature is verified. In a fuzz build, a fuzz target's init (fuzz/,
// never a test or a program) calls FuzzSkipSignatureChecks() so that every signature check
// (common/crypto.h's Verify*, VerifyOcmf's final ECDSA step) accepts, and coverage does not stop
// at the first verify; the unit tests of the same build never call it and verify for real.
// Process-global, set once, never unset; thread-safe.
#pragma once

namespace v2g {

#ifdef V2G_FUZZING
void FuzzSkipSignatureChecks();
bool FuzzSignatureChecksSkipped();
#else
constexpr bool FuzzSignatureChecksSkipped() { return false; }
#endif

}  // namespace v2g

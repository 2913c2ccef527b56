// The one way to include Boost.Asio in this project. Boost 1.74's boost/asio/awaitable.hpp uses
// std::exchange without including <utility>, which breaks with GCC 12's leaner libstdc++ headers;
// including <utility> first fixes that. Include this file, never <boost/asio.hpp> directly.
#pragma once

// The order of these two is the point of this file.
// Boost 1.74 turns co_await on for clang only with libc++'s <experimental/coroutine>; clang 14
// with libstdc++'s <coroutine> (the clang sanitizer and fuzz build) supports it as GCC does.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT) && __has_include(<coroutine>)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

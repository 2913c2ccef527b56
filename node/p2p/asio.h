// The one way to include Boost.Asio in this project. Boost 1.74's boost/asio/awaitable.hpp uses
// std::exchange without including <utility>, which breaks with GCC 12's leaner libstdc++ headers;
// including <utility> first fixes that. Include this file, never <boost/asio.hpp> directly.
#pragma once

// The order of these two is the point of this file.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

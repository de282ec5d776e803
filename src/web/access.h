#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace eden::web {

/// Who may read a server's pages: nobody needs to log in when `user` is empty.
struct Credentials {
  std::string user, password;
  bool empty() const { return user.empty(); }
};

/// True if `authorization` (the request's Authorization header) is `Basic base64(user:password)`
/// for these credentials. Compared in time independent of where the texts differ. Pure.
bool BasicAuthMatches(std::string_view authorization, const Credentials& credentials);

/// True for an address only this machine can reach: 127.0.0.0/8, ::1, "localhost". Pure.
bool IsLoopback(std::string_view address);

/// A server that shows a run's details (the dashboard) refuses to listen where other machines
/// can reach it without credentials: kInvalidArgument naming the fix. Pure.
Status CheckExposure(std::string_view address, const Credentials& credentials);

}  // namespace eden::web

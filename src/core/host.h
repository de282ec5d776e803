#pragma once

#include <string>

namespace eden {

/// This machine's host name (gethostname), or "localhost" if it cannot be read: names a Celery
/// worker (`eden@<host>`) and the server in error reports.
std::string HostName();

}  // namespace eden

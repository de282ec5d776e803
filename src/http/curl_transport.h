#pragma once

#include <memory>
#include <string>

#include "http/transport.h"

namespace eden::http {

struct TransportOptions {
  long connect_timeout_ms = 10'000;  ///< TCP + TLS handshake.
  long low_speed_timeout_s = 30;     ///< Abort a transfer under 1 KB/s for this long (a stalled server).
  long total_timeout_ms = 600'000;   ///< Whole request.
  std::string ca_file;               ///< Extra CA bundle (certificates are always verified).
  std::string user_agent = "eden-etl";
};

/// The libcurl Transport: a pool of easy handles (each keeps its connections alive, so N threads
/// have N requests in flight), TLS peer and host always verified, only http/https (or only file
/// for a file request), no redirects followed. One mapping of libcurl's failures, for every user:
/// - kTooLarge: the body passed HttpRequest::max_response_bytes;
/// - kTimeout: the total or low-speed timeout;
/// - kUnavailable (transient): refused, reset, unresolved, cut mid-body, TLS handshake failures,
///   a certificate not trusted ("TLS certificate not trusted" in the message), anything else;
/// - kNotFound: a file:// that cannot be read;
/// - kInvalidArgument: a malformed URL, a scheme not allowed, a body in an unknown encoding.
/// A handle whose request failed is closed, not reused.
std::shared_ptr<Transport> MakeCurlTransport(TransportOptions options);

/// curl_global_init, once per process, before any thread starts (MakeCurlTransport calls it).
void InitialiseCurlOnce();

}  // namespace eden::http

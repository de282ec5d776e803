#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "http/transport.h"

namespace eden::gcs {

/// Supplies the Authorization header for GCS requests.
/// @par Thread-safety Safe to call from many threads; one token fetch at a time.
class Credentials {
 public:
  virtual ~Credentials() = default;
  /// "Bearer <token>", or "" for anonymous access (an emulator). Cached; refreshed before expiry.
  virtual Result<std::string> Authorization() = 0;
  /// After a 401: forget the cached token so the next call fetches a new one.
  virtual void Invalidate() {}
  /// What kind of credentials these are, for logs: never a secret.
  virtual std::string Describe() const = 0;
};

/// No Authorization header: STORAGE_EMULATOR_HOST and the test server.
std::shared_ptr<Credentials> MakeAnonymousCredentials();

/// An OAuth2 access token and when it stops working.
struct AccessToken {
  std::string token;
  std::chrono::system_clock::time_point expiry;
};
using TokenSource = std::function<Result<AccessToken>()>;

/// Caches the token from `source`; fetches a new one when less than a refresh margin is left
/// (5 minutes, or half the token's lifetime if that is shorter).
std::shared_ptr<Credentials> MakeOAuthCredentials(TokenSource source, std::string description);

/// The scope eden asks for.
inline constexpr const char* kStorageScope = "https://www.googleapis.com/auth/devstorage.read_write";

/// A signed JWT-bearer assertion (RFC 7523) for a service account: header {alg RS256, typ JWT,
/// kid}, claims {iss, scope, aud, iat, exp = iat + 3600}, RS256 over "header.claims" with the
/// PEM private key. kInvalidArgument if the key cannot be read.
Result<std::string> MakeJwtAssertion(const std::string& client_email, const std::string& private_key_pem,
                                     const std::string& key_id, const std::string& scope, const std::string& audience,
                                     std::chrono::system_clock::time_point now);

/// Credentials from a JSON key file: "service_account" (JWT exchanged at its token_uri) or
/// "authorized_user" (refresh token exchanged at token_uri, default Google's), what
/// `gcloud auth application-default login` writes.
Result<std::shared_ptr<Credentials>> LoadCredentialsFile(const std::string& path,
                                                         const std::shared_ptr<http::Transport>& http);

/// Application Default Credentials, in Google's order: `explicit_path` (GCS_CREDENTIALS_PATH),
/// GOOGLE_APPLICATION_CREDENTIALS, gcloud's well-known file
/// ($CLOUDSDK_CONFIG or ~/.config/gcloud/application_default_credentials.json), then the GCE/GKE
/// metadata server (GCE_METADATA_HOST, default metadata.google.internal).
Result<std::shared_ptr<Credentials>> DefaultCredentials(const std::string& explicit_path,
                                                        const std::shared_ptr<http::Transport>& http);

}  // namespace eden::gcs

#include "gcs/credentials.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "http/url.h"

namespace eden::gcs {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;

class AnonymousCredentials final : public Credentials {
 public:
  Result<std::string> Authorization() override { return std::string(); }
  std::string Describe() const override { return "anonymous (emulator)"; }
};

class OAuthCredentials final : public Credentials {
 public:
  OAuthCredentials(TokenSource source, std::string description)
      : source_(std::move(source)), description_(std::move(description)) {}

  Result<std::string> Authorization() override {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    if (token_.token.empty() || now + margin_ >= token_.expiry) {
      auto fresh = source_();
      if (!fresh) return Fail(fresh.error());
      const auto lifetime = fresh->expiry - now;
      margin_ = std::min<Clock::duration>(std::chrono::minutes(5), lifetime / 2);
      token_ = std::move(*fresh);
    }
    return "Bearer " + token_.token;
  }
  void Invalidate() override {
    std::lock_guard lock(mu_);
    token_ = {};
  }
  std::string Describe() const override { return description_; }

 private:
  TokenSource source_;
  std::string description_;
  std::mutex mu_;
  AccessToken token_;
  Clock::duration margin_{};
};

std::string FormEncode(std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += http::UrlEncode(k) + "=" + http::UrlEncode(v);
  }
  return out;
}

/// Parses a token endpoint's answer; errors name the endpoint's `error` field, never the token.
Result<AccessToken> ParseTokenResponse(const Result<http::HttpResponse>& response, const std::string& what) {
  if (!response) return Fail(response.error().WithContext(what));
  json body = json::parse(response->Text(), nullptr, false);
  if (response->status != 200) {
    std::string reason = body.is_object() ? body.value("error", "") : "";
    std::string detail = body.is_object() ? body.value("error_description", "") : "";
    const auto code =
        response->status >= 500 || response->status == 429 ? ErrorCode::kUnavailable : ErrorCode::kUnauthenticated;
    return Fail(code,
                fmt::format("{}: the token endpoint refused the credentials (HTTP {}{}{})", what, response->status,
                            reason.empty() ? "" : ", " + reason, detail.empty() ? "" : ": " + detail));
  }
  if (!body.is_object() || !body.contains("access_token") || !body["access_token"].is_string()) {
    return Fail(ErrorCode::kUnauthenticated, what + ": the token endpoint's answer has no access_token");
  }
  AccessToken t;
  t.token = body["access_token"].get<std::string>();
  const int64_t expires_in =
      body.contains("expires_in") && body["expires_in"].is_number_integer() ? body["expires_in"].get<int64_t>() : 3600;
  t.expiry = Clock::now() + std::chrono::seconds(expires_in);
  return t;
}

Result<AccessToken> PostForm(http::Transport& http, const std::string& url, const std::string& form,
                             const std::string& what) {
  http::HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.headers = {"Content-Type: application/x-www-form-urlencoded"};
  r.body = std::span(reinterpret_cast<const uint8_t*>(form.data()), form.size());
  return ParseTokenResponse(http.Send(r), what);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::shared_ptr<Credentials> MetadataServerCredentials(const std::shared_ptr<http::Transport>& http) {
  std::string host = Env("GCE_METADATA_HOST");
  if (host.empty()) host = "metadata.google.internal";
  const std::string url = "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/token";
  return MakeOAuthCredentials(
      [http, url]() -> Result<AccessToken> {
        http::HttpRequest r;
        r.url = url;
        r.headers = {"Metadata-Flavor: Google"};
        auto response = http->Send(r);
        if (!response) {
          return Fail(response.error().code(),
                      "no credentials: GCS_CREDENTIALS_PATH and GOOGLE_APPLICATION_CREDENTIALS are unset, gcloud's "
                      "application_default_credentials.json is missing, and the metadata server did not answer (" +
                          response.error().message() + ")");
        }
        return ParseTokenResponse(response, "metadata server token");
      },
      "GCE metadata server (" + host + ")");
}

}  // namespace

std::shared_ptr<Credentials> MakeAnonymousCredentials() { return std::make_shared<AnonymousCredentials>(); }

std::shared_ptr<Credentials> MakeOAuthCredentials(TokenSource source, std::string description) {
  return std::make_shared<OAuthCredentials>(std::move(source), std::move(description));
}

Result<std::string> MakeJwtAssertion(const std::string& client_email, const std::string& private_key_pem,
                                     const std::string& key_id, const std::string& scope, const std::string& audience,
                                     Clock::time_point now) {
  const int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key_id.empty()) header["kid"] = key_id;
  const json claims = {{"iss", client_email}, {"scope", scope}, {"aud", audience}, {"iat", iat}, {"exp", iat + 3600}};
  const std::string signing_input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());

  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return Fail(ErrorCode::kInvalidArgument, "the service account's private_key is not a PEM private key");
  std::string signature;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSignUpdate(ctx, signing_input.data(), signing_input.size()) == 1 &&
            EVP_DigestSignFinal(ctx, nullptr, &length) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSignFinal(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) return Fail(ErrorCode::kInvalidArgument, "signing the JWT with the service account's key failed");
  return signing_input + "." + Base64UrlEncode(signature);
}

Result<std::shared_ptr<Credentials>> LoadCredentialsFile(const std::string& path,
                                                         const std::shared_ptr<http::Transport>& http) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kInvalidArgument, fmt::format("cannot read the credentials file {}", path));
  json j = json::parse(std::string(std::istreambuf_iterator<char>(in), {}), nullptr, false);
  if (!j.is_object()) return Fail(ErrorCode::kInvalidArgument, fmt::format("{} is not a JSON object", path));
  const std::string type = j.value("type", "");
  auto field = [&](const char* name) {
    return j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : "";
  };
  if (type == "service_account") {
    const std::string email = field("client_email"), key = field("private_key"), key_id = field("private_key_id");
    std::string token_uri = field("token_uri");
    if (token_uri.empty()) token_uri = "https://oauth2.googleapis.com/token";
    if (email.empty() || key.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: a service account key needs client_email and private_key", path));
    }
    // Check the key now: a bad key is a configuration error, not a failed upload later.
    if (auto probe = MakeJwtAssertion(email, key, key_id, kStorageScope, token_uri, Clock::now()); !probe) {
      return Fail(probe.error().WithContext(path));
    }
    return MakeOAuthCredentials(
        [=]() -> Result<AccessToken> {
          auto assertion = MakeJwtAssertion(email, key, key_id, kStorageScope, token_uri, Clock::now());
          if (!assertion) return Fail(assertion.error());
          return PostForm(
              *http, token_uri,
              FormEncode({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", *assertion}}),
              "service account " + email);
        },
        "service account " + email);
  }
  if (type == "authorized_user") {
    const std::string id = field("client_id"), secret = field("client_secret"), refresh = field("refresh_token");
    std::string token_uri = field("token_uri");
    if (token_uri.empty()) token_uri = "https://oauth2.googleapis.com/token";
    if (id.empty() || secret.empty() || refresh.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: authorized_user credentials need client_id, client_secret and refresh_token", path));
    }
    return MakeOAuthCredentials(
        [=]() -> Result<AccessToken> {
          return PostForm(*http, token_uri,
                          FormEncode({{"grant_type", "refresh_token"},
                                      {"client_id", id},
                                      {"client_secret", secret},
                                      {"refresh_token", refresh}}),
                          "user credentials (refresh token)");
        },
        "user credentials (refresh token, client " + id + ")");
  }
  return Fail(
      ErrorCode::kInvalidArgument,
      fmt::format("{}: credentials type \"{}\" is not supported (service_account, authorized_user)", path, type));
}

Result<std::shared_ptr<Credentials>> DefaultCredentials(const std::string& explicit_path,
                                                        const std::shared_ptr<http::Transport>& http) {
  if (!explicit_path.empty()) return LoadCredentialsFile(explicit_path, http);
  if (auto p = Env("GOOGLE_APPLICATION_CREDENTIALS"); !p.empty()) return LoadCredentialsFile(p, http);
  std::filesystem::path well_known;
  if (auto cfg = Env("CLOUDSDK_CONFIG"); !cfg.empty()) {
    well_known = std::filesystem::path(cfg) / "application_default_credentials.json";
  } else if (auto home = Env("HOME"); !home.empty()) {
    well_known = std::filesystem::path(home) / ".config/gcloud/application_default_credentials.json";
  }
  std::error_code ec;
  if (!well_known.empty() && std::filesystem::exists(well_known, ec)) return LoadCredentialsFile(well_known, http);
  return MetadataServerCredentials(http);
}

}  // namespace eden::gcs

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/base64.h"
#include "core/crc32c.h"
#include "digest/digest.h"
#include "gcs/client.h"
#include "gcs/credentials.h"
#include "gcs/gcs_object_store.h"
#include "gcs/hashes.h"
#include "http/curl_transport.h"
#include "http/url.h"

namespace eden::gcs {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// RFC 3720 appendix B.4 test vectors, plus the common "123456789" check value.
TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(dec), 0x113FDB5Cu);
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable(Bytes("123456789")), 0xE3069283u);
}

TEST(Crc32c, HardwareMatchesPortableAndContinues) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(100'003);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  // Around 3 x 8192: the three-stream path, its joins, and the single-stream tail.
  for (size_t n : {0, 1, 7, 8, 9, 63, 4096, 24'575, 24'576, 24'577, 49'153, 100'003}) {
    std::span<const uint8_t> s(data.data(), n);
    EXPECT_EQ(Crc32c(s), Crc32cPortable(s)) << n;
  }
  const uint32_t whole = Crc32c(data);
  const uint32_t pieces = Crc32c(std::span(data).subspan(12'345), Crc32c(std::span(data).first(12'345)));
  EXPECT_EQ(whole, pieces);
}

TEST(Hashes, GcsTextForms) {
  EXPECT_EQ(Crc32cBase64(0), "AAAAAA==");
  EXPECT_EQ(Crc32cBase64(0xE3069283u), "4waSgw==");
  EXPECT_EQ(Md5Base64(Bytes("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  const auto h = HashObject(Bytes("123456789"));
  EXPECT_EQ(h.crc32c, "4waSgw==");
  EXPECT_EQ(h.md5, "");  // Not computed: uploads carry the CRC-32C only.
  EXPECT_EQ(Md5Base64(Bytes("123456789")), "JfnnlDI7RTiF9RgfG2JNCw==");
}

TEST(Hashes, DigestContentIsSha256AndCrc32cInOnePass) {
  std::vector<uint8_t> data((size_t{1} << 20) + 77);  // Across the 256 KiB pieces.
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  const auto d = digest::DigestContent(data);
  EXPECT_EQ(d.sha256_hex, digest::Sha256Hex(data));
  EXPECT_EQ(d.crc32c, Crc32c(data));
  const auto empty = digest::DigestContent({});
  EXPECT_EQ(empty.sha256_hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(empty.crc32c, 0u);
}

TEST(Hashes, FileHashesEqualTheWholeObjectsAcrossReadBoundaries) {
  const auto path = std::filesystem::temp_directory_path() / ("eden-hash-" + std::to_string(::getpid()));
  std::vector<uint8_t> data((size_t{9} << 20) + 77);  // more than two of HashFile's 4 MiB reads
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 2654435761u) >> 11);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  auto file = HashFile(path);
  ASSERT_TRUE(file.has_value()) << file.error().ToString();
  const auto whole = HashObject(data);
  EXPECT_EQ(file->size, data.size());
  EXPECT_EQ(file->hashes.crc32c, whole.crc32c);
  std::filesystem::remove(path);
  EXPECT_FALSE(HashFile(path).has_value());
}

TEST(Base64, UrlVariantHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff", 2)), "-_8");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2)), "+/8=");
}

std::string UrlDecode(std::string s) {
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  return Base64Decode(s).value();
}

TEST(Jwt, SignedWithRs256AndVerifiableWithThePublicKey) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);

  const auto now = std::chrono::system_clock::from_time_t(1'800'000'000);
  auto jwt = MakeJwtAssertion("sa@p.iam.gserviceaccount.com", pem, "kid1", kStorageScope, "http://t/token", now);
  ASSERT_TRUE(jwt) << jwt.error().ToString();
  const auto dot1 = jwt->find('.'), dot2 = jwt->rfind('.');
  const auto header = nlohmann::json::parse(UrlDecode(jwt->substr(0, dot1)));
  const auto claims = nlohmann::json::parse(UrlDecode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["kid"], "kid1");
  EXPECT_EQ(claims["iss"], "sa@p.iam.gserviceaccount.com");
  EXPECT_EQ(claims["aud"], "http://t/token");
  EXPECT_EQ(claims["scope"], kStorageScope);
  EXPECT_EQ(claims["iat"], 1'800'000'000);
  EXPECT_EQ(claims["exp"], 1'800'003'600);

  const std::string signed_part = jwt->substr(0, dot2);
  const std::string signature = UrlDecode(jwt->substr(dot2 + 1));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()),
            1);
  // One changed claim byte and the signature no longer verifies.
  std::string tampered = signed_part;
  tampered[dot1 + 3] ^= 1;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_NE(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(tampered.data()), tampered.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
}

TEST(Jwt, ABadKeyIsAConfigurationError) {
  auto jwt = MakeJwtAssertion("a@b", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", "",
                              kStorageScope, "http://t/token", std::chrono::system_clock::now());
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error().code(), ErrorCode::kInvalidArgument);
}

TEST(Credentials, CachesUntilCloseToExpiryAndRefetchesAfterInvalidate) {
  int fetches = 0;
  std::chrono::seconds lifetime{3600};
  auto creds = MakeOAuthCredentials(
      [&]() -> Result<AccessToken> {
        ++fetches;
        return AccessToken{"tok" + std::to_string(fetches), std::chrono::system_clock::now() + lifetime};
      },
      "test");
  EXPECT_EQ(*creds->Authorization(), "Bearer tok1");
  EXPECT_EQ(*creds->Authorization(), "Bearer tok1");
  EXPECT_EQ(fetches, 1);
  creds->Invalidate();
  EXPECT_EQ(*creds->Authorization(), "Bearer tok2");
  lifetime = std::chrono::seconds(0);  // Tokens that are already at their refresh point.
  creds->Invalidate();
  EXPECT_EQ(*creds->Authorization(), "Bearer tok3");
  EXPECT_EQ(*creds->Authorization(), "Bearer tok4");
  EXPECT_EQ(fetches, 4);
}

TEST(Credentials, FileErrorsAreClear) {
  auto http = http::MakeCurlTransport({});
  auto missing = LoadCredentialsFile("/nonexistent/key.json", http);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("cannot read"), std::string::npos);
}

TEST(GcsClient, CommittedBytesFromRangeHeader) {
  EXPECT_EQ(*CommittedBytes(""), 0u);
  EXPECT_EQ(*CommittedBytes("bytes=0-262143"), 262144u);
  EXPECT_FALSE(CommittedBytes("bytes=5-10"));
  EXPECT_FALSE(CommittedBytes("junk"));
}

TEST(GcsClient, ErrorsFromResponses) {
  auto code = [](long status) {
    http::HttpResponse r;
    r.status = status;
    AppendTo(r.body, Bytes(R"({"error":{"code":1,"message":"why"}})"));
    return ErrorFromResponse(r, "op").code();
  };
  EXPECT_EQ(code(401), ErrorCode::kUnauthenticated);
  EXPECT_EQ(code(403), ErrorCode::kPermissionDenied);
  EXPECT_EQ(code(404), ErrorCode::kNotFound);
  EXPECT_EQ(code(412), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(code(408), ErrorCode::kUnavailable);
  EXPECT_EQ(code(429), ErrorCode::kUnavailable);
  EXPECT_EQ(code(503), ErrorCode::kUnavailable);
  EXPECT_EQ(code(400), ErrorCode::kInvalidArgument);
  http::HttpResponse r;
  r.status = 400;
  AppendTo(r.body, Bytes(R"({"error":{"code":400,"message":"Provided MD5 hash doesn't match"}})"));
  EXPECT_NE(ErrorFromResponse(r, "op").message().find("Provided MD5 hash"), std::string::npos);
}

TEST(GcsClient, ParsesObjectResources) {
  auto m = ParseObjectMetadata(
      R"({"kind":"storage#object","name":"a/b.dcm","bucket":"bk","size":"1048576","generation":"1795562654021123",)"
      R"("crc32c":"3gr9Xg==","md5Hash":"dREyxzBE8k41MklR8Oh1qQ==","contentType":"application/dicom"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "a/b.dcm");
  EXPECT_EQ(m->size, 1048576u);
  EXPECT_EQ(m->generation, 1795562654021123);
  EXPECT_EQ(m->crc32c, "3gr9Xg==");
  EXPECT_FALSE(ParseObjectMetadata("<html>"));
  EXPECT_FALSE(ParseObjectMetadata(R"({"name":"x","size":"many"})"));
}

TEST(GcsUrl, ParsesBucketAndPrefix) {
  auto u = ParseGcsUrl("gs://my-bucket/eden-dataset-vlms/sample-test/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->bucket, "my-bucket");
  EXPECT_EQ(u->prefix, "eden-dataset-vlms/sample-test");
  EXPECT_EQ(ParseGcsUrl("gs://bkt").value().prefix, "");
  EXPECT_FALSE(ParseGcsUrl("gs://bk"));  // too short for a bucket name
  EXPECT_FALSE(ParseGcsUrl("s3://bk/x"));
  EXPECT_FALSE(ParseGcsUrl("gs://Bad Bucket/x"));
  EXPECT_FALSE(ParseGcsUrl("gs://"));
}

TEST(Http, UrlEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(http::UrlEncode("a/b c.dcm"), "a%2Fb%20c.dcm");
  EXPECT_EQ(http::UrlEncode("x~_-."), "x~_-.");
  EXPECT_EQ(http::RedactUrl("https://u:p@host/path?upload_id=secret"), "https://u@host/path");
}

}  // namespace
}  // namespace eden::gcs

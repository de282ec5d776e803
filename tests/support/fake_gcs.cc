#include "support/fake_gcs.h"

#include <strings.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/crc32c.h"
#include "digest/digest.h"
#include "support/scripted_transport.h"

namespace eden::testing {
namespace {

using json = nlohmann::json;

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> Query(const std::string& url) {
  std::map<std::string, std::string> q;
  const auto mark = url.find('?');
  if (mark == std::string::npos) return q;
  std::string rest = url.substr(mark + 1);
  size_t begin = 0;
  while (begin <= rest.size()) {
    size_t end = rest.find('&', begin);
    if (end == std::string::npos) end = rest.size();
    const std::string item = rest.substr(begin, end - begin);
    const auto eq = item.find('=');
    if (!item.empty()) q[UrlDecode(item.substr(0, eq))] = eq == std::string::npos ? "" : UrlDecode(item.substr(eq + 1));
    begin = end + 1;
  }
  return q;
}

std::string HeaderOf(const http::HttpRequest& r, const std::string& name) { return HeaderValue(r.headers, name); }

http::HttpResponse JsonError(long status, const std::string& message) {
  return Response(status, {"Content-Type: application/json"},
                  json{{"error", {{"code", status}, {"message", message}}}}.dump());
}

std::string Crc(const std::string& bytes) {
  return Crc32cBase64(Crc32c({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
}
std::string Md5(const std::string& bytes) {
  return digest::Md5Base64({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace

void FakeGcs::set_fault(FaultHook hook) {
  std::lock_guard lock(mu_);
  fault_ = std::move(hook);
}

std::optional<FakeGcs::Object> FakeGcs::Get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(name);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, FakeGcs::Object> FakeGcs::objects() const {
  std::lock_guard lock(mu_);
  return objects_;
}

std::map<std::string, int> FakeGcs::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

Result<http::HttpResponse> FakeGcs::Send(const http::HttpRequest& request) {
  FaultHook hook;
  {
    std::lock_guard lock(mu_);
    hook = fault_;
  }
  if (hook) {
    Fault f = hook(request);
    if (f.answer) {
      if (f.served_first) {
        std::lock_guard lock(mu_);
        (void)Serve(request);
      }
      return std::move(*f.answer);
    }
  }
  std::lock_guard lock(mu_);
  return Serve(request);
}

http::HttpResponse FakeGcs::Store(const std::string& name, const std::string& resource_json, std::string bytes,
                                  int64_t if_generation_match) {
  json resource = json::parse(resource_json, nullptr, false);
  if (!resource.is_object()) return JsonError(400, "resource is not JSON");
  auto it = objects_.find(name);
  if (if_generation_match == 0 && it != objects_.end()) return JsonError(412, "Precondition Failed");
  if (if_generation_match > 0 && (it == objects_.end() || it->second.generation != if_generation_match))
    return JsonError(412, "Precondition Failed");
  Object o;
  o.crc32c = Crc(bytes);
  o.md5 = Md5(bytes);
  if (resource.contains("crc32c") && resource["crc32c"] != o.crc32c)
    return JsonError(400, "Provided CRC32C \"" + resource["crc32c"].get<std::string>() + "\" doesn't match");
  if (resource.contains("md5Hash") && resource["md5Hash"] != o.md5)
    return JsonError(400, "Provided MD5 hash doesn't match");
  o.content_type = resource.value("contentType", "application/octet-stream");
  o.bytes = std::move(bytes);
  o.generation = ++next_generation_;
  objects_[name] = o;
  return Response(200, {"Content-Type: application/json"}, Resource(name, o).dump());
}

nlohmann::json FakeGcs::Resource(const std::string& name, const Object& o) const {
  return json{{"kind", "storage#object"},
              {"bucket", bucket_},
              {"name", name},
              {"contentType", o.content_type},
              {"size", std::to_string(o.bytes.size())},
              {"generation", std::to_string(o.generation)},
              {"crc32c", o.crc32c},
              {"md5Hash", o.md5}};
}

http::HttpResponse FakeGcs::Serve(const http::HttpRequest& r) {
  if (r.url.rfind(endpoint_, 0) != 0) return JsonError(400, "not this endpoint: " + r.url);
  const std::string rest = r.url.substr(endpoint_.size());
  const std::string path = rest.substr(0, rest.find('?'));
  auto query = Query(rest);
  const std::string body(reinterpret_cast<const char*>(r.body.data()), r.body.size());
  const std::string bucket_path = "/storage/v1/b/" + bucket_;
  const std::string upload_path = "/upload/storage/v1/b/" + bucket_ + "/o";

  // Resumable session requests.
  if (r.method == "PUT" && path.rfind("/upload/session/", 0) == 0) {
    auto it = sessions_.find(path);
    if (it == sessions_.end()) return JsonError(404, "No such upload session");
    Session& s = it->second;
    const std::string range = HeaderOf(r, "Content-Range");
    auto committed_answer = [&] {
      if (s.done) return Response(200, {"Content-Type: application/json"}, s.final_answer);
      if (s.bytes.empty()) return Response(308);
      return Response(308, {fmt::format("Range: bytes=0-{}", s.bytes.size() - 1)});
    };
    if (range.rfind("bytes */", 0) == 0 && r.body.empty() && !(s.total == 0 && !s.done)) {
      ++counts_["PUT status"];
      return committed_answer();
    }
    ++counts_["PUT chunk"];
    if (s.done) return committed_answer();
    uint64_t first = 0;
    if (range.rfind("bytes */", 0) != 0) {
      unsigned long long a = 0, b = 0, total = 0;
      if (std::sscanf(range.c_str(), "bytes %llu-%llu/%llu", &a, &b, &total) != 3 || b + 1 - a != r.body.size() ||
          total != s.total)
        return JsonError(400, "bad Content-Range " + range);
      first = a;
    }
    if (first != s.bytes.size()) return JsonError(400, "chunk does not start at the committed offset");
    s.bytes += body;
    if (s.bytes.size() < s.total) return committed_answer();
    json resource = json::parse(s.resource, nullptr, false);
    auto answer =
        Store(resource.is_object() ? resource.value("name", "") : "", s.resource, s.bytes, s.if_generation_match);
    if (answer.status == 200) {
      s.done = true;
      s.final_answer = std::string(answer.Text());
    }
    return answer;
  }
  if (r.method == "POST" && path == upload_path) {
    const int64_t generation = query.count("ifGenerationMatch") ? std::stoll(query["ifGenerationMatch"]) : -1;
    if (query["uploadType"] == "resumable") {
      ++counts_["POST resumable"];
      Session s;
      s.resource = body;
      s.total =
          std::stoull(HeaderOf(r, "X-Upload-Content-Length").empty() ? "0" : HeaderOf(r, "X-Upload-Content-Length"));
      s.if_generation_match = generation;
      const std::string id = fmt::format("/upload/session/{}", next_session_++);
      sessions_[id] = s;
      return Response(200, {"Location: " + endpoint_ + id});
    }
    if (query["uploadType"] == "multipart") {
      ++counts_["POST multipart"];
      const std::string type = HeaderOf(r, "Content-Type");
      const auto b = type.find("boundary=");
      if (b == std::string::npos) return JsonError(400, "no boundary");
      const std::string boundary = "--" + type.substr(b + 9);
      // --B\r\n headers \r\n\r\n JSON \r\n--B\r\n headers \r\n\r\n BYTES \r\n--B--\r\n
      const auto h1 = body.find("\r\n\r\n");
      const auto end1 = body.find("\r\n" + boundary, h1);
      const auto h2 = body.find("\r\n\r\n", end1 + 2);
      const auto end2 = body.rfind("\r\n" + boundary + "--");
      if (h1 == std::string::npos || end1 == std::string::npos || h2 == std::string::npos ||
          end2 == std::string::npos || end2 < h2 + 4)
        return JsonError(400, "malformed multipart body");
      const std::string resource = body.substr(h1 + 4, end1 - h1 - 4);
      json j = json::parse(resource, nullptr, false);
      if (!j.is_object() || !j.contains("name")) return JsonError(400, "no name");
      return Store(j["name"].get<std::string>(), resource, body.substr(h2 + 4, end2 - h2 - 4), generation);
    }
    return JsonError(400, "unknown uploadType");
  }
  if (path == bucket_path && r.method == "GET") return Response(200, {}, json{{"name", bucket_}}.dump());
  if (path == bucket_path + "/o" && r.method == "GET") {
    ++counts_["GET list"];
    const std::string prefix = query["prefix"];
    const std::string token = query["pageToken"];
    json items = json::array();
    std::string next;
    for (auto it = objects_.lower_bound(std::max(prefix, token)); it != objects_.end(); ++it) {
      if (it->first.rfind(prefix, 0) != 0) break;
      if (items.size() == page_size_) {
        next = it->first;
        break;
      }
      items.push_back(Resource(it->first, it->second));
    }
    json page{{"kind", "storage#objects"}, {"items", items}};
    if (!next.empty()) page["nextPageToken"] = next;
    return Response(200, {"Content-Type: application/json"}, page.dump());
  }
  const bool media = path.rfind("/download" + bucket_path + "/o/", 0) == 0;
  const std::string object_prefix = (media ? "/download" : "") + bucket_path + "/o/";
  if (path.rfind(object_prefix, 0) == 0) {
    const std::string name = UrlDecode(path.substr(object_prefix.size()));
    auto it = objects_.find(name);
    if (r.method == "DELETE") {
      ++counts_["DELETE"];
      if (it == objects_.end()) return JsonError(404, "No such object");
      objects_.erase(it);
      return Response(204);
    }
    if (r.method == "GET") {
      ++counts_[media ? "GET media" : "GET metadata"];
      if (it == objects_.end()) return JsonError(404, "No such object: " + bucket_ + "/" + name);
      if (media) return Response(200, {"Content-Type: " + it->second.content_type}, it->second.bytes);
      return Response(200, {"Content-Type: application/json"}, Resource(name, it->second).dump());
    }
  }
  return JsonError(400, "the fake does not know " + r.method + " " + path);
}

}  // namespace eden::testing

#include "storage/object_store.h"

#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace eden::storage {

bool IsSafeObjectName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

Status ObjectStore::PutFile(const std::string& key, const std::filesystem::path& path,
                            const std::string& content_type) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, fmt::format("cannot read {}", path.string()));
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  return Put(key, bytes, content_type);
}

Result<std::map<std::string, ObjectInfo>> ObjectStore::List(const std::string& prefix) {
  std::map<std::string, ObjectInfo> out;
  if (auto ok = ForEach(prefix, [&](const std::string& key, const ObjectInfo& info) { out[key] = info; }); !ok) {
    return Fail(ok.error());
  }
  return out;
}

}  // namespace eden::storage

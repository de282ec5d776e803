#pragma once

#include <filesystem>
#include <string>

namespace eden::testing {

/// A fresh folder under the system temp directory (mkdtemp), removed with everything in it when
/// the object goes. Unique per call, so tests may run in parallel.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

}  // namespace eden::testing

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace eden::dataset {

/// The bytes of a POSIX ustar archive, written without any file system: a member's header (with
/// a GNU long-name record before it when the name is longer than 100 bytes), its padding, the
/// end. Headers are reproducible: mode 0644, uid/gid 0, owner "eden", mtime `mtime` (the same
/// dataset gives the same bytes).
std::string TarHeader(std::string_view name, uint64_t size, uint64_t mtime = 0);
/// The zero bytes that round a member of `size` bytes up to a 512-byte block.
std::string_view TarPadding(uint64_t size);
/// Two zero blocks: the end of an archive.
std::string_view TarEnd();
/// What a member of `name` and `size` bytes takes in an archive (header(s), data, padding).
uint64_t TarMemberBytes(std::string_view name, uint64_t size);

}  // namespace eden::dataset

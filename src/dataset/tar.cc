#include "dataset/tar.h"

#include <cstring>

#include <fmt/format.h>

namespace eden::dataset {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kNameField = 100;

/// An octal field of `width` bytes: digits, then NUL.
void PutOctal(char* field, size_t width, uint64_t value) {
  const std::string digits = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

std::string Block(std::string_view name, uint64_t size, uint64_t mtime, char type) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), std::min(name.size(), kNameField));
  PutOctal(&h[100], 8, 0644);    // mode
  PutOctal(&h[108], 8, 0);       // uid
  PutOctal(&h[116], 8, 0);       // gid
  PutOctal(&h[124], 12, size);   // size (octal fits 8 GiB; members here are far smaller)
  PutOctal(&h[136], 12, mtime);  // mtime
  h[156] = type;                 // typeflag
  std::memcpy(&h[257],
              "ustar\0"
              "00",
              8);                   // magic + version
  std::memcpy(&h[265], "eden", 4);  // uname
  std::memcpy(&h[297], "eden", 4);  // gname
  std::memset(&h[148], ' ', 8);     // checksum: computed with its own field as spaces
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  const std::string check = fmt::format("{:06o}", sum);
  std::memcpy(&h[148], check.data(), 6);
  h[154] = '\0';
  h[155] = ' ';
  return h;
}

}  // namespace

std::string_view TarPadding(uint64_t size) {
  static const char kZeros[kBlock * 2] = {};
  return {kZeros, static_cast<size_t>((kBlock - size % kBlock) % kBlock)};
}

std::string_view TarEnd() {
  static const char kZeros[kBlock * 2] = {};
  return {kZeros, kBlock * 2};
}

std::string TarHeader(std::string_view name, uint64_t size, uint64_t mtime) {
  if (name.size() <= kNameField) return Block(name, size, mtime, '0');
  // GNU long name: a "././@LongLink" member of type 'L' holding the name (NUL-terminated).
  std::string out = Block("././@LongLink", name.size() + 1, 0, 'L');
  out.append(name);
  out.push_back('\0');
  out.append(TarPadding(name.size() + 1));
  out += Block(name.substr(0, kNameField), size, mtime, '0');
  return out;
}

uint64_t TarMemberBytes(std::string_view name, uint64_t size) {
  uint64_t header = kBlock;
  if (name.size() > kNameField) header += kBlock + (name.size() + 1 + kBlock - 1) / kBlock * kBlock;
  return header + (size + kBlock - 1) / kBlock * kBlock;
}

}  // namespace eden::dataset

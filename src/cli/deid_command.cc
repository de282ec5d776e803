#include "cli/deid_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace eden::cli {

Result<std::shared_ptr<const deid::Config>> MakeDeidConfig(const config::DeidSettings& s) {
  if (s.mode == "off") return std::shared_ptr<const deid::Config>();
  if (s.mode != "basic")
    return Fail(ErrorCode::kInvalidArgument, fmt::format("--deid '{}' is not basic or off", s.mode));
  auto options = deid::ParseOptions(s.options);
  if (!options) return Fail(options.error());
  std::string text = s.key;
  // Read again now: a .env file is loaded after the options were added.
  if (const char* env = std::getenv("EDEN_DEID_KEY"); text.empty() && env != nullptr) text = env;
  std::string source = "EDEN_DEID_KEY";
  if (!s.key_file.empty()) {
    std::ifstream in(s.key_file);
    if (!in) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("cannot read the de-identification key file {}", s.key_file));
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
    source = s.key_file;
  }
  if (text.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "de-identification is on (the default) and no key is configured. Make one, once, and keep it "
                "secret and safe (the same key gives the same pseudonyms in every run):\n"
                "      eden deid keygen --out eden-deid.key\n"
                "    then pass --deid-key-file eden-deid.key (or set EDEN_DEID_KEY_FILE, or EDEN_DEID_KEY to its "
                "text). --deid off stores the files as they come, patient identity included.");
  }
  auto key = deid::Key::Parse(text);
  if (!key) return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: {}", source, key.error().message()));
  return std::make_shared<const deid::Config>(deid::Config{*options, *key, s.burned_in == "keep"});
}

void AddDeidCommand(CLI::App& app, DeidArgs& args) {
  auto* deid = app.add_subcommand("deid", "De-identification tools (docs/deid.md)");
  deid->require_subcommand(1);
  auto* keygen = deid->add_subcommand("keygen", "Make a new de-identification key (32 random bytes, hex)");
  keygen->add_option("--out", args.out, "Write the key to FILE (mode 0600; an existing file is not replaced)");
}

int RunDeid(CLI::App& deid_command, DeidArgs& args) {
  if (!deid_command.got_subcommand("keygen")) return 2;
  auto key = deid::Key::Generate();
  if (!key) {
    fmt::print(stderr, "eden deid keygen: {}\n", key.error().message());
    return 3;
  }
  const std::string text = key->Hex() + "\n";
  if (args.out.empty()) {
    fmt::print("{}", text);
  } else {
    const int fd = ::open(args.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      fmt::print(stderr, "eden deid keygen: cannot create {}: {}{}\n", args.out, std::strerror(errno),
                 errno == EEXIST ? " (a key is never overwritten: its datasets' pseudonyms depend on it)" : "");
      return 2;
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (::close(fd) != 0 || !ok) {
      fmt::print(stderr, "eden deid keygen: cannot write {}\n", args.out);
      return 3;
    }
  }
  fmt::print(stderr, "eden deid keygen: new key, fingerprint {}{}\n", key->Fingerprint(),
             args.out.empty() ? "" : " (in " + args.out + ")");
  return 0;
}

}  // namespace eden::cli

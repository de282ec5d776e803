#include "cli/deid_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "cli/store_factory.h"
#include "deid/check.h"
#include "deid/dcmtk_deidentifier.h"

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
  auto* check =
      deid->add_subcommand("check",
                           "Scan a written dataset (DICOM headers, JPEG segments, CSV, README) for identifiers and for "
                           "attributes the profile forbids; exit 1 if anything is found");
  auto& o = args.check.output;
  check->add_option("destination", o.destination, "The dataset folder, the output folder, or gs://bucket[/prefix]")
      ->required()
      ->each([&o](const std::string&) { o.destination_given = true; });
  check->add_option("--identifiers", args.identifiers_file,
                    "A file of identifiers to look for (names, ids, ...), one a line, matched case-insensitively");
  check->add_option("--prefix", o.prefix, "Dataset prefix inside an output folder")->capture_default_str();
  check->add_option("--csv-name", o.csv_name, "CSV file name")->capture_default_str();
  check->add_option("--gcs-credentials", o.gcs_credentials, "GCS credentials file")->envname("GCS_CREDENTIALS_PATH");
  check->add_option("--gcs-endpoint", o.gcs_endpoint, "GCS JSON API endpoint")->envname("EDEN_GCS_ENDPOINT");
}

namespace {

int RunCheck(DeidArgs& args) {
  config::RunSettings s = args.check;
  std::error_code ec;
  const std::string destination = config::EffectiveDestination(s);
  if (!config::IsGcs(destination) &&
      std::filesystem::exists(std::filesystem::path(destination) / s.output.csv_name, ec))
    s.output.prefix.clear();  // The dataset folder itself.
  std::vector<std::string> identifiers;
  if (!args.identifiers_file.empty()) {
    std::ifstream in(args.identifiers_file);
    if (!in) {
      fmt::print(stderr, "eden deid check: cannot read {}\n", args.identifiers_file);
      return 2;
    }
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      identifiers.push_back(line);
    }
  }
  auto opened = OpenStore(s);
  if (!opened) {
    fmt::print(stderr, "eden deid check: {}\n", opened.error().message());
    return 2;
  }
  const std::string prefix = opened->prefix.empty() ? "" : opened->prefix + "/";
  std::vector<std::string> keys;
  auto listed = opened->store->ForEach(prefix, [&](const std::string& key, const storage::ObjectInfo&) {
    if (key.find("/.eden/") == std::string::npos && key.rfind(".eden/", 0) != 0) keys.push_back(key);
  });
  if (!listed) {
    fmt::print(stderr, "eden deid check: {}\n", listed.error().message());
    return 3;
  }
  size_t findings = 0, dicoms = 0;
  for (const std::string& key : keys) {
    auto bytes = opened->store->Get(key);
    if (!bytes) {
      fmt::print(stderr, "eden deid check: {}: {}\n", key, bytes.error().message());
      return 3;
    }
    std::vector<std::string> found = deid::FindIdentifiers(*bytes, identifiers);
    auto ends_with = [&](std::string_view suffix) {
      return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".dcm")) {
      ++dicoms;
      for (auto& f : deid::CheckDicomFile(*bytes)) found.push_back(std::move(f));
    } else if (ends_with(".jpg") || ends_with(".jpeg")) {
      for (auto& f : deid::CheckJpegMarkers(*bytes)) found.push_back(std::move(f));
    }
    for (const auto& f : found) fmt::print("{}: {}\n", opened->store->Uri(key), f);
    findings += found.size();
  }
  fmt::print("eden deid check: {} objects ({} DICOM), {} identifiers looked for, {} findings\n", keys.size(), dicoms,
             identifiers.size(), findings);
  if (keys.empty()) {
    fmt::print(stderr, "eden deid check: no objects under {}\n", opened->describe);
    return 2;
  }
  return findings == 0 ? 0 : 1;
}

}  // namespace

int RunDeid(CLI::App& deid_command, DeidArgs& args) {
  if (deid_command.got_subcommand("check")) return RunCheck(args);
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

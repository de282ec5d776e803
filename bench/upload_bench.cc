// Upload benchmark helper: puts every file under the given folders into a GCS
// bucket through GcsObjectStore (the pipeline's own store), N uploads in flight, and prints
// objects/s and MB/s. Run bench/run_upload_bench.sh, which starts the test server.
//   upload_bench ENDPOINT BUCKET PREFIX CONCURRENCY DIR...
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "gcs/client.h"
#include "gcs/credentials.h"
#include "gcs/gcs_object_store.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: upload_bench ENDPOINT BUCKET PREFIX CONCURRENCY DIR...\n");
    return 2;
  }
  eden::gcs::ClientOptions options;
  options.endpoint = argv[1];
  const std::string bucket = argv[2], prefix = argv[3];
  const int concurrency = std::stoi(argv[4]);
  std::vector<fs::path> files;
  for (int i = 5; i < argc; ++i) {
    for (const auto& e : fs::recursive_directory_iterator(argv[i])) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  }
  auto client = std::make_shared<eden::gcs::GcsClient>(options, eden::gcs::MakeAnonymousCredentials());
  eden::gcs::GcsObjectStore store(client, bucket);
  std::atomic<size_t> next{0}, failed{0};
  std::atomic<uint64_t> bytes{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < files.size(); i = next++) {
        std::ifstream in(files[i], std::ios::binary);
        std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), {});
        const std::string type = files[i].extension() == ".jpg" ? "image/jpeg" : "application/dicom";
        auto ok = store.Put(
            prefix + "/" + files[i].parent_path().filename().string() + "/" + files[i].filename().string(), data, type);
        if (!ok) {
          ++failed;
          std::fprintf(stderr, "%s\n", ok.error().ToString().c_str());
        }
        bytes += data.size();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("concurrency %d: %zu objects, %.1f MB in %.2f s: %.1f objects/s, %.1f MB/s, %llu requests, %zu failed\n",
              concurrency, files.size(), bytes / 1e6, s, files.size() / s, bytes / 1e6 / s,
              static_cast<unsigned long long>(client->stats().requests.load()), failed.load());
  return failed ? 1 : 0;
}

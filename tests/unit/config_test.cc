#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/settings.h"

namespace eden::config {
namespace {

TEST(Config, DefaultsAreValid) { EXPECT_TRUE(Validate(RunSettings{}).empty()); }

TEST(Config, ReportsEveryProblemAtOnce) {
  RunSettings s;
  s.selection.studies = 0;
  s.convert.quality = 0;
  s.fetch.download_concurrency = 0;
  s.report.log_level = "LOUD";
  s.output.destination = "gs://Bad_Bucket!/x";
  EXPECT_EQ(Validate(s).size(), 5u);
}

TEST(Config, DestinationFromTheSeedsBucketVariable) {
  RunSettings s;
  EXPECT_EQ(EffectiveDestination(s), "./eden-output");
  s.output.gcs_bucket = "seed-bucket";
  EXPECT_EQ(EffectiveDestination(s), "gs://seed-bucket");  // GCS_BUCKET_NAME alone: the seed's bucket.
  s.output.destination_given = true;                       // -o ./eden-output given explicitly: the folder wins.
  EXPECT_EQ(EffectiveDestination(s), "./eden-output");
  s.output.destination = "/data/out";
  EXPECT_EQ(EffectiveDestination(s), "/data/out");  // An explicit folder wins.
  s.output.destination = "gs://other/prefix";
  EXPECT_EQ(EffectiveDestination(s), "gs://other/prefix");
  EXPECT_TRUE(Validate(s).empty());
  s.output.upload_chunk_kib = 300;
  ASSERT_EQ(Validate(s).size(), 1u);
  EXPECT_NE(Validate(s)[0].find("multiple of 256"), std::string::npos);
}

TEST(Config, ShowRedactsSecrets) {
  RunSettings s;
  s.database.password = "hunter2";
  s.broker = "redis://:secret@host:6379/0";
  const std::string shown = Show(s);
  EXPECT_EQ(shown.find("hunter2"), std::string::npos);
  EXPECT_EQ(shown.find("secret"), std::string::npos);
  EXPECT_NE(shown.find("database.password = ********"), std::string::npos);
}

TEST(DotEnv, ParsesSeedStyleFilesWithoutOverridingTheEnvironment) {
  const auto path = std::filesystem::temp_directory_path() / ("eden-env-" + std::to_string(::getpid()));
  std::ofstream(path) << "# comment\n\nexport EDEN_T_A=plain\nEDEN_T_B=\"quoted value\"\nEDEN_T_C='single'\n"
                         "EDEN_T_D=kept # trailing comment\nEDEN_T_E=from-file\nbroken line\n";
  ::setenv("EDEN_T_E", "from-env", 1);
  const auto r = LoadDotEnv(path.string());
  EXPECT_EQ(std::string(std::getenv("EDEN_T_A")), "plain");
  EXPECT_EQ(std::string(std::getenv("EDEN_T_B")), "quoted value");
  EXPECT_EQ(std::string(std::getenv("EDEN_T_C")), "single");
  EXPECT_EQ(std::string(std::getenv("EDEN_T_D")), "kept");
  EXPECT_EQ(std::string(std::getenv("EDEN_T_E")), "from-env");  // The environment wins.
  EXPECT_EQ(r.set, 4);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find(":8:"), std::string::npos);
  EXPECT_EQ(LoadDotEnv("/nonexistent/.env").set, 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace eden::config

// The Celery protocol codec against messages captured from real Celery 5.2.6 and celery-node
// (tests/data/celery, copied from ../shared/celery/capture) and the bad messages of
// PROTOCOL.md §7.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "celery/protocol.h"

namespace eden::celery {
namespace {

/// The envelopes of a capture file: each line is `<queue> [<db>] <json>`.
std::vector<std::string> Envelopes(const std::string& name) {
  std::ifstream in(std::string(CELERY_CAPTURES) + "/" + name);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto brace = line.find('{');
    if (brace != std::string::npos) out.push_back(line.substr(brace));
  }
  return out;
}

TEST(CeleryProtocol, DecodesEveryCapturedPythonMessage) {
  const auto envelopes = Envelopes("01_client_send_queue_raw_exact.txt");
  ASSERT_FALSE(envelopes.empty());
  for (const auto& e : envelopes) {
    auto m = DecodeTaskMessage(e);
    ASSERT_TRUE(m.has_value()) << m.error().error.ToString() << "\n" << e.substr(0, 200);
    EXPECT_FALSE(m->id.empty());
    EXPECT_EQ(m->task.rfind("tasks.", 0), 0u);
    EXPECT_EQ(m->args_json.front(), '[');
    EXPECT_EQ(m->kwargs_json.front(), '{');
  }
  auto first = DecodeTaskMessage(envelopes.front());
  EXPECT_EQ(first->id, "284e468c-9be0-4319-a406-19e53031dcee");
  EXPECT_EQ(first->root_id, first->id);
  EXPECT_EQ(first->task, "tasks.add");
  EXPECT_EQ(first->args_json, "[\"\xC3\xA9\",\"\xC3\xBC\"]");  // ["é","ü"], \u escapes decoded to UTF-8.
  EXPECT_EQ(first->origin, "gen6893@vm");
  EXPECT_EQ(first->routing_key, "celery");
}

TEST(CeleryProtocol, DecodesACeleryNodeMessage) {
  const auto envelopes = Envelopes("11_celery_node_client_message_exact.txt");
  ASSERT_FALSE(envelopes.empty());
  auto m = DecodeTaskMessage(envelopes.front());
  ASSERT_TRUE(m.has_value()) << m.error().error.ToString();
  EXPECT_EQ(m->task, "tasks.add");
  EXPECT_EQ(m->args_json, "[5,6]");
  EXPECT_EQ(m->root_id, m->id);  // celery-node sends no root_id.
}

std::string Envelope(const std::string& body, const std::string& encoding = "base64",
                     const std::string& content_type = "application/json") {
  return R"({"body": ")" + body + R"(", "content-type": ")" + content_type +
         R"(", "headers": {"task": "tasks.convert_dicom_to_jpg", "id": "task-1", "retries": 2, "timelimit": [60, 50]},
             "properties": {)" +
         (encoding.empty() ? "" : R"("body_encoding": ")" + encoding + R"(", )") +
         R"("delivery_tag": "tag-1", "priority": 5, "delivery_info": {"exchange": "", "routing_key": "dicom"}}})";
}

TEST(CeleryProtocol, ReadsHeadersAndProperties) {
  auto m = DecodeTaskMessage(Envelope(Base64Encode(R"([["/in.dcm"], {"output_path": "/out.jpg"}, {}])")));
  ASSERT_TRUE(m.has_value()) << m.error().error.ToString();
  EXPECT_EQ(m->args_json, R"(["/in.dcm"])");
  EXPECT_EQ(m->kwargs_json, R"({"output_path":"/out.jpg"})");
  EXPECT_EQ(m->retries, 2);
  EXPECT_EQ(m->hard_time_limit_s, 60.0);
  EXPECT_EQ(m->soft_time_limit_s, 50.0);
  EXPECT_EQ(m->priority, 5);
  EXPECT_EQ(m->routing_key, "dicom");
  EXPECT_EQ(m->delivery_tag, "tag-1");
}

TEST(CeleryProtocol, PlainJsonBodyWithoutBodyEncodingIsAccepted) {  // PROTOCOL.md §7.7
  auto m = DecodeTaskMessage(Envelope(R"([[3, 4], {}, {}])", ""));
  ASSERT_TRUE(m.has_value()) << m.error().error.ToString();
  EXPECT_EQ(m->args_json, "[3,4]");
}

TEST(CeleryProtocol, HostileMessagesAreTypedFailuresWithTheIdWhenKnown) {
  // §7.5: not JSON at all: no id to answer.
  auto a = DecodeTaskMessage("this is not json");
  ASSERT_FALSE(a.has_value());
  EXPECT_FALSE(a.error().task_id.has_value());
  // §7.3: body not base64.
  auto b = DecodeTaskMessage(Envelope("%%%not-base64%%%"));
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().task_id, "task-1");
  // §7.2: base64 of invalid JSON.
  auto c = DecodeTaskMessage(Envelope(Base64Encode("{not json")));
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().task_id, "task-1");
  // §7.6: wrong body shape.
  auto d = DecodeTaskMessage(Envelope(Base64Encode(R"({"x": 1})")));
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().task_id, "task-1");
  // §7.4: pickle is refused.
  auto e = DecodeTaskMessage(Envelope(Base64Encode("x"), "base64", "application/x-python-serialize"));
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().error.message().find("refused"), std::string::npos);
  // Oversize.
  auto f = DecodeTaskMessage(std::string(100, ' '), 10);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().error.code(), ErrorCode::kTooLarge);
  // No headers: protocol v1 or garbage.
  EXPECT_FALSE(DecodeTaskMessage(R"({"body": "x"})").has_value());
}

TEST(CeleryProtocol, ResultDocumentKeysFollowCeleryOrder) {
  EXPECT_EQ(EncodeResult("SUCCESS", R"({"success": true})", std::nullopt, "id-1", "2026-11-24T21:55:56.683928"),
            R"({"status":"SUCCESS","result":{"success":true},"traceback":null,"children":[],)"
            R"("date_done":"2026-11-24T21:55:56.683928","task_id":"id-1"})");
  EXPECT_EQ(EncodeResult("STARTED", R"({"pid": 1, "hostname": "w@h"})", std::nullopt, "id-2", ""),
            R"({"status":"STARTED","result":{"pid":1,"hostname":"w@h"},"traceback":null,"children":[],)"
            R"("date_done":null,"task_id":"id-2"})");
  EXPECT_EQ(ExceptionJson("NotRegistered", "tasks.nope", std::string("celery.exceptions")),
            R"({"exc_type":"NotRegistered","exc_message":["tasks.nope"],"exc_module":"celery.exceptions"})");
  EXPECT_EQ(ExceptionJson("DicomDecodeError", "corrupt", std::nullopt),
            R"({"exc_type":"DicomDecodeError","exc_message":["corrupt"],"exc_module":null})");
}

TEST(CeleryProtocol, DateDoneHasSixFractionDigitsAndNoOffset) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::microseconds(1795557356683928LL));
  const std::string s = FormatDateDone(t);
  ASSERT_EQ(s.size(), 26u);
  EXPECT_EQ(s.substr(19), ".683928");
  EXPECT_EQ(s[10], 'T');
}

TEST(CeleryProtocol, PriorityBandsMapToKombuKeys) {
  EXPECT_EQ(PriorityQueueKey("celery", 0), "celery");
  EXPECT_EQ(PriorityQueueKey("celery", 2), "celery");
  EXPECT_EQ(PriorityQueueKey("celery", 5), std::string("celery\x06\x16") + "3");
  EXPECT_EQ(PriorityQueueKey("dicom", 9), std::string("dicom\x06\x16") + "9");
  EXPECT_EQ(PriorityQueueKey("celery", 42), std::string("celery\x06\x16") + "9");
}

TEST(CeleryProtocol, Base64RoundTripAndRejects) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("Zm9").has_value());
  EXPECT_FALSE(Base64Decode("Zm=v").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v!!!!").has_value());
}

}  // namespace
}  // namespace eden::celery

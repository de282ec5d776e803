// The Celery protocol codec against messages captured from real Celery 5.2.6 and celery-node
// (tests/data/celery, copied from the wire captures described in docs/celery-protocol.md) and the bad messages of
// docs/celery-protocol.md §7.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "celery/protocol.h"
#include "celery/redis.h"
#include "celery/worker.h"

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

TEST(CeleryProtocol, PlainJsonBodyWithoutBodyEncodingIsAccepted) {  // docs/celery-protocol.md §7.7
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

TEST(CeleryProtocol, OurTaskMessagesDecodeAsPythonsDo) {
  OutgoingTask t;
  t.id = RandomUuid();
  t.task = "eden.process_instance";
  t.args_json = R"([{"instance_id": "a"}, {"destination": "/out"}])";
  t.queue = "dicom";
  t.priority = 6;
  auto m = DecodeTaskMessage(EncodeTaskMessage(t));
  ASSERT_TRUE(m) << m.error().error.message();
  EXPECT_EQ(m->id, t.id);
  EXPECT_EQ(m->task, t.task);
  EXPECT_EQ(m->root_id, t.id);
  EXPECT_EQ(m->routing_key, "dicom");
  EXPECT_EQ(m->priority, 6);
  EXPECT_EQ(m->args_json, R"([{"instance_id":"a"},{"destination":"/out"}])");
  EXPECT_EQ(t.id.size(), 36u);
  EXPECT_EQ(t.id[14], '4');  // UUID version 4
  EXPECT_NE(RandomUuid(), RandomUuid());
}

TEST(CeleryProtocol, PythonReprMatchesCeleryArgsrepr) {
  // The captured envelope's argsrepr/kwargsrepr (docs/celery-protocol.md §2.2).
  EXPECT_EQ(PythonRepr(R"(["/data/in/1.dcm", "/data/out/1.jpg"])"), "['/data/in/1.dcm', '/data/out/1.jpg']");
  EXPECT_EQ(PythonRepr(R"({"quality": 85, "grayscale": true})"), "{'quality': 85, 'grayscale': True}");
  EXPECT_EQ(PythonRepr("[null, false, \"it's\"]"), "[None, False, \"it's\"]");
}

TEST(CeleryProtocol, IsoTimesWithOffsets) {
  EXPECT_DOUBLE_EQ(*ParseIsoTime("1970-01-01T00:00:10+00:00"), 10.0);
  EXPECT_DOUBLE_EQ(*ParseIsoTime("1970-01-01T01:00:10+01:00"), 10.0);
  EXPECT_NEAR(*ParseIsoTime("2026-11-24T21:55:36.792378+00:00"), 1795557336.792378, 1e-5);
  EXPECT_DOUBLE_EQ(*ParseIsoTime("1970-01-01T00:00:10Z"), 10.0);
  EXPECT_FALSE(ParseIsoTime("tomorrow"));
}

TEST(CeleryProtocol, PidboxRequestAndReplyAsCapturedFromCeleryInspect) {
  // docs/celery-protocol.md §6.2, exact.
  const std::string request =
      R"({"body": "eyJtZXRob2QiOiAicGluZyIsICJhcmd1bWVudHMiOiB7fSwgImRlc3RpbmF0aW9uIjogbnVsbCwgInBhdHRlcm4iOiBudWxsLCAibWF0Y2hlciI6IG51bGwsICJ0aWNrZXQiOiAiMDlmZTI3NWMtY2NhYi00MWUyLWIyMjgtNzk4ZTFlYTc0MGEwIiwgInJlcGx5X3RvIjogeyJleGNoYW5nZSI6ICJyZXBseS5jZWxlcnkucGlkYm94IiwgInJvdXRpbmdfa2V5IjogIjcxMWJjOTdjLTI5OWYtM2VkZS05NDZjLTIxMjY4NzdjNDlmYyJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"clock": 1, "expires": 1795557383.116245}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""}, "priority": 0, "body_encoding": "base64", "delivery_tag": "13e14bca-6546-4bdf-bd02-3a20cb308f79"}})";
  auto q = DecodePidboxRequest(request);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->method, "ping");
  EXPECT_EQ(q->ticket, "09fe275c-ccab-41e2-b228-798e1ea740a0");
  EXPECT_EQ(q->reply_routing_key, "711bc97c-299f-3ede-946c-2126877c49fc");
  EXPECT_TRUE(q->destination.empty());
  EXPECT_DOUBLE_EQ(*q->expires, 1795557383.116245);
  const std::string reply = EncodePidboxReply("celery@vm", R"({"ok": "pong"})", q->ticket, q->reply_routing_key, 3);
  // The captured reply's body, byte for byte once decoded: {"celery@vm": {"ok": "pong"}}.
  const auto body_at = reply.find("\"body\":\"") + 8;
  const std::string body = *Base64Decode(reply.substr(body_at, reply.find('"', body_at) - body_at));
  EXPECT_EQ(body, R"({"celery@vm":{"ok":"pong"}})");
  EXPECT_NE(reply.find(R"("ticket":"09fe275c-ccab-41e2-b228-798e1ea740a0")"), std::string::npos);
  EXPECT_FALSE(DecodePidboxRequest("{}"));
}

TEST(CeleryProtocol, UnackedEntriesAndRestoredMessages) {
  const auto envelopes = Envelopes("01_client_send_queue_raw_exact.txt");
  ASSERT_FALSE(envelopes.empty());
  const std::string entry = UnackedEntry(envelopes[0], "", "celery");
  auto parts = ParseUnackedEntry(entry);
  ASSERT_TRUE(parts);
  EXPECT_EQ((*parts)[1], "");
  EXPECT_EQ((*parts)[2], "celery");
  const std::string restored = MarkRedelivered((*parts)[0]);
  EXPECT_NE(restored.find(R"("redelivered":true)"), std::string::npos);
  auto m = DecodeTaskMessage(restored);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, DecodeTaskMessage(envelopes[0])->id);
  EXPECT_FALSE(ParseUnackedEntry("[1, 2]"));
}

TEST(CeleryProtocol, OversizeMessagesStillNameTheirTask) {
  const std::string big = R"({"body": ")" + std::string(2000, 'A') +
                          R"(", "headers": {"lang": "py", "task": "t", "id": "5f3c0000-1111-2222-3333-444455556666"}})";
  auto m = DecodeTaskMessage(big, 1000);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().error.code(), ErrorCode::kTooLarge);
  EXPECT_EQ(m.error().task_id.value_or(""), "5f3c0000-1111-2222-3333-444455556666");
}

TEST(CeleryProtocol, RetryMessagesAsCeleryResendsThem) {
  const auto envelopes = Envelopes("01_client_send_queue_raw_exact.txt");
  ASSERT_FALSE(envelopes.empty());
  auto original = DecodeTaskMessage(envelopes[0]);
  ASSERT_TRUE(original);
  auto retry = DecodeTaskMessage(RetryMessage(envelopes[0], "2026-11-24T21:55:57.732058+00:00"));
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->id, original->id);
  EXPECT_EQ(retry->retries, original->retries + 1);
  EXPECT_EQ(retry->eta.value_or(""), "2026-11-24T21:55:57.732058+00:00");
  EXPECT_EQ(retry->parent_id.value_or(""), original->id);
  EXPECT_NE(retry->delivery_tag, original->delivery_tag);
  EXPECT_EQ(retry->args_json, original->args_json);
}

TEST(CeleryRedis, UrlsAsTheSeedWritesThem) {
  auto u = ParseRedisUrl("redis://:s3cret@cache.internal:6380/2");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "cache.internal");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2);
  EXPECT_EQ(u->password, "s3cret");
  auto d = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  EXPECT_FALSE(ParseRedisUrl("http://x"));
  EXPECT_FALSE(ParseRedisUrl("redis://h:port/0"));
}

// `eden status --broker` asks as `celery inspect ping` does: the request Python Celery's workers
// decode, and the reply a Python worker sent (captured, docs/celery-protocol.md §6).
TEST(CeleryProtocol, PidboxRequestDecodesAndACapturedPythonReplyIsRead) {
  const std::string request = EncodePidboxRequest("ping", "ticket-1", "reply-key", 1795557383.5, 1);
  auto q = DecodePidboxRequest(request);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->method, "ping");
  EXPECT_EQ(q->ticket, "ticket-1");
  EXPECT_EQ(q->reply_routing_key, "reply-key");
  EXPECT_TRUE(q->destination.empty());
  ASSERT_TRUE(q->expires);
  EXPECT_DOUBLE_EQ(*q->expires, 1795557383.5);

  const std::string captured =
      R"({"body": "eyJjZWxlcnlAdm0iOiB7Im9rIjogInBvbmcifX0=", "content-encoding": "utf-8", "content-type": )"
      R"("application/json", "headers": {"ticket": "09fe275c-ccab-41e2-b228-798e1ea740a0", "clock": 3}, )"
      R"("properties": {"delivery_mode": 1, "delivery_info": {"exchange": "reply.celery.pidbox", "routing_key": )"
      R"("711bc97c-299f-3ede-946c-2126877c49fc"}, "priority": 0, "body_encoding": "base64", "delivery_tag": )"
      R"("708fcfec-c334-400c-b187-c913591af9d0"}})";
  auto reply = DecodePidboxReply(captured);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->node, "celery@vm");
  EXPECT_EQ(reply->result_json, R"({"ok":"pong"})");
  EXPECT_EQ(reply->ticket, "09fe275c-ccab-41e2-b228-798e1ea740a0");
  // Our own worker's reply reads back the same way.
  auto ours = DecodePidboxReply(EncodePidboxReply("eden@h", R"({"ok": "pong"})", "t", "k", 2));
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->node, "eden@h");
  EXPECT_EQ(ours->ticket, "t");
  EXPECT_FALSE(DecodePidboxReply("not json"));
  EXPECT_FALSE(DecodePidboxReply(R"({"body": "e30=", "properties": {"body_encoding": "base64"}})"));  // {}
}

}  // namespace
}  // namespace eden::celery

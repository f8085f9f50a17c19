package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.internal.ServingInput;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * What a request record may weigh: its answer carries the request's headers and its id (twice)
 * back, re-encoded, so both count before anything is decoded or answered.
 */
class ServingInputDeserializerTest {
  private static final AvroCodec<RetrievalRequest> REQUESTS = AvroCodec.of(RetrievalRequest.class);
  private final ServingInputDeserializer in = new ServingInputDeserializer("requests", "events", 65_536);

  private static ConsumerRecord<byte[], byte[]> request(String id) {
    byte[] value = REQUESTS.encode(RetrievalRequest.newBuilder().setRequestId(id).setUserId(7).setK(10)
        .setCreatedAtMillis(1).build());
    return new ConsumerRecord<>("requests", 0, 5, "7".getBytes(StandardCharsets.UTF_8), value);
  }

  @Test
  void aRequestIsDecodedWithItsHeaders() {
    ConsumerRecord<byte[], byte[]> r = request("r-1");
    r.headers().add("trace", new byte[100]);
    ServingInput s = in.decode(r);
    assertNull(s.getDeadLetter());
    assertEquals("r-1", s.getRequest().getRequestId());
    assertEquals(100, s.getHeaders().get("trace").remaining());
  }

  @Test
  void headersCountTowardTheLimitAsTheyAreWrittenBack() {
    ConsumerRecord<byte[], byte[]> big = request("r-2");
    big.headers().add("trace", new byte[70_000]);
    ServingInput s = in.decode(big);
    assertNull(s.getRequest());
    assertTrue(s.getDeadLetter().getReason().contains("(key, value and headers) exceeds the limit of 65536 bytes"),
        s.getDeadLetter().getReason());
    // a header key of 22,000 characters that each take 3 bytes in UTF-8 is 66,000 bytes written back
    ConsumerRecord<byte[], byte[]> wideKey = request("r-3");
    wideKey.headers().add("\u20ac".repeat(22_000), new byte[0]);
    assertNotNull(in.decode(wideKey).getDeadLetter());
  }

  @Test
  void aLongRequestIdIsDeadLetteredNotAnswered() {
    ServingInput s = in.decode(request("x".repeat(2_000)));
    assertNull(s.getRequest());
    assertEquals("cannot decode: request id of 2000 bytes is longer than 1024 (a UUID takes 36)",
        s.getDeadLetter().getReason());
  }

  @Test
  void thousandsOfTinyHeadersAreDeadLetteredThoughTheRecordIsSmall() {
    ConsumerRecord<byte[], byte[]> many = request("r-4");
    for (int i = 0; i < 5_000; i++) {
      many.headers().add(Integer.toString(i, 36), null);   // ~20 KB of record, ~750 KB of maps held per request
    }
    ServingInput s = in.decode(many);
    assertNull(s.getRequest());
    assertTrue(s.getDeadLetter().getReason().contains("record has 5000 headers; at most 64"), s.getDeadLetter().getReason());
    ConsumerRecord<byte[], byte[]> traced = request("r-5");
    for (int i = 0; i < RecordLimit.MAX_HEADERS; i++) {
      traced.headers().add("h" + i, new byte[8]);
    }
    assertNull(in.decode(traced).getDeadLetter(), "64 headers pass");
  }
}

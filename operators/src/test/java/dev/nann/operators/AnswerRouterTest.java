package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nann.engine.RequestProtocol;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.internal.ServingOutput;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AnswerRouterTest {
  private static final long SENT_US = 1_764_900_000_123_456L;   // a client's stamp: 0.456 ms into its millisecond

  private static ServingOutput answer(Map<String, ByteBuffer> headers) {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r1").setUserId(7).setK(3).setCreatedAtMillis(1).build();
    RetrievalResponse r = RequestProtocol.error(req, ResponseStatus.OK, "");
    Map<String, Long> stamps = new HashMap<>(Map.of("decoded", SENT_US + 800, "stateIn", SENT_US + 900,
        "stateOut", SENT_US + 950, "engineEnd", SENT_US + 5_950));
    return new ServingOutput(r, false, headers, SENT_US / 1000, stamps, -1, "", 0);
  }

  @Test
  void theClientsStampTimesTheKafkaHopToTheMicrosecond() {
    ServingOutput out = answer(Map.of(SentAtHeader.NAME, ByteBuffer.wrap(SentAtHeader.encode(SENT_US))));
    long sent = AnswerRouter.sentMicros(out);
    assertEquals(SENT_US, sent);
    AnswerRouter.breakdown(out, sent, SENT_US + 6_000);
    Map<String, Float> t = out.getResponse().getTimings();
    assertEquals(0.8f, t.get("kafka_in"), 1e-4f);
    assertEquals(0.1f, t.get("keyby"), 1e-4f);
    assertEquals(0.05f, t.get("state"), 1e-4f);
    assertEquals(0.05f, t.get("to_router"), 1e-4f);
  }

  @Test
  void withoutAStampTheRecordsMillisecondTimestampIsTheStart() {
    // the record's timestamp is the stamp's millisecond: the hop reads 0.456 ms longer than it was
    ServingOutput out = answer(Map.of());
    long sent = AnswerRouter.sentMicros(out);
    assertEquals(SENT_US / 1000 * 1000, sent);
    AnswerRouter.breakdown(out, sent, SENT_US + 6_000);
    assertEquals(1.256f, out.getResponse().getTimings().get("kafka_in"), 1e-4f);
  }

  @Test
  void aRecordTimestampNoClockWouldGiveIsNotBelievedEither() {
    for (long bogus : new long[] {1L, SENT_US / 1000 + 3_600_000, Long.MAX_VALUE / 999}) {   // 1970, an hour ahead, overflow
      ServingOutput out = answer(Map.of(SentAtHeader.NAME, ByteBuffer.wrap(SentAtHeader.encode(bogus * 1000))));
      out.setReceivedAtMillis(bogus);
      assertEquals(SENT_US + 800, AnswerRouter.sentMicros(out), "timed from when the job read it, at " + bogus);
    }
  }

  @Test
  void aStampFarFromTheRecordTimestampIsNotBelieved() {
    ServingOutput out = answer(Map.of(SentAtHeader.NAME, ByteBuffer.wrap(SentAtHeader.encode(SENT_US - 60_000_000))));
    assertEquals(SENT_US / 1000 * 1000, AnswerRouter.sentMicros(out));
  }
}

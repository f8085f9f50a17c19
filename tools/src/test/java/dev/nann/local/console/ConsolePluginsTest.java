package dev.nann.local.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/** The console producer's JSON reader and the console consumer's formatter round-trip nann records. */
class ConsolePluginsTest {
  @Test
  void jsonLinesBecomeSingleObjectAvroRequestsKeyedByUser() throws Exception {
    JsonRequestReader reader = new JsonRequestReader();
    reader.configure(Map.of("topic", "t-requests"));
    String lines = "{\"requestId\": \"r1\", \"userId\": 196, \"k\": 5, \"excludeItems\": [1, 2], "
        + "\"attributeFilter\": {\"genre\": [\"drama\", \"comedy\"]}}\n\n{\"userId\": 7}\n";
    Iterator<ProducerRecord<byte[], byte[]>> it = reader.readRecords(new ByteArrayInputStream(lines.getBytes(StandardCharsets.UTF_8)));
    ProducerRecord<byte[], byte[]> first = it.next();
    assertEquals("t-requests", first.topic());
    assertEquals("196", new String(first.key(), StandardCharsets.UTF_8));
    RetrievalRequest r = AvroCodec.of(RetrievalRequest.class).decode(first.value());
    assertEquals("r1", r.getRequestId());
    assertEquals(5, r.getK());
    assertEquals(List.of(1L, 2L), r.getExcludeItems());
    assertEquals(Map.of("genre", List.of("drama", "comedy")), r.getAttributeFilter());
    RetrievalRequest second = AvroCodec.of(RetrievalRequest.class).decode(it.next().value());
    assertEquals(200, second.getK(), "defaults: k 200, mode nann, a generated id");
    assertEquals("nann", second.getMode());
    assertTrue(!second.getRequestId().isEmpty());
    assertTrue(!it.hasNext());
    assertThrows(IllegalArgumentException.class, () -> reader.toRecord("{\"k\": 5}"));
  }

  /** Typed by hand, a request goes out when its line ends, not once the next line is typed. */
  @Test
  void aTypedLineIsSentWithoutWaitingForTheNext() throws Exception {
    java.io.PipedOutputStream typed = new java.io.PipedOutputStream();
    java.io.PipedInputStream in = new java.io.PipedInputStream(typed);
    typed.write("{\"userId\": 196}\n".getBytes(StandardCharsets.UTF_8));
    typed.flush();
    JsonRequestReader reader = new JsonRequestReader();
    reader.configure(Map.of());
    Iterator<ProducerRecord<byte[], byte[]>> it = reader.readRecords(in);
    ProducerRecord<byte[], byte[]> first = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
        java.time.Duration.ofSeconds(10), () -> {
          assertTrue(it.hasNext());
          return it.next();
        }, "the first line waited for a second one");
    assertEquals("196", new String(first.key(), StandardCharsets.UTF_8));
    typed.close();
    org.junit.jupiter.api.Assertions.assertFalse(it.hasNext());
  }

  @Test
  void formatterPrintsAnyNannRecordAsJson() {
    RetrievalResponse resp = RetrievalResponse.newBuilder().setRequestId("r1").setUserId(196).setStatus(ResponseStatus.OK)
        .setItems(List.of(50L)).setScores(List.of(1.5f)).build();
    byte[] value = AvroCodec.of(RetrievalResponse.class).encode(resp);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    AvroJsonFormatter f = new AvroJsonFormatter();
    f.writeTo(new ConsumerRecord<>("responses", 0, 0, "r1".getBytes(StandardCharsets.UTF_8), value),
        new PrintStream(out, true, StandardCharsets.UTF_8));
    f.writeTo(new ConsumerRecord<>("responses", 0, 1, null, new byte[] {9, 9}), new PrintStream(out, true, StandardCharsets.UTF_8));
    String printed = out.toString(StandardCharsets.UTF_8);
    assertTrue(printed.startsWith("r1\t{\"requestId\": \"r1\""), printed);
    assertTrue(printed.contains("\"status\": \"OK\""), printed);
    assertTrue(printed.contains("(2 bytes, not a nann record)"), printed);
  }
}

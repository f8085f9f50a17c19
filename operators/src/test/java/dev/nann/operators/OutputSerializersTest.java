package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.SchemaHistory;
import dev.nann.schemas.internal.ServingOutput;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/** The responses sink's records: key, headers and value, in the current or a pinned earlier schema version. */
class OutputSerializersTest {
  private static ServingOutput answer() {
    RetrievalResponse r = RetrievalResponse.newBuilder().setRequestId("r-9").setUserId(3).setStatus(ResponseStatus.OK)
        .setItems(List.of(4L, 5L, 6L)).setScores(List.of(3f, 2f, 1f)).setItemsScored(700).setScoreCalls(9)
        .setTimings(Map.of("walk", 0.3f)).build();
    return new ServingOutput(r, false, Map.of("trace", ByteBuffer.wrap(new byte[] {1, 2})), 1L, Map.of(), -1, "", 0);
  }

  @Test
  void responsesPinnedToAnEarlierVersionAreReadByAClientThatKnowsOnlyIt() throws Exception {
    Schema v1 = SchemaHistory.versions("RetrievalResponse").get(0);
    ProducerRecord<byte[], byte[]> rec = OutputSerializers.responses("responses", 1).serialize(answer(), null, 5L);
    assertEquals("r-9", new String(rec.key(), StandardCharsets.UTF_8));
    assertArrayEquals(new byte[] {1, 2}, rec.headers().lastHeader("trace").value(), "the request's headers are copied");
    GenericRecord read = new BinaryMessageDecoder<GenericRecord>(GenericData.get(), v1).decode(rec.value());
    assertEquals(List.of(4L, 5L, 6L), read.get("items"));
    assertEquals(700, read.get("itemsScored"));

    // unpinned: the current version, which a version-1 reader does not know
    byte[] current = OutputSerializers.responses("responses").serialize(answer(), null, 5L).value();
    assertThrows(org.apache.avro.message.MissingSchemaException.class,
        () -> new BinaryMessageDecoder<GenericRecord>(GenericData.get(), v1).decode(current));
  }
}

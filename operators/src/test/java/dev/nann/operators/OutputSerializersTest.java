package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.SchemaHistory;
import dev.nann.schemas.codec.ReplyPartitionHeader;
import dev.nann.schemas.internal.ServingOutput;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * The responses sink's records: key, headers and value, in the current or a pinned earlier schema
 * version, on the partition a request names.
 */
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

  /** Pushes carry the trigger's event count; pinned to version 1 they are read by a consumer that knows only it. */
  @Test
  void feedPushesCarryTheEventCountAndCanBePinnedToAnEarlierVersion() throws Exception {
    RetrievalResponse r = RetrievalResponse.newBuilder().setRequestId(FeedRequestIds.of(3, 77, 12)).setUserId(3)
        .setStatus(ResponseStatus.OK).setItems(List.of(4L, 5L)).setScores(List.of(2f, 1f)).setIndexVersion(2)
        .setModelVersion("m").build();
    ServingOutput push = new ServingOutput(r, true, Map.of(), 9L, Map.of(), -1, "", 0);
    byte[] current = OutputSerializers.feed("candidates").serialize(push, null, 5L).value();
    dev.nann.schemas.CandidateFeed read = dev.nann.schemas.codec.AvroCodec.of(dev.nann.schemas.CandidateFeed.class)
        .decode(current);
    assertEquals(12, read.getEventSeq());
    assertEquals(List.of(4L, 5L), read.getItems());

    Schema v1 = SchemaHistory.versions("CandidateFeed").get(0);
    byte[] pinned = OutputSerializers.feed("candidates", 1).serialize(push, null, 5L).value();
    GenericRecord old = new BinaryMessageDecoder<GenericRecord>(GenericData.get(), v1).decode(pinned);
    assertEquals(List.of(4L, 5L), old.get("items"));
    assertThrows(org.apache.avro.message.MissingSchemaException.class,
        () -> new BinaryMessageDecoder<GenericRecord>(GenericData.get(), v1).decode(current));
  }

  @Test
  void anAnswerGoesToThePartitionItsRequestNamesWhenTheTopicHasIt() {
    var sink = OutputSerializers.responses("responses");
    int[] asked = {0};
    KafkaRecordSerializationSchema.KafkaSinkContext twoPartitions = new KafkaRecordSerializationSchema.KafkaSinkContext() {
      @Override
      public int getParallelInstanceId() {
        return 0;
      }

      @Override
      public int getNumberOfParallelInstances() {
        return 1;
      }

      @Override
      public int[] getPartitionsForTopic(String topic) {
        asked[0]++;
        assertEquals("responses", topic);
        return new int[] {0, 1};
      }
    };
    assertEquals(null, sink.serialize(answer(), twoPartitions, 5L).partition(), "no header: the key's partition");
    assertEquals(0, asked[0], "the topic's partitions are looked up only for a record that asks for one");
    assertEquals(1, sink.serialize(withReplyTo("1"), twoPartitions, 5L).partition());
    assertEquals(0, sink.serialize(withReplyTo("0"), twoPartitions, 5L).partition());
    for (String bad : new String[] {"2", "-1", "1x", "", "9999999999", " 1"}) {
      assertEquals(null, sink.serialize(withReplyTo(bad), twoPartitions, 5L).partition(), "'" + bad + "' names none");
    }
    assertArrayEquals("1".getBytes(StandardCharsets.US_ASCII),
        sink.serialize(withReplyTo("1"), twoPartitions, 5L).headers().lastHeader(ReplyPartitionHeader.NAME).value(),
        "the header goes back with the answer, as every request header does");
  }

  private static ServingOutput withReplyTo(String partition) {
    ServingOutput out = answer();
    Map<String, ByteBuffer> headers = new java.util.HashMap<>(out.getHeaders());
    headers.put(ReplyPartitionHeader.NAME, ByteBuffer.wrap(partition.getBytes(StandardCharsets.US_ASCII)));
    out.setHeaders(headers);
    return out;
  }
}

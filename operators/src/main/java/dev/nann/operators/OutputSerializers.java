package dev.nann.operators;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.CandidateFeed;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ServingOutput;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Kafka record serializers of nann's output topics (single-object Avro values, UTF-8 string keys). */
public final class OutputSerializers {
  private OutputSerializers() {}

  /** Responses: key = request id, value = {@link RetrievalResponse}, the request's headers copied. */
  public static KafkaRecordSerializationSchema<ServingOutput> responses(String topic) {
    return responses(topic, 0);
  }

  /**
   * Responses written in version {@code schemaVersion} of {@link RetrievalResponse} (0: the current
   * one; see {@link AvroCodec#of(Class, int)}), for clients not yet upgraded.
   */
  public static KafkaRecordSerializationSchema<ServingOutput> responses(String topic, int schemaVersion) {
    return new AvroRecords<>(topic, RetrievalResponse.class, schemaVersion, ServingOutput::getResponse,
        out -> out.getResponse().getRequestId(), ServingOutput::getHeaders);
  }

  /** Candidate feed: key = user id, value = {@link CandidateFeed}. */
  public static KafkaRecordSerializationSchema<ServingOutput> feed(String topic) {
    return new AvroRecords<>(topic, CandidateFeed.class, 0, OutputSerializers::toFeed,
        out -> Long.toString(out.getResponse().getUserId()), null);
  }

  /** Dead letters: key = "topic/partition/offset" of the failed record, value = {@link DeadLetter}. */
  public static KafkaRecordSerializationSchema<DeadLetter> deadLetters(String topic) {
    return new AvroRecords<>(topic, DeadLetter.class, 0, d -> d,
        d -> d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset(), null);
  }

  /** Index descriptors: key "index" (the topic is compacted: the newest descriptor is the state). */
  public static KafkaRecordSerializationSchema<IndexDescriptor> indexDescriptors(String topic) {
    return new AvroRecords<>(topic, IndexDescriptor.class, 0, d -> d, d -> "index", null);
  }

  private static CandidateFeed toFeed(ServingOutput out) {
    RetrievalResponse r = out.getResponse();
    return new CandidateFeed(r.getUserId(), r.getItems(), r.getScores(), r.getIndexVersion(), r.getModelVersion(),
        out.getReceivedAtMillis());
  }

  /** A function Flink can ship with the sink. */
  private interface Fn<A, B> extends Function<A, B>, Serializable {
  }

  /**
   * One element to one record: the value an Avro record derived from the element, the key a
   * string, and optionally headers copied from the element.
   */
  private static final class AvroRecords<T, V extends SpecificRecord> implements KafkaRecordSerializationSchema<T> {
    private final String topic;
    private final Class<V> type;
    private final int schemaVersion;
    private final Fn<T, V> value;
    private final Fn<T, String> key;
    private final Fn<T, Map<String, ByteBuffer>> headers;
    private transient AvroCodec<V> codec;

    AvroRecords(String topic, Class<V> type, int schemaVersion, Fn<T, V> value, Fn<T, String> key,
                Fn<T, Map<String, ByteBuffer>> headers) {
      this.topic = topic;
      this.type = type;
      this.schemaVersion = schemaVersion;
      this.value = value;
      this.key = key;
      this.headers = headers;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(T element, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(type, schemaVersion);
      }
      ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, null, timestamp,
          key.apply(element).getBytes(StandardCharsets.UTF_8), codec.encode(value.apply(element)));
      if (headers != null) {
        for (Map.Entry<String, ByteBuffer> h : headers.apply(element).entrySet()) {
          ByteBuffer b = h.getValue().duplicate();
          byte[] v = new byte[b.remaining()];
          b.get(v);
          record.headers().add(h.getKey(), v);
        }
      }
      return record;
    }
  }
}

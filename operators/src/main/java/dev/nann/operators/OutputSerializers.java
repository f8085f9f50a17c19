package dev.nann.operators;

import dev.nann.schemas.CandidateFeed;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ServingOutput;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Kafka record serializers of the serving job's three output topics (single-object Avro values). */
public final class OutputSerializers {
  private OutputSerializers() {}

  /** Responses: key = request id, value = {@link RetrievalResponse}, the request's headers copied. */
  public static KafkaRecordSerializationSchema<ServingOutput> responses(String topic) {
    return new Responses(topic);
  }

  /** Candidate feed: key = user id, value = {@link CandidateFeed}. */
  public static KafkaRecordSerializationSchema<ServingOutput> feed(String topic) {
    return new Feed(topic);
  }

  /** Dead letters: key = "topic/partition/offset" of the failed record, value = {@link DeadLetter}. */
  public static KafkaRecordSerializationSchema<DeadLetter> deadLetters(String topic) {
    return new DeadLetters(topic);
  }

  /** Index descriptors: key "index" (the topic is compacted: the newest descriptor is the state). */
  public static KafkaRecordSerializationSchema<dev.nann.schemas.IndexDescriptor> indexDescriptors(String topic) {
    return new IndexDescriptors(topic);
  }

  private static void copyHeaders(Map<String, ByteBuffer> headers, ProducerRecord<byte[], byte[]> record) {
    for (Map.Entry<String, ByteBuffer> h : headers.entrySet()) {
      ByteBuffer b = h.getValue().duplicate();
      byte[] v = new byte[b.remaining()];
      b.get(v);
      record.headers().add(h.getKey(), v);
    }
  }

  private static final class Responses implements KafkaRecordSerializationSchema<ServingOutput> {
    private final String topic;
    private transient AvroCodec<RetrievalResponse> codec;

    Responses(String topic) {
      this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(ServingOutput out, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(RetrievalResponse.class);
      }
      RetrievalResponse r = out.getResponse();
      ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, null, timestamp,
          r.getRequestId().getBytes(StandardCharsets.UTF_8), codec.encode(r));
      copyHeaders(out.getHeaders(), record);
      return record;
    }
  }

  private static final class Feed implements KafkaRecordSerializationSchema<ServingOutput> {
    private final String topic;
    private transient AvroCodec<CandidateFeed> codec;

    Feed(String topic) {
      this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(ServingOutput out, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(CandidateFeed.class);
      }
      RetrievalResponse r = out.getResponse();
      CandidateFeed f = new CandidateFeed(r.getUserId(), r.getItems(), r.getScores(), r.getIndexVersion(),
          r.getModelVersion(), 0L);
      f.setTriggeredAtMillis(out.getReceivedAtMillis());
      return new ProducerRecord<>(topic, null, timestamp,
          Long.toString(r.getUserId()).getBytes(StandardCharsets.UTF_8), codec.encode(f));
    }
  }

  private static final class DeadLetters implements KafkaRecordSerializationSchema<DeadLetter> {
    private final String topic;
    private transient AvroCodec<DeadLetter> codec;

    DeadLetters(String topic) {
      this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(DeadLetter d, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(DeadLetter.class);
      }
      String key = d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset();
      return new ProducerRecord<>(topic, null, timestamp, key.getBytes(StandardCharsets.UTF_8), codec.encode(d));
    }
  }

  private static final class IndexDescriptors implements KafkaRecordSerializationSchema<dev.nann.schemas.IndexDescriptor> {
    private final String topic;
    private transient AvroCodec<dev.nann.schemas.IndexDescriptor> codec;

    IndexDescriptors(String topic) {
      this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(dev.nann.schemas.IndexDescriptor d, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(dev.nann.schemas.IndexDescriptor.class);
      }
      return new ProducerRecord<>(topic, null, timestamp, "index".getBytes(StandardCharsets.UTF_8), codec.encode(d));
    }
  }
}

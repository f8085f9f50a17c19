package dev.nann.operators;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.ReplyPartitionHeader;
import dev.nann.schemas.CandidateFeed;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ServingOutput;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Kafka record serializers of nann's output topics (single-object Avro values, UTF-8 string keys). */
public final class OutputSerializers {
  private static final Logger LOG = LoggerFactory.getLogger(OutputSerializers.class);

  private OutputSerializers() {}

  /**
   * Responses: key = request id, value = {@link RetrievalResponse}, the request's headers copied; on
   * the partition the request's {@link ReplyPartitionHeader} names when the topic has it, else on the
   * key's.
   */
  public static KafkaRecordSerializationSchema<ServingOutput> responses(String topic) {
    return responses(topic, 0);
  }

  /**
   * Responses written in version {@code schemaVersion} of {@link RetrievalResponse} (0: the current
   * one; see {@link AvroCodec#of(Class, int)}), for clients not yet upgraded.
   */
  public static KafkaRecordSerializationSchema<ServingOutput> responses(String topic, int schemaVersion) {
    return new AvroRecords<>(topic, RetrievalResponse.class, schemaVersion, ServingOutput::getResponse,
        out -> out.getResponse().getRequestId(), ServingOutput::getHeaders,
        out -> ReplyPartitionHeader.partition(out.getHeaders().get(ReplyPartitionHeader.NAME)));
  }

  /** Candidate feed: key = user id, value = {@link CandidateFeed}. */
  public static KafkaRecordSerializationSchema<ServingOutput> feed(String topic) {
    return feed(topic, 0);
  }

  /**
   * The candidate feed written in version {@code schemaVersion} of {@link CandidateFeed} (0: the
   * current one), for consumers not yet upgraded.
   */
  public static KafkaRecordSerializationSchema<ServingOutput> feed(String topic, int schemaVersion) {
    return new AvroRecords<>(topic, CandidateFeed.class, schemaVersion, OutputSerializers::toFeed,
        out -> Long.toString(out.getResponse().getUserId()), null, null);
  }

  /** Dead letters: key = "topic/partition/offset" of the failed record, value = {@link DeadLetter}. */
  public static KafkaRecordSerializationSchema<DeadLetter> deadLetters(String topic) {
    return new AvroRecords<>(topic, DeadLetter.class, 0, d -> d,
        d -> d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset(), null, null);
  }

  /** Index descriptors: key "index" (the topic is compacted: the newest descriptor is the state). */
  public static KafkaRecordSerializationSchema<IndexDescriptor> indexDescriptors(String topic) {
    return new AvroRecords<>(topic, IndexDescriptor.class, 0, d -> d, d -> "index", null, null);
  }

  private static CandidateFeed toFeed(ServingOutput out) {
    RetrievalResponse r = out.getResponse();
    return new CandidateFeed(r.getUserId(), r.getItems(), r.getScores(), r.getIndexVersion(), r.getModelVersion(),
        out.getReceivedAtMillis(), FeedRequestIds.eventCount(r.getRequestId()));
  }

  /** A function Flink can ship with the sink. */
  private interface Fn<A, B> extends Function<A, B>, Serializable {
  }

  /**
   * One element to one record: the value an Avro record derived from the element, the key a
   * string, optionally headers copied from the element and a partition the element asks for (-1:
   * none; one the topic lacks is not taken, as the producer would block on it for up to a minute).
   */
  private static final class AvroRecords<T, V extends SpecificRecord> implements KafkaRecordSerializationSchema<T> {
    private final String topic;
    private final Class<V> type;
    private final int schemaVersion;
    private final Fn<T, V> value;
    private final Fn<T, String> key;
    private final Fn<T, Map<String, ByteBuffer>> headers;
    private final Fn<T, Integer> partition;
    private transient AvroCodec<V> codec;
    private transient long partitionsMissing;

    AvroRecords(String topic, Class<V> type, int schemaVersion, Fn<T, V> value, Fn<T, String> key,
                Fn<T, Map<String, ByteBuffer>> headers, Fn<T, Integer> partition) {
      this.topic = topic;
      this.type = type;
      this.schemaVersion = schemaVersion;
      this.value = value;
      this.key = key;
      this.headers = headers;
      this.partition = partition;
    }

    @Override
    public void open(SerializationSchema.InitializationContext context, KafkaSinkContext sinkContext) {
      if (partition == null) {
        return;
      }
      try {
        // the sink looks the topic's partitions up once (a metadata call of a producer made for it):
        // at start, not on the task thread in front of the first answer that names a partition
        sinkContext.getPartitionsForTopic(topic);
      } catch (RuntimeException e) {
        LOG.warn("could not list the partitions of {} at start ({}); looked up again at the first answer that names one",
            topic, e.toString());
      }
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(T element, KafkaSinkContext ctx, Long timestamp) {
      if (codec == null) {
        codec = AvroCodec.of(type, schemaVersion);
      }
      ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, partition(element, ctx), timestamp,
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

    /** The partition the element asks for, when the topic has it (its partitions as the sink first saw them). */
    private Integer partition(T element, KafkaSinkContext ctx) {
      int p = partition == null ? -1 : partition.apply(element);
      if (p < 0) {
        return null;
      }
      int[] partitions = ctx.getPartitionsForTopic(topic);
      if (Arrays.binarySearch(partitions, p) >= 0) {   // sorted, as the sink lists them
        return p;
      }
      if (partitionsMissing++ % 1000 == 0) {
        LOG.warn("{} record(s) asked for a partition {} lacks (the latest: {}; it has {}, as this job first saw it: "
            + "partitions added since are used after a restart); written to the partition of their key",
            partitionsMissing, topic, p, partitions.length);
      }
      return null;
    }
  }
}

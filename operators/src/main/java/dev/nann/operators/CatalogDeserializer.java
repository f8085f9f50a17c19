package dev.nann.operators;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.internal.CatalogInput;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Decodes item-embeddings records for the index-sync job. Never throws: a record too large, an
 * undecodable one, or an upsert whose embedding has the wrong dimension, a non-finite value or one
 * beyond the magnitude bound, becomes a dead letter.
 */
public final class CatalogDeserializer implements KafkaRecordDeserializationSchema<CatalogInput> {
  /**
   * Default bound on an embedding value's magnitude. Item towers make values of order 1 to 100; at
   * 1e19 the score networks of every architecture the trainer makes return NaN (their sums of
   * products overflow), and well below that an item's scores dwarf every other item's (an inner
   * product grows with the norm). 1e6 leaves four orders of magnitude to any item tower.
   */
  public static final double DEFAULT_MAX_ABS_VALUE = 1e6;

  private final int dim;
  private final int maxRecordBytes;
  private final float maxAbsValue;
  private transient AvroCodec<ItemEmbedding> codec;

  /**
   * @param dim the dimension every upserted embedding must have
   * @param maxRecordBytes larger records (key, value and headers) are dead-lettered before decoding:
   *     the catalog keeps every item in state
   * @param maxAbsValue an upsert with an embedding value of larger magnitude is dead-lettered
   */
  public CatalogDeserializer(int dim, int maxRecordBytes, float maxAbsValue) {
    this.dim = dim;
    this.maxRecordBytes = maxRecordBytes;
    this.maxAbsValue = maxAbsValue;
  }

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<CatalogInput> out) {
    if (codec == null) {
      codec = AvroCodec.of(ItemEmbedding.class);
    }
    CatalogInput in = new CatalogInput();
    try {
      RecordLimit.check(record, maxRecordBytes, "catalog.max-record-bytes");
      ItemEmbedding item = codec.decode(record.value());
      validate(item, dim, maxAbsValue);
      in.setItem(item);
    } catch (Throwable e) {   // a record can make decoding fail in any way; only this record is lost
      in.setItem(null);
      in.setDeadLetter(DeadLetters.of(record, DeadLetters.describe(e)));
    }
    out.collect(in);
  }

  /** Attribute keys an item may carry: attributes are for filters (a category, a brand, a year), not payloads. */
  public static final int MAX_ATTRIBUTE_KEYS = 64;
  /** UTF-8 bytes of an item's attribute keys and values together. */
  public static final int MAX_ATTRIBUTE_BYTES = 4096;

  /**
   * Refuses an upsert whose embedding has another dimension, a non-finite value or one beyond
   * {@code maxAbsValue}, or whose attributes pass {@link #MAX_ATTRIBUTE_KEYS} or
   * {@link #MAX_ATTRIBUTE_BYTES}: every snapshot copies every item's attributes, and a catalogue of
   * record-sized attributes would fail each build (and each build after a restart) for lack of memory.
   */
  static void validate(ItemEmbedding item, int dim, float maxAbsValue) {
    if (item.getDeleted()) {
      return;
    }
    java.util.Map<String, String> attributes = item.getAttributes();
    if (attributes != null && !attributes.isEmpty()) {
      if (attributes.size() > MAX_ATTRIBUTE_KEYS) {
        throw new IllegalArgumentException("item " + item.getItemId() + " has " + attributes.size()
            + " attributes; at most " + MAX_ATTRIBUTE_KEYS + " (attributes are for filters)");
      }
      long bytes = 0;
      for (java.util.Map.Entry<String, String> a : attributes.entrySet()) {
        bytes += utf8Length(a.getKey()) + utf8Length(a.getValue());
      }
      if (bytes > MAX_ATTRIBUTE_BYTES) {
        throw new IllegalArgumentException("item " + item.getItemId() + " has " + bytes + " bytes of attributes; at most "
            + MAX_ATTRIBUTE_BYTES + " (attributes are for filters: keep payloads elsewhere)");
      }
    }
    if (item.getEmbedding().size() != dim) {
      throw new IllegalArgumentException("item " + item.getItemId() + " has an embedding of "
          + item.getEmbedding().size() + " floats, the index takes dim " + dim);
    }
    for (int i = 0; i < item.getEmbedding().size(); i++) {
      Float v = item.getEmbedding().get(i);
      if (v == null || !Float.isFinite(v)) {
        throw new IllegalArgumentException("item " + item.getItemId() + " has a non-finite embedding value");
      }
      if (Math.abs(v) > maxAbsValue) {
        throw new IllegalArgumentException("item " + item.getItemId() + " has an embedding value of magnitude "
            + Math.abs(v) + " (at " + i + "), above catalog.max-abs-value " + maxAbsValue
            + ": a score network overflows on it or ranks it above every other item");
      }
    }
  }

  private static int utf8Length(String s) {
    return s == null ? 0 : s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
  }

  @Override
  public TypeInformation<CatalogInput> getProducedType() {
    return new AvroTypeInfo<>(CatalogInput.class);
  }
}

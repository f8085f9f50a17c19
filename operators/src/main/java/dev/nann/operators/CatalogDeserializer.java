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
 * undecodable one, or an upsert whose embedding has the wrong dimension or a non-finite value, becomes
 * a dead letter.
 */
public final class CatalogDeserializer implements KafkaRecordDeserializationSchema<CatalogInput> {
  private final int dim;
  private final int maxRecordBytes;
  private transient AvroCodec<ItemEmbedding> codec;

  /**
   * @param dim the dimension every upserted embedding must have
   * @param maxRecordBytes larger records (key, value and headers) are dead-lettered before decoding:
   *     the catalog keeps every item in state
   */
  public CatalogDeserializer(int dim, int maxRecordBytes) {
    this.dim = dim;
    this.maxRecordBytes = maxRecordBytes;
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
      validate(item, dim);
      in.setItem(item);
    } catch (Throwable e) {   // a record can make decoding fail in any way; only this record is lost
      in.setItem(null);
      in.setDeadLetter(DeadLetters.of(record, DeadLetters.describe(e)));
    }
    out.collect(in);
  }

  /** Refuses an upsert whose embedding has another dimension or a non-finite value. */
  static void validate(ItemEmbedding item, int dim) {
    if (item.getDeleted()) {
      return;
    }
    if (item.getEmbedding().size() != dim) {
      throw new IllegalArgumentException("item " + item.getItemId() + " has an embedding of "
          + item.getEmbedding().size() + " floats, the index takes dim " + dim);
    }
    for (Float v : item.getEmbedding()) {
      if (v == null || !Float.isFinite(v)) {
        throw new IllegalArgumentException("item " + item.getItemId() + " has a non-finite embedding value");
      }
    }
  }

  @Override
  public TypeInformation<CatalogInput> getProducedType() {
    return new AvroTypeInfo<>(CatalogInput.class);
  }
}

package dev.nann.operators;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.internal.DescriptorUpdate;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Decodes index-updates and model-updates descriptors and item-embeddings changes for the serving
 * job's broadcast side. Never throws: an undecodable or inconsistent record becomes a dead letter,
 * and the serving job keeps its current versions.
 */
public final class DescriptorDeserializer implements KafkaRecordDeserializationSchema<DescriptorUpdate> {
  private final String indexTopic;
  private final String modelTopic;
  private final String itemTopic;
  private final int dim;
  private final int maxRecordBytes;
  private final float maxAbsValue;
  private transient AvroCodec<IndexDescriptor> indexes;
  private transient AvroCodec<ModelDescriptor> models;
  private transient AvroCodec<dev.nann.schemas.ItemEmbedding> items;
  /** When the last catalog change was read here (never moving back with the clock). */
  private transient long lastChangeMillis;

  /**
   * @param itemTopic item-embeddings, whose changes feed the fresh set
   * @param dim the dimension every upserted embedding must have (the model's)
   * @param maxRecordBytes larger item-embeddings records (key, value and headers) are dead-lettered
   *     before decoding: every subtask keeps the fresh set's changes in its broadcast state (an index
   *     descriptor of many shards may be larger, and is kept only while current)
   * @param maxAbsValue an upsert with an embedding value of larger magnitude is dead-lettered
   */
  public DescriptorDeserializer(String indexTopic, String modelTopic, String itemTopic, int dim, int maxRecordBytes,
                                float maxAbsValue) {
    this.indexTopic = indexTopic;
    this.modelTopic = modelTopic;
    this.itemTopic = itemTopic;
    this.dim = dim;
    this.maxRecordBytes = maxRecordBytes;
    this.maxAbsValue = maxAbsValue;
  }

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<DescriptorUpdate> out) {
    if (indexes == null) {
      indexes = AvroCodec.of(IndexDescriptor.class);
      models = AvroCodec.of(ModelDescriptor.class);
      items = AvroCodec.of(dev.nann.schemas.ItemEmbedding.class);
    }
    DescriptorUpdate u = new DescriptorUpdate();
    try {
      if (record.topic().equals(indexTopic)) {
        IndexDescriptor d = indexes.decode(record.value());
        String wrong = wrong(d);
        if (wrong != null) {
          throw new IllegalArgumentException("index descriptor version " + d.getVersion() + " refused: " + wrong);
        }
        u.setIndex(d);
      } else if (record.topic().equals(modelTopic)) {
        ModelDescriptor d = models.decode(record.value());
        if (d.getVersion().isBlank() || d.getUri().isBlank()) {
          throw new IllegalArgumentException("model descriptor refused: it needs a version and a uri (version "
              + (d.getVersion().isBlank() ? "empty" : "of " + d.getVersion().length() + " characters") + ", uri "
              + (d.getUri().isBlank() ? "empty" : "of " + d.getUri().length() + " characters") + ")");
        }
        u.setModel(d);
      } else if (record.topic().equals(itemTopic)) {
        RecordLimit.check(record, maxRecordBytes, "serving.max-record-bytes");
        dev.nann.schemas.ItemEmbedding item = items.decode(record.value());
        CatalogDeserializer.validate(item, dim, maxAbsValue);
        // an item's changes are ordered by when they reached serving, as index-sync orders them by arrival:
        // a producer's clock (a year ahead, or seconds taken for milliseconds) must not pin an upsert
        // against the delete after it, nor put a delete behind the upsert before it
        lastChangeMillis = Math.max(lastChangeMillis, System.currentTimeMillis());
        item.setUpdatedAtMillis(lastChangeMillis);
        u.setItem(item);
      } else {
        throw new IllegalArgumentException("record from unexpected topic " + record.topic());
      }
    } catch (Throwable e) {   // a record can make decoding fail in any way; only this record is lost
      u.setIndex(null);
      u.setModel(null);
      u.setItem(null);
      u.setDeadLetter(DeadLetters.of(record, DeadLetters.describe(e)));
    }
    out.collect(u);
  }

  /**
   * What is wrong with an index descriptor's fields, or null: names the field and its size, never
   * quotes the record (a hostile one could be as large as Kafka allows).
   */
  static String wrong(IndexDescriptor d) {
    if (d.getVersion() < 0) {
      return "version must be >= 0";
    }
    if (d.getUri().isBlank()) {
      return "the uri is empty";
    }
    if (!d.getSha256().matches("[0-9a-fA-F]{64}")) {
      return "sha256 must be 64 hex digits (it has " + d.getSha256().length() + " characters)";
    }
    if (d.getDim() < 1) {
      return "dim must be >= 1, got " + d.getDim();
    }
    return null;
  }

  @Override
  public TypeInformation<DescriptorUpdate> getProducedType() {
    return new AvroTypeInfo<>(DescriptorUpdate.class);
  }
}

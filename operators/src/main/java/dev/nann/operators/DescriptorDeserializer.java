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
  private transient AvroCodec<IndexDescriptor> indexes;
  private transient AvroCodec<ModelDescriptor> models;
  private transient AvroCodec<dev.nann.schemas.ItemEmbedding> items;

  /**
   * @param itemTopic item-embeddings, whose changes feed the fresh set
   * @param dim the dimension every upserted embedding must have (the model's)
   */
  public DescriptorDeserializer(String indexTopic, String modelTopic, String itemTopic, int dim) {
    this.indexTopic = indexTopic;
    this.modelTopic = modelTopic;
    this.itemTopic = itemTopic;
    this.dim = dim;
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
        if (d.getVersion() < 0 || d.getUri().isBlank() || d.getSha256().length() != 64 || d.getDim() < 1) {
          throw new IllegalArgumentException("index descriptor needs version >= 0, a uri, a 64-hex sha256 and dim >= 1: " + d);
        }
        u.setIndex(d);
      } else if (record.topic().equals(modelTopic)) {
        ModelDescriptor d = models.decode(record.value());
        if (d.getVersion().isBlank() || d.getUri().isBlank()) {
          throw new IllegalArgumentException("model descriptor needs a version and a uri: " + d);
        }
        u.setModel(d);
      } else if (record.topic().equals(itemTopic)) {
        dev.nann.schemas.ItemEmbedding item = items.decode(record.value());
        CatalogDeserializer.validate(item, dim);
        if (item.getUpdatedAtMillis() <= 0) {
          item.setUpdatedAtMillis(record.timestamp() > 0 ? record.timestamp() : System.currentTimeMillis());
        }
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

  @Override
  public TypeInformation<DescriptorUpdate> getProducedType() {
    return new AvroTypeInfo<>(DescriptorUpdate.class);
  }
}

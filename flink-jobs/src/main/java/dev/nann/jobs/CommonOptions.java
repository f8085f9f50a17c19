package dev.nann.jobs;

import static org.apache.flink.configuration.ConfigOptions.key;

import java.util.Map;
import org.apache.flink.configuration.ConfigOption;

/** Settings both jobs read with the same meaning and default: the Kafka cluster, shared topics, the index's shards. */
public final class CommonOptions {
  private CommonOptions() {}

  public static final ConfigOption<String> BOOTSTRAP_SERVERS = key("kafka.bootstrap-servers").stringType()
      .noDefaultValue().withDescription("Kafka bootstrap servers (host:port,...).");
  public static final ConfigOption<Integer> TRANSACTION_TIMEOUT_MS = key("kafka.transaction-timeout-ms").intType()
      .defaultValue(600_000).withDescription("Timeout of the sinks' Kafka transactions; must stay below the broker's "
          + "transaction.max.timeout.ms.");
  /**
   * Kafka client properties, one key each: {@code kafka.properties.<name>=value}. Declared once as
   * a map option (Flink's prefix-map style); {@link JobSettings} accepts the prefixed keys and
   * refuses those nann controls ({@link KafkaClientProperties}).
   */
  public static final ConfigOption<Map<String, String>> KAFKA_PROPERTIES = key("kafka.properties").mapType()
      .noDefaultValue().withDescription("A Kafka client property, handed with the prefix removed to every Kafka client "
          + "the job creates (sources, sinks and their admin clients): security.protocol, sasl.mechanism, "
          + "sasl.jaas.config, ssl.truststore.location, ... (see operations.md, Secured Kafka). Refused, as nann sets "
          + "them itself: " + String.join(", ", KafkaClientProperties.CONTROLLED.keySet()) + ". Values of keys "
          + "containing password, jaas, secret or key are printed as ****.");
  public static final ConfigOption<Integer> SHARDS = key("index.shards").intType().defaultValue(1)
      .withDescription("Shards of the index, in [1, 1024]: index-sync builds one snapshot per shard (item i in "
          + "ShardAssignment.shardOf(i, shards)) and publishes a version once all shards have one, as a manifest; "
          + "serving chooses its topology from it. Both jobs must agree; changing it needs a fresh index-sync start "
          + "(no restore from older state). 1: one unsharded snapshot.");
  public static final ConfigOption<Double> MAX_ABS_VALUE = key("catalog.max-abs-value").doubleType()
      .defaultValue(dev.nann.operators.CatalogDeserializer.DEFAULT_MAX_ABS_VALUE).withDescription("Largest magnitude "
          + "a value of an item's embedding may have; an upsert with a larger one is dead-lettered. A score network "
          + "overflows on such an item (a NaN fails every request that scores it, and serving scores a fresh item for "
          + "every request) or ranks it above every other item. Far above what an item tower makes; both jobs must "
          + "agree. A positive float.");
  public static final ConfigOption<String> TOPIC_ITEM_EMBEDDINGS = key("topics.item-embeddings").stringType()
      .defaultValue("item-embeddings").withDescription("Catalog changes (compacted): item upserts and deletes.");
  public static final ConfigOption<String> TOPIC_INDEX_UPDATES = key("topics.index-updates").stringType()
      .defaultValue("index-updates").withDescription("Index descriptors (compacted): each published snapshot.");
  public static final ConfigOption<String> TOPIC_DEAD_LETTER = key("topics.dead-letter").stringType()
      .defaultValue("dead-letter").withDescription("Records that could not be used, each with the reason.");
}

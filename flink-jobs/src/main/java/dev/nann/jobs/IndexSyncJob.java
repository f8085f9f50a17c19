package dev.nann.jobs;

import static dev.nann.jobs.IndexSyncOptions.*;

import dev.nann.indexsync.IndexSyncFunction;
import dev.nann.operators.CatalogDeserializer;
import dev.nann.operators.DeadLetterSplit;
import dev.nann.operators.OutputSerializers;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.internal.CatalogInput;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index-sync job: item-embeddings (compacted; upserts and deletes) → catalog in RocksDB keyed
 * state → HNSW snapshot rebuilt after enough changes or a maximum interval → written, read back
 * and verified → its descriptor on index-updates. Undecodable or wrong-dimension records go to the
 * dead-letter topic. Descriptors are sent at-least-once: a repeated descriptor is harmless, as the
 * serving job only moves to newer versions.
 */
public final class IndexSyncJob {
  private static final Logger LOG = LoggerFactory.getLogger(IndexSyncJob.class);

  private IndexSyncJob() {}

  /** RocksDB with incremental checkpoints in {@code checkpoint.dir}. */
  public static Configuration flinkConfiguration(IndexSyncConfig cfg) {
    return FlinkConfigs.rocksDbCheckpointed(cfg.get(CHECKPOINT_DIR), cfg.get(CHECKPOINT_INTERVAL_MS), 1);
  }

  public static void build(StreamExecutionEnvironment env, IndexSyncConfig cfg) {
    Map<String, String> kafkaProperties = cfg.kafkaProperties();
    KafkaSource<CatalogInput> source = KafkaSource.<CatalogInput>builder()
        .setProperties(KafkaClientProperties.toProperties(kafkaProperties))   // nann's own settings below win
        .setBootstrapServers(cfg.get(BOOTSTRAP_SERVERS))
        .setTopics(cfg.get(TOPIC_ITEM_EMBEDDINGS))
        .setGroupId(cfg.get(GROUP_ID))
        .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
        .setProperty("client.id.prefix", cfg.get(GROUP_ID))
        .setDeserializer(new CatalogDeserializer(cfg.get(DIM)))
        .build();
    SingleOutputStreamOperator<CatalogInput> items = env
        .fromSource(source, WatermarkStrategy.noWatermarks(), "item-embeddings").uid("index-sync-source-items")
        .process(DeadLetterSplit.catalog()).uid("index-sync-split-items").name("dead-letter split (items)");
    SingleOutputStreamOperator<IndexDescriptor> descriptors = items
        .keyBy(in -> 0, Types.INT)   // one catalog: the whole index is built in one place
        .process(new IndexSyncFunction(cfg.get(SNAPSHOT_DIR), cfg.get(DIM), cfg.get(M),
                cfg.get(EF_CONSTRUCTION), cfg.get(BUILD_THREADS), cfg.get(MIN_CHANGES),
                cfg.get(MAX_INTERVAL_MS), cfg.get(KEEP), cfg.get(INCREMENTAL),
                cfg.get(MAX_TOMBSTONE_FRACTION))
                .withDeepRetrieval(cfg.get(DR_DIR))
                .withMoveInPlace(cfg.get(MOVE_IN_PLACE_FRACTION)),
            new AvroTypeInfo<>(IndexDescriptor.class))
        .uid("index-sync-catalog").name("catalog + rebuild");
    String bootstrap = cfg.get(BOOTSTRAP_SERVERS);
    descriptors.sinkTo(KafkaSinks.of(bootstrap, kafkaProperties, false, cfg.get(TRANSACTIONAL_ID_PREFIX) + "-index-updates",
            cfg.get(TRANSACTION_TIMEOUT_MS), OutputSerializers.indexDescriptors(cfg.get(TOPIC_INDEX_UPDATES))))
        .uid("index-sync-sink-index-updates").name("index-updates");
    items.getSideOutput(DeadLetterSplit.DEAD)
        .sinkTo(KafkaSinks.of(bootstrap, kafkaProperties, false, cfg.get(TRANSACTIONAL_ID_PREFIX) + "-dead-letter",
            cfg.get(TRANSACTION_TIMEOUT_MS), OutputSerializers.deadLetters(cfg.get(TOPIC_DEAD_LETTER))))
        .uid("index-sync-sink-dead-letter").name("dead letters (index-sync)");
  }

  /** Runs the job in the current execution environment; blocks until it ends. */
  public static void run(IndexSyncConfig cfg) throws Exception {
    LOG.info("nann-index-sync settings (secrets masked): {}", cfg);
    KafkaPreflight.check(cfg.get(BOOTSTRAP_SERVERS), cfg.kafkaProperties(), java.time.Duration.ofSeconds(30));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(flinkConfiguration(cfg));
    build(env, cfg);
    env.execute("nann-index-sync");
  }

  /** Entry point for {@code flink run -c dev.nann.jobs.IndexSyncJob nann-job.jar --config index-sync.properties}. */
  public static void main(String[] args) throws Exception {
    if (args.length != 2 || !args[0].equals("--config")) {
      System.err.println("usage: IndexSyncJob --config index-sync.properties");
      System.exit(2);
    }
    run(IndexSyncConfig.load(java.nio.file.Path.of(args[1])));
  }
}

package dev.nann.jobs;

import static dev.nann.jobs.IndexSyncOptions.*;

import dev.nann.indexsync.IndexSyncFunction;
import dev.nann.indexsync.ManifestAssembler;
import dev.nann.operators.CatalogDeserializer;
import dev.nann.operators.DeadLetterSplit;
import dev.nann.operators.OutputSerializers;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.internal.CatalogInput;
import dev.nann.shard.ShardAssignment;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index-sync job: item-embeddings (compacted; upserts and deletes) → catalog in RocksDB keyed
 * state → HNSW snapshot rebuilt after enough changes or a maximum interval → written, read back
 * and verified → its descriptor on index-updates. Undecodable or wrong-dimension records go to the
 * dead-letter topic. Descriptors are sent at-least-once: a repeated descriptor is harmless, as the
 * serving job only moves to newer versions. With {@code index.shards} S &gt; 1 the catalog is built
 * as S shards and each descriptor is a manifest naming all S shard snapshots of one version
 * ({@link #descriptors}).
 */
public final class IndexSyncJob {
  private static final Logger LOG = LoggerFactory.getLogger(IndexSyncJob.class);

  private IndexSyncJob() {}

  /** RocksDB with incremental checkpoints in {@code checkpoint.dir}, waiting up to {@code checkpoint.timeout-ms}. */
  public static Configuration flinkConfiguration(IndexSyncConfig cfg) {
    Configuration c = FlinkConfigs.rocksDbCheckpointed(cfg.get(CHECKPOINT_DIR), cfg.get(CHECKPOINT_INTERVAL_MS),
        cfg.get(PARALLELISM));
    // a build holds the operator thread, and every checkpoint waits for it (see checkpoint.timeout-ms)
    c.setString("execution.checkpointing.timeout", cfg.get(CHECKPOINT_TIMEOUT_MS) + " ms");
    return c;
  }

  public static void build(StreamExecutionEnvironment env, IndexSyncConfig cfg) {
    Map<String, String> kafkaProperties = cfg.kafkaProperties();
    KafkaSource<CatalogInput> source = KafkaSource.<CatalogInput>builder()
        .setProperties(KafkaClientProperties.toProperties(kafkaProperties))   // nann's own settings below win
        .setBootstrapServers(cfg.get(BOOTSTRAP_SERVERS))
        .setTopics(cfg.get(TOPIC_ITEM_EMBEDDINGS))
        .setGroupId(cfg.get(GROUP_ID))
        // the catalogue is the whole compacted topic: a start without state (a lost checkpoint, a fresh
        // deployment) reads it all again, never from the group's committed offsets, which would build an
        // index of the changes since then alone (a restore resumes from the checkpoint's own offsets)
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setProperty("isolation.level", "read_committed")   // an upstream writer's aborted upserts are no items
        .setProperty("client.id.prefix", cfg.get(GROUP_ID))
        .setDeserializer(new CatalogDeserializer(cfg.get(DIM), cfg.get(MAX_RECORD_BYTES), cfg.get(MAX_ABS_VALUE).floatValue()))
        .build();
    SingleOutputStreamOperator<CatalogInput> items = env
        .fromSource(source, WatermarkStrategy.noWatermarks(), "item-embeddings").uid("index-sync-source-items")
        .process(DeadLetterSplit.catalog()).uid("index-sync-split-items").name("dead-letter split (items)");
    DataStream<IndexDescriptor> descriptors = descriptors(items, cfg);
    String bootstrap = cfg.get(BOOTSTRAP_SERVERS);
    descriptors.sinkTo(KafkaSinks.of(bootstrap, kafkaProperties, false, cfg.get(TRANSACTIONAL_ID_PREFIX) + "-index-updates",
            cfg.get(TRANSACTION_TIMEOUT_MS), OutputSerializers.indexDescriptors(cfg.get(TOPIC_INDEX_UPDATES))))
        .uid("index-sync-sink-index-updates").name("index-updates");
    items.getSideOutput(DeadLetterSplit.DEAD)
        .sinkTo(KafkaSinks.of(bootstrap, kafkaProperties, false, cfg.get(TRANSACTIONAL_ID_PREFIX) + "-dead-letter",
            cfg.get(TRANSACTION_TIMEOUT_MS), OutputSerializers.deadLetters(cfg.get(TOPIC_DEAD_LETTER))))
        .uid("index-sync-sink-dead-letter").name("dead letters (index-sync)");
  }

  /**
   * Catalog changes to the descriptors for index-updates. With {@code index.shards} = 1: one key
   * (the whole catalog is built in one place), a descriptor per snapshot. With S &gt; 1: keyed by
   * {@link ShardAssignment#shardOf}, each shard built and published by its own key of
   * {@link IndexSyncFunction} (parallelism: the job's, at most S), then the {@link ManifestAssembler}
   * (parallelism 1) emits a manifest descriptor each time a shard publishes, once all S have. Each
   * shard also gets one start signal, so a shard that receives no item within {@code
   * rebuild.max-interval-ms} publishes an empty snapshot rather than holding back every manifest.
   */
  public static DataStream<IndexDescriptor> descriptors(DataStream<CatalogInput> items, IndexSyncConfig cfg) {
    int shards = cfg.get(SHARDS);
    IndexSyncFunction rebuild = new IndexSyncFunction(cfg.get(SNAPSHOT_DIR), cfg.get(DIM), cfg.get(M),
            cfg.get(EF_CONSTRUCTION), cfg.get(BUILD_THREADS), cfg.get(MIN_CHANGES),
            cfg.get(MAX_INTERVAL_MS), cfg.get(KEEP), cfg.get(INCREMENTAL),
            cfg.get(MAX_TOMBSTONE_FRACTION))
        .withDeepRetrieval(cfg.get(DR_DIR))
        .withMoveInPlace(cfg.get(MOVE_IN_PLACE_FRACTION));
    if (shards == 1) {
      return items
          .keyBy(in -> 0, Types.INT)   // one catalog: the whole index is built in one place
          .process(rebuild, new AvroTypeInfo<>(IndexDescriptor.class))
          .uid("index-sync-catalog").name("catalog + rebuild");
    }
    // state of another shard count must not be restored into these operators: their uids name S
    java.util.List<CatalogInput> touches = new java.util.ArrayList<>();
    for (int shard = 0; shard < shards; shard++) {
      touches.add(CatalogInput.newBuilder().setTouchShard(shard).build());
    }
    DataStream<CatalogInput> starts = items.getExecutionEnvironment()
        .fromData(touches, new AvroTypeInfo<>(CatalogInput.class)).uid("index-sync-shard-starts-" + shards)
        .name("shard start signals (" + shards + ")");
    // keyed by keys that spread the shards evenly over the instances (the shard numbers themselves
    // land where their hashes send them: two shards on one of two instances); the uid changed with them
    int[] keys = new int[shards];
    dev.nann.indexsync.ShardKeys shardKeys = dev.nann.indexsync.ShardKeys.of(shards);
    for (int s = 0; s < shards; s++) {
      keys[s] = shardKeys.key(s);
    }
    SingleOutputStreamOperator<IndexDescriptor> perShard = items.union(starts)
        .keyBy(in -> keys[in.getTouchShard() != null ? in.getTouchShard()
            : ShardAssignment.shardOf(in.getItem().getItemId(), shards)], Types.INT)
        .process(rebuild.withShards(shards), new AvroTypeInfo<>(IndexDescriptor.class))
        .uid("index-sync-shard-catalog-" + shards).name("catalog + rebuild (" + shards + " shards)");
    perShard.setMaxParallelism(dev.nann.indexsync.ShardKeys.MAX_PARALLELISM);
    int parallelism = items.getExecutionEnvironment().getParallelism();
    if (parallelism > 0) {
      perShard.setParallelism(Math.min(parallelism, shards));
    }
    LOG.info("index-sync builds {} shards on {} parallel instances; a version is published once all shards have one",
        shards, parallelism > 0 ? Math.min(parallelism, shards) : "the default number of");
    return perShard
        .keyBy(d -> 0, Types.INT)   // one manifest over all shards
        .process(new ManifestAssembler(cfg.get(SNAPSHOT_DIR), shards, cfg.get(KEEP)),
            new AvroTypeInfo<>(IndexDescriptor.class))
        .setParallelism(1).setMaxParallelism(1)
        .uid("index-sync-manifest-" + shards + "-shards").name("manifest (" + shards + " shards)");
  }

  /** Runs the job in the current execution environment; blocks until it ends. */
  public static void run(IndexSyncConfig cfg) throws Exception {
    LOG.info("nann-index-sync settings (secrets masked): {}", cfg);
    KafkaPreflight.check(cfg.get(BOOTSTRAP_SERVERS), cfg.kafkaProperties(), java.time.Duration.ofSeconds(30),
        new KafkaPreflight.Needs(cfg.topics(), cfg.compactedTopics(), cfg.outputTopics(), 0));   // its sinks are at-least-once
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

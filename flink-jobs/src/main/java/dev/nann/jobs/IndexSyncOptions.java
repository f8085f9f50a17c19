package dev.nann.jobs;

import static org.apache.flink.configuration.ConfigOptions.key;

import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;

/**
 * Every setting of the index-sync job, declared once: key, type, default and description. The
 * configuration reference (docs/configuration.md) is generated from these declarations.
 */
public final class IndexSyncOptions {
  private IndexSyncOptions() {}

  public static final ConfigOption<String> BOOTSTRAP_SERVERS = CommonOptions.BOOTSTRAP_SERVERS;
  public static final ConfigOption<String> GROUP_ID = key("kafka.group-id").stringType().defaultValue("nann-index-sync")
      .withDescription("Consumer group of the catalog source. Its committed offsets are for monitoring: a start "
          + "without state reads the whole item-embeddings topic, a restore resumes from the checkpoint's offsets.");
  public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX = key("kafka.transactional-id-prefix").stringType()
      .defaultValue("nann-index-sync").withDescription("Prefix of the sinks' transactional ids. Not used while "
          + "index-sync's sinks write at-least-once (a repeated descriptor names a version already known); accepted "
          + "so that settings shared with serving load.");
  public static final ConfigOption<Integer> TRANSACTION_TIMEOUT_MS = key("kafka.transaction-timeout-ms").intType()
      .defaultValue(CommonOptions.TRANSACTION_TIMEOUT_MS.defaultValue()).withDescription("Not used while index-sync's "
          + "sinks write at-least-once; accepted so that settings shared with serving load.");
  public static final ConfigOption<Double> MAX_ABS_VALUE = CommonOptions.MAX_ABS_VALUE;
  public static final ConfigOption<Map<String, String>> KAFKA_PROPERTIES = CommonOptions.KAFKA_PROPERTIES;
  public static final ConfigOption<String> TOPIC_ITEM_EMBEDDINGS = CommonOptions.TOPIC_ITEM_EMBEDDINGS;
  public static final ConfigOption<String> TOPIC_INDEX_UPDATES = CommonOptions.TOPIC_INDEX_UPDATES;
  public static final ConfigOption<String> TOPIC_DEAD_LETTER = CommonOptions.TOPIC_DEAD_LETTER;

  public static final ConfigOption<String> SNAPSHOT_DIR = key("snapshot.dir").stringType().noDefaultValue()
      .withDescription("Where snapshots are written (shared with the serving TaskManagers).");
  public static final ConfigOption<Integer> DIM = key("index.dim").intType().noDefaultValue()
      .withDescription("Embedding dimension every upsert must have.");
  public static final ConfigOption<Integer> SHARDS = CommonOptions.SHARDS;
  public static final ConfigOption<Integer> PARALLELISM = key("parallelism").intType().defaultValue(1)
      .withDescription("Index-sync instances. With index.shards > 1 up to S of them build shards side by side (each "
          + "holds its shards' catalogues and graphs); 1: one instance builds every shard in turn. An unsharded index "
          + "is always built in one place. In [1, 32768].");
  public static final ConfigOption<Integer> M = key("index.m").intType().defaultValue(32)
      .withDescription("HNSW M: neighbours per node (2M at layer 0).");
  public static final ConfigOption<Integer> EF_CONSTRUCTION = key("index.ef-construction").intType().defaultValue(40)
      .withDescription("HNSW efConstruction; the paper's 40. At 1M items 200 builds a much better graph for about 4-5x "
          + "the build time (see benchmarks.md).");
  public static final ConfigOption<Integer> BUILD_THREADS = key("index.build-threads").intType().defaultValue(1)
      .withDescription("Threads of a full build (rebuild.incremental=false); the growable graph inserts on one thread.");
  public static final ConfigOption<Integer> MIN_CHANGES = key("rebuild.min-changes").intType().defaultValue(1000)
      .withDescription("Catalog changes that trigger a rebuild.");
  public static final ConfigOption<Integer> MAX_INTERVAL_MS = key("rebuild.max-interval-ms").intType().defaultValue(60_000)
      .withDescription("Longest pending changes wait for a rebuild.");
  public static final ConfigOption<Integer> MAX_RECORD_BYTES = key("catalog.max-record-bytes").intType()
      .defaultValue(65_536).withDescription("Larger item-embeddings records (key, value and headers) are dead-lettered "
          + "unread; the catalog keeps every item in state. In [1024, 1048576]; serving's serving.max-record-bytes "
          + "should be at least this. Records with more than 64 headers are dead-lettered whatever their size.");
  public static final ConfigOption<Integer> KEEP = key("snapshots.keep").intType().defaultValue(3)
      .withDescription("Snapshot versions kept in the store. Sharded: manifests, plus one for each of the S shards "
          + "(each shard's publish makes a manifest, and serving may still use the version before a burst of them), "
          + "with every shard file a kept manifest names.");
  public static final ConfigOption<String> DR_DIR = key("dr.dir").stringType().noDefaultValue()
      .withDescription("A Deep Retrieval structure (the trainer's train-dr output): every snapshot then carries the "
          + "item-to-paths table; new items get their nearest trained item's paths.");
  public static final ConfigOption<Boolean> INCREMENTAL = key("rebuild.incremental").booleanType().defaultValue(true)
      .withDescription("Insert into the live graph between full rebuilds.");
  public static final ConfigOption<Double> MAX_TOMBSTONE_FRACTION = key("rebuild.max-tombstone-fraction").doubleType()
      .defaultValue(0.2).withDescription("Share of deleted nodes (after a batch of changes) above which the build is a "
          + "full one; in [0, 1).");
  public static final ConfigOption<Double> MOVE_IN_PLACE_FRACTION = key("rebuild.move-in-place-fraction").doubleType()
      .defaultValue(0.5).withDescription("An update moving an item less than this times its nearest-neighbour distance "
          + "keeps its node (0: every update tombstones and re-inserts); in [0, 1).");
  public static final ConfigOption<Integer> CHECKPOINT_INTERVAL_MS = key("checkpoint.interval-ms").intType()
      .defaultValue(10_000).withDescription("Checkpoint interval (RocksDB, incremental), in [10, 3600000].");
  public static final ConfigOption<String> CHECKPOINT_DIR = key("checkpoint.dir").stringType()
      .defaultValue("file:///tmp/nann/index-sync-checkpoints").withDescription("Where checkpoints are written.");
  public static final ConfigOption<Long> CHECKPOINT_TIMEOUT_MS = key("checkpoint.timeout-ms").longType()
      .defaultValue(2L * 3600 * 1000)
      .withDescription("Longest a checkpoint may take; one that takes longer fails the job, which then starts again "
          + "from its last checkpoint with a full build. A build runs on the operator thread and a checkpoint waits for "
          + "it, so keep this above the longest full build (Flink's own default, 10 minutes, is shorter than a full "
          + "build of 1M items of dim 64 at index.ef-construction 200 on two cores: such a job never published). "
          + "In [10000, 86400000].");

  /** Settings that have no default and must be given. */
  static final List<ConfigOption<?>> REQUIRED = List.of(BOOTSTRAP_SERVERS, SNAPSHOT_DIR, DIM);
}

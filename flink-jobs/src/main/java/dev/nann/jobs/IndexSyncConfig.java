package dev.nann.jobs;

import static dev.nann.jobs.IndexSyncOptions.*;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;

/** The index-sync job's settings ({@link IndexSyncOptions}; {@code ./nann index-sync --config FILE}), checked when built. */
public final class IndexSyncConfig extends JobSettings {
  /** Every index-sync setting, by key. */
  public static final List<DeclaredOption> OPTIONS = DeclaredOption.of(IndexSyncOptions.class, IndexSyncOptions.REQUIRED);

  private IndexSyncConfig(Map<String, String> overrides) {
    super(OPTIONS, overrides);
  }

  public static IndexSyncConfig load(Path file) throws IOException {
    return of(readProperties(file));
  }

  public static IndexSyncConfig of(Map<String, String> overrides) {
    IndexSyncConfig c = new IndexSyncConfig(overrides);
    for (ConfigOption<Integer> o : List.of(DIM, M, EF_CONSTRUCTION, BUILD_THREADS, MIN_CHANGES, MAX_INTERVAL_MS, KEEP)) {
      if (c.get(o) < 1) {
        throw new IllegalArgumentException("setting '" + o.key() + "' must be >= 1, got " + c.get(o));
      }
    }
    int shards = c.get(SHARDS);
    if (shards < 1 || shards > dev.nann.shard.ShardAssignment.MAX_SHARDS) {
      throw new IllegalArgumentException("setting 'index.shards' must be in [1, " + dev.nann.shard.ShardAssignment.MAX_SHARDS
          + "], got " + shards);
    }
    c.requireRange(MAX_RECORD_BYTES, 1024, 1024 * 1024);
    c.requireRange(CHECKPOINT_TIMEOUT_MS, 10_000, 24L * 3600 * 1000);
    c.requireRange(CHECKPOINT_INTERVAL_MS, 10, 3_600_000);
    c.requireRange(PARALLELISM, 1, 32_768);
    c.requirePositiveFloat(MAX_ABS_VALUE);
    double tombstones = c.get(MAX_TOMBSTONE_FRACTION);
    if (!(tombstones >= 0 && tombstones < 1)) {
      throw new IllegalArgumentException("setting 'rebuild.max-tombstone-fraction' must be in [0, 1), got " + tombstones);
    }
    double move = c.get(MOVE_IN_PLACE_FRACTION);
    if (!(move >= 0 && move < 1)) {
      throw new IllegalArgumentException("setting 'rebuild.move-in-place-fraction' must be in [0, 1), got " + move);
    }
    return c;
  }

  public List<String> topics() {
    return List.of(get(TOPIC_ITEM_EMBEDDINGS), get(TOPIC_INDEX_UPDATES), get(TOPIC_DEAD_LETTER));
  }

  /** Topics the job only writes, none of them compacted. */
  public Set<String> outputTopics() {
    return Set.of(get(TOPIC_DEAD_LETTER));
  }

  public Set<String> compactedTopics() {
    return new java.util.HashSet<>(List.of(get(TOPIC_ITEM_EMBEDDINGS), get(TOPIC_INDEX_UPDATES)));
  }
}

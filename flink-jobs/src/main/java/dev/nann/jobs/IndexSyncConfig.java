package dev.nann.jobs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Every setting of the index-sync job ({@code ./nann index-sync --config FILE}); see README. */
public final class IndexSyncConfig extends JobSettings {
  /** Every key with its default ("" = required). */
  public static final Map<String, String> DEFAULTS = defaults();

  private IndexSyncConfig(Map<String, String> overrides) {
    super(DEFAULTS, overrides, Set.of("dr.dir"));
  }

  private static Map<String, String> defaults() {
    Map<String, String> d = new TreeMap<>();
    d.put("kafka.bootstrap-servers", "");
    d.put("kafka.group-id", "nann-index-sync");
    d.put("kafka.transactional-id-prefix", "nann-index-sync");
    d.put("kafka.transaction-timeout-ms", "600000");
    d.put("topics.item-embeddings", "item-embeddings");
    d.put("topics.index-updates", "index-updates");
    d.put("topics.dead-letter", "dead-letter");
    d.put("snapshot.dir", "");
    d.put("index.dim", "");
    d.put("index.m", "32");
    d.put("index.ef-construction", "40");
    d.put("index.build-threads", "1");
    d.put("rebuild.min-changes", "1000");
    d.put("rebuild.max-interval-ms", "60000");
    d.put("snapshots.keep", "3");
    d.put("dr.dir", "");
    d.put("rebuild.incremental", "true");
    d.put("rebuild.max-tombstone-fraction", "0.2");
    d.put("rebuild.move-in-place-fraction", "0.5");
    d.put("checkpoint.interval-ms", "10000");
    d.put("checkpoint.dir", "file:///tmp/nann/index-sync-checkpoints");
    return d;
  }

  public static IndexSyncConfig load(Path file) throws IOException {
    return of(readProperties(file));
  }

  public static IndexSyncConfig of(Map<String, String> overrides) {
    IndexSyncConfig c = new IndexSyncConfig(overrides);
    for (String k : List.of("index.dim", "index.m", "index.ef-construction", "index.build-threads",
        "rebuild.min-changes", "rebuild.max-interval-ms", "snapshots.keep")) {
      if (c.getInt(k) < 1) {
        throw new IllegalArgumentException("setting '" + k + "' must be >= 1, got " + c.get(k));
      }
    }
    double move = Double.parseDouble(c.get("rebuild.move-in-place-fraction"));
    if (!(move >= 0 && move < 1)) {
      throw new IllegalArgumentException("setting 'rebuild.move-in-place-fraction' must be in [0, 1), got " + move);
    }
    return c;
  }

  public List<String> topics() {
    return List.of(get("topics.item-embeddings"), get("topics.index-updates"), get("topics.dead-letter"));
  }

  public Set<String> compactedTopics() {
    return Set.of(get("topics.item-embeddings"), get("topics.index-updates"));
  }
}

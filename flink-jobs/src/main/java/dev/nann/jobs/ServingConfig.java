package dev.nann.jobs;

import dev.nann.engine.EngineConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Every setting of the serving job, read from a properties file ({@code ./nann serve --config FILE})
 * or built in code (demo, tests). Unknown keys are refused so a typo cannot silently fall back to a
 * default. {@link #DEFAULTS} lists every key with its default; the README documents them.
 */
public final class ServingConfig extends JobSettings {
  /** Every key with its default ("" = required). */
  public static final Map<String, String> DEFAULTS = defaults();

  private ServingConfig(Map<String, String> overrides) {
    super(DEFAULTS, overrides, Set.of("snapshot.dir", "dr.dir"));
  }

  private static Map<String, String> defaults() {
    Map<String, String> d = new TreeMap<>();
    d.put("kafka.bootstrap-servers", "");
    d.put("kafka.group-id", "nann-serving");
    d.put("kafka.starting-offsets", "committed");
    d.put("kafka.transactional-id-prefix", "nann-serving");
    d.put("kafka.transaction-timeout-ms", "600000");
    d.put("kafka.delivery", "exactly-once");
    d.put("topics.requests", "requests");
    d.put("topics.responses", "responses");
    d.put("topics.user-events", "user-events");
    d.put("topics.candidates", "candidates");
    d.put("topics.index-updates", "index-updates");
    d.put("topics.model-updates", "model-updates");
    d.put("topics.dead-letter", "dead-letter");
    d.put("topics.item-embeddings", "item-embeddings");
    d.put("model.dir", "");
    d.put("snapshot.dir", "");
    d.put("search.ef", "100,200,400");
    d.put("search.steps", "1,1,3");
    d.put("search.hnsw-ef", "400");
    d.put("search.width", "400");
    d.put("search.budget", "20000");
    d.put("search.max-budget", "100000");
    d.put("search.max-k", "1000");
    d.put("engine.walker-threads", "2");
    d.put("engine.scorer-threads", "1");
    d.put("scorer.provider", "auto");
    d.put("scorer.device-id", "0");
    d.put("dr.dir", "");
    d.put("dr.beam", "5");
    d.put("batching.enabled", "false");
    d.put("batching.max-rows", "4096");
    d.put("batching.max-wait-us", "200");
    d.put("async.capacity", "64");
    d.put("async.timeout-ms", "2000");
    d.put("state.max-sequence", "50");
    d.put("feed.k", "50");
    d.put("serving.max-record-bytes", "65536");
    d.put("checkpoint.interval-ms", "5000");
    d.put("checkpoint.dir", "file:///tmp/nann/checkpoints");
    d.put("parallelism", "1");
    d.put("flink.buffer-timeout-ms", "2");
    return d;
  }

  /** Reads a properties file over the defaults. */
  public static ServingConfig load(Path file) throws IOException {
    return of(readProperties(file));
  }

  /** The defaults overridden by {@code overrides}; refuses unknown keys and missing required ones. */
  public static ServingConfig of(Map<String, String> overrides) {
    ServingConfig c = new ServingConfig(overrides);
    c.engine();   // validates search and engine settings now
    if (!Set.of("committed", "earliest", "latest").contains(c.get("kafka.starting-offsets"))) {
      throw new IllegalArgumentException("kafka.starting-offsets must be committed, earliest or latest");
    }
    if (!Set.of("exactly-once", "at-least-once").contains(c.get("kafka.delivery"))) {
      throw new IllegalArgumentException("kafka.delivery must be exactly-once or at-least-once");
    }
    return c;
  }

  /** A copy with some settings replaced. */
  public ServingConfig with(Map<String, String> overrides) {
    Map<String, String> v = asMap();
    v.putAll(overrides);
    return of(v);
  }

  /** The engine's part of the settings. */
  public EngineConfig engine() {
    String snap = get("snapshot.dir");
    return new EngineConfig(get("model.dir"), getInt("engine.walker-threads"), getInt("engine.scorer-threads"),
        getBoolean("batching.enabled"), getInt("batching.max-rows"), getInt("batching.max-wait-us"),
        get("search.ef"), get("search.steps"), getInt("search.hnsw-ef"), getInt("search.width"),
        getInt("search.budget"), getInt("search.max-budget"), getInt("search.max-k"),
        snap.isEmpty() ? null : snap, get("scorer.provider"), getInt("scorer.device-id"),
        get("dr.dir").isEmpty() ? null : get("dr.dir"), getInt("dr.beam"));
  }

  /** Topics the job creates in local runs, and which are compacted. */
  public List<String> topics() {
    return List.of(get("topics.requests"), get("topics.responses"), get("topics.user-events"),
        get("topics.candidates"), get("topics.index-updates"), get("topics.model-updates"),
        get("topics.dead-letter"), get("topics.item-embeddings"));
  }

  public Set<String> compactedTopics() {
    return Set.of(get("topics.index-updates"), get("topics.model-updates"), get("topics.item-embeddings"));
  }

}

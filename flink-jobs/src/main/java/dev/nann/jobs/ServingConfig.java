package dev.nann.jobs;

import static dev.nann.jobs.ServingOptions.*;

import dev.nann.engine.EngineConfig;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.search.Descent;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The serving job's settings ({@link ServingOptions}), read from a properties file
 * ({@code ./nann serve --config FILE}) or built in code (demo, tests), checked when built.
 */
public final class ServingConfig extends JobSettings {
  /** Every serving setting, by key. */
  public static final List<DeclaredOption> OPTIONS = DeclaredOption.of(ServingOptions.class, ServingOptions.REQUIRED);

  /** Most items one answer may hold (search.max-k's ceiling): 10,000 items and scores are about 140 KB. */
  public static final int MAX_ANSWER_ITEMS = 10_000;

  private ServingConfig(Map<String, String> overrides) {
    super(OPTIONS, overrides);
  }

  /** Reads a properties file over the defaults. */
  public static ServingConfig load(Path file) throws IOException {
    return of(readProperties(file));
  }

  /** The defaults overridden by {@code overrides}; refuses unknown keys, missing required ones and bad values. */
  public static ServingConfig of(Map<String, String> overrides) {
    ServingConfig c = new ServingConfig(overrides);
    c.engine();   // validates search and engine settings now
    // an answer (up to max-k items and its request's headers) must fit a Kafka record of the default
    // 1 MB, or the sink fails the job on it after every restart
    c.requireRange(MAX_K, 1, MAX_ANSWER_ITEMS);
    c.requireRange(MAX_RECORD_BYTES, 1024, 256 * 1024);
    c.requirePositiveFloat(MAX_ABS_VALUE);
    c.requireRange(FEED_K, 1, c.get(MAX_K));
    c.requireRange(MAX_SEQUENCE, 1, 10_000);
    c.requireRange(FEED_MIN_INTERVAL_MS, 0, Long.MAX_VALUE);
    c.requireRange(FEED_MAX_AGE_MS, 0, Long.MAX_VALUE);
    c.requireRange(STATE_TTL_MS, 0, Long.MAX_VALUE);
    c.requireRange(ASYNC_CAPACITY, 1, 100_000);
    c.requireRange(ASYNC_TIMEOUT_MS, 1, 3_600_000);
    c.requireRange(CHECKPOINT_INTERVAL_MS, 10, 3_600_000);
    c.requireRange(PARALLELISM, 1, 32_768);
    if (c.exactlyOnce() || c.feedExactlyOnce()) {
      c.requireTransactionsOutliveCheckpoints(TRANSACTION_TIMEOUT_MS, CHECKPOINT_INTERVAL_MS);
    }
    if (!Set.of("committed", "earliest", "latest").contains(c.get(STARTING_OFFSETS))) {
      throw new IllegalArgumentException("kafka.starting-offsets must be committed, earliest or latest");
    }
    for (var option : List.of(DELIVERY, FEED_DELIVERY)) {
      if (!Set.of("exactly-once", "at-least-once").contains(c.get(option))) {
        throw new IllegalArgumentException(option.key() + " must be exactly-once or at-least-once");
      }
    }
    try {
      AvroCodec.of(RetrievalResponse.class, c.get(RESPONSE_SCHEMA_VERSION));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("setting '" + RESPONSE_SCHEMA_VERSION.key() + "': " + e.getMessage(), e);
    }
    try {
      AvroCodec.of(dev.nann.schemas.CandidateFeed.class, c.get(FEED_SCHEMA_VERSION));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("setting '" + FEED_SCHEMA_VERSION.key() + "': " + e.getMessage(), e);
    }
    return c;
  }

  /** A copy with some settings replaced. */
  public ServingConfig with(Map<String, String> overrides) {
    Map<String, String> v = given();
    v.putAll(overrides);
    return of(v);
  }

  /** True when responses and dead letters are written in Kafka transactions. */
  public boolean exactlyOnce() {
    return get(DELIVERY).equals("exactly-once");
  }

  /** True when the candidates feed is written in Kafka transactions. */
  public boolean feedExactlyOnce() {
    return get(FEED_DELIVERY).equals("exactly-once");
  }

  /** The engine's part of the settings. */
  public EngineConfig engine() {
    return EngineConfig.builder(get(MODEL_DIR))
        .walkerThreads(get(WALKER_THREADS)).scorerThreads(get(SCORER_THREADS))
        .microBatching(get(BATCHING), get(BATCH_MAX_ROWS), get(BATCH_MAX_WAIT_US))
        .beam(get(BEAM_EF), get(BEAM_STEPS)).hnswEf(get(HNSW_EF))
        .walk(get(WIDTH), get(BUDGET), get(MAX_BUDGET)).descent(descent())
        .maxK(get(MAX_K)).allowBrute(get(ALLOW_BRUTE))
        .queueCapacity(get(QUEUE_CAPACITY)).freshMaxItems(get(FRESH_MAX_ITEMS))
        .snapshotDir(get(SNAPSHOT_DIR)).modelRoot(get(MODEL_ROOT)).maxVersionStep(get(MAX_VERSION_STEP))
        .provider(get(PROVIDER), get(DEVICE_ID))
        .deepRetrieval(get(DR_DIR), get(DR_BEAM))
        .shards(get(SHARDS), get(SHARD_ACTIVATION_MS))
        .build();
  }

  private Descent descent() {
    try {
      return Descent.parse(get(DESCENT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("setting '" + DESCENT.key() + "': " + e.getMessage(), e);
    }
  }

  /** Topics the job creates in local runs. */
  public List<String> topics() {
    return List.of(get(TOPIC_REQUESTS), get(TOPIC_RESPONSES), get(TOPIC_USER_EVENTS), get(TOPIC_CANDIDATES),
        get(TOPIC_INDEX_UPDATES), get(TOPIC_MODEL_UPDATES), get(TOPIC_DEAD_LETTER), get(TOPIC_ITEM_EMBEDDINGS));
  }

  /** Topics the job only writes, none of them compacted. */
  public Set<String> outputTopics() {
    return new java.util.HashSet<>(List.of(get(TOPIC_RESPONSES), get(TOPIC_CANDIDATES), get(TOPIC_DEAD_LETTER)));
  }

  /** Topics that are compacted (their latest record per key is the current state). */
  public Set<String> compactedTopics() {
    return new java.util.HashSet<>(List.of(get(TOPIC_INDEX_UPDATES), get(TOPIC_MODEL_UPDATES), get(TOPIC_ITEM_EMBEDDINGS)));
  }
}

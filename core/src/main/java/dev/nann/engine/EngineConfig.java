package dev.nann.engine;

import dev.nann.scorer.ScorerRuntime;
import dev.nann.search.BeamParams;
import dev.nann.search.Descent;
import dev.nann.search.SearchParams;
import dev.nann.search.WalkParams;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Settings of the TaskManager-wide retrieval engine. Operators with equal configs share one engine.
 * Build one with {@link #builder}; every setting but the model directory has the default declared
 * here (the serving job's typed options expose them under their keys).
 *
 * @param defaultModelDir model directory used until a model descriptor names another
 * @param walkerThreads threads walking the graph (one query each at a time); 0: one per core of the
 *     machine the engine runs on
 * @param scorerThreads ONNX Runtime intra-op threads per score call
 * @param microBatching merge concurrent queries' score batches into one runtime call
 * @param batchMaxRows most rows in a merged call
 * @param batchMaxWaitMicros longest a batch waits for others to join
 * @param ef mode=beam (Beam-retrieval) ef per layer, top first ("100,200,400")
 * @param steps mode=beam steps per layer, top first ("1,1,3")
 * @param hnswEf ef at layer 0 for mode=hnsw
 * @param width beam width W of the default walk (mode=nann)
 * @param budget items mode=nann may score per request when the request names no budget
 * @param descent how mode=nann comes down the upper layers ({@link Descent})
 * @param maxBudget most items a request may ask mode=nann to score (larger asks are capped); mode=hnsw
 *     has no budget of its own and is held to the request's when the request raises its ef
 * @param maxK largest k a request may ask for, at most {@link dev.nann.search.Searcher#MAX_K}
 * @param allowBrute whether clients may ask for mode brute (a scan of the whole catalogue)
 * @param queueCapacity requests that may wait for a walker; more are answered OVERLOADED at once
 * @param freshMaxItems catalog changes the fresh set holds at most before a snapshot takes them
 * @param snapshotDir the snapshot root: relative snapshot uris resolve here, and no descriptor may
 *     name a snapshot outside it
 * @param modelRoot no model descriptor may name a directory outside it
 * @param maxVersionStep largest step an index descriptor's version may take above the current one
 * @param provider ONNX Runtime execution provider: {@code cpu}, {@code cuda} or {@code auto}
 * @param deviceId CUDA device ordinal for {@code cuda}/{@code auto}
 * @param drDir a Deep Retrieval structure (the trainer's train-dr output) for {@code mode=dr}, or null
 * @param drBeam beam width B of {@code mode=dr}
 * @param shards S, the shards of the index this engine serves (1: unsharded; otherwise every index
 *     descriptor must be a manifest of S shards)
 * @param shardActivationMs a sharded index version is used for requests this long after its manifest
 *     arrives (the previous one meanwhile), so every shard has loaded its part before any request needs it
 */
public record EngineConfig(String defaultModelDir, int walkerThreads, int scorerThreads, boolean microBatching,
                           int batchMaxRows, long batchMaxWaitMicros, String ef, String steps, int hnswEf, int width,
                           int budget, Descent descent, int maxBudget, int maxK, boolean allowBrute, int queueCapacity,
                           int freshMaxItems,
                           String snapshotDir, String modelRoot, long maxVersionStep, String provider, int deviceId,
                           String drDir, int drBeam, int shards, long shardActivationMs)
    implements Serializable {
  /** One walker per core of the TaskManager: more only contend for the cores (measured on 2 cores). */
  public static final int DEFAULT_WALKER_THREADS = 0;
  public static final int DEFAULT_SCORER_THREADS = 1;
  public static final boolean DEFAULT_MICRO_BATCHING = false;
  public static final int DEFAULT_BATCH_MAX_ROWS = 4096;
  public static final int DEFAULT_BATCH_MAX_WAIT_MICROS = 200;
  public static final int DEFAULT_MAX_BUDGET = 100_000;
  public static final int DEFAULT_MAX_K = 1000;
  public static final String DEFAULT_PROVIDER = "auto";
  public static final int DEFAULT_DEVICE_ID = 0;
  public static final int DEFAULT_DR_BEAM = 5;
  public static final long DEFAULT_MAX_VERSION_STEP = 1_000_000;
  public static final boolean DEFAULT_ALLOW_BRUTE = false;
  public static final int DEFAULT_QUEUE_CAPACITY = 64;
  public static final int DEFAULT_FRESH_MAX_ITEMS = 20_000;
  public static final int DEFAULT_SHARDS = 1;
  public static final long DEFAULT_SHARD_ACTIVATION_MS = 10_000;

  public EngineConfig {
    if (defaultModelDir == null || defaultModelDir.isEmpty()) {
      throw new IllegalArgumentException("a model directory is required");
    }
    if (snapshotDir == null || snapshotDir.isEmpty() || modelRoot == null || modelRoot.isEmpty()) {
      throw new IllegalArgumentException("a snapshot root and a model root are required");
    }
    if (maxVersionStep < 1) {
      throw new IllegalArgumentException("the largest index version step must be >= 1, got " + maxVersionStep);
    }
    if (walkerThreads < 0 || scorerThreads < 1) {
      throw new IllegalArgumentException("walker threads must be >= 0 (0: one per core) and scorer threads >= 1");
    }
    if (freshMaxItems < 0) {
      throw new IllegalArgumentException("the fresh set's size must be >= 0, got " + freshMaxItems);
    }
    if (queueCapacity < 1 || (long) queueCapacity * shards > MAX_TASK_CAPACITY) {
      // the queue is allocated whole, one slot per waiting shard task
      throw new IllegalArgumentException("the engine queue capacity must be >= 1 and, times index.shards, at most "
          + MAX_TASK_CAPACITY + ", got " + queueCapacity + " x " + shards);
    }
    if (microBatching && (batchMaxRows < 1 || batchMaxWaitMicros < 0 || batchMaxWaitMicros > 1_000_000)) {
      // checked here, not when the first model loads: a refused default model fails every TaskManager's start
      throw new IllegalArgumentException("batching.max-rows must be >= 1 and batching.max-wait-us in [0, 1000000], got "
          + batchMaxRows + " and " + batchMaxWaitMicros);
    }
    if (maxK < 1 || maxK > dev.nann.search.Searcher.MAX_K) {
      // past the walks' own limit every request with a larger k would fail instead of being refused
      throw new IllegalArgumentException("search.max-k must be in [1, " + dev.nann.search.Searcher.MAX_K + "], got "
          + maxK);
    }
    searchParams(ef, steps, hnswEf, width, budget, descent);   // fail at configuration time, not on the first request
    if (maxBudget < budget) {
      throw new IllegalArgumentException("search.max-budget (" + maxBudget + ") is below search.budget (" + budget + ")");
    }
    new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, scorerThreads);
    if (drBeam < 1) {
      throw new IllegalArgumentException("dr beam must be >= 1, got " + drBeam);
    }
    dev.nann.shard.ShardAssignment.check(shards);
    if (shardActivationMs < 0 || shardActivationMs > MAX_SHARD_ACTIVATION_MS) {
      // index-sync keeps every manifest younger than two minutes: a version must be in use well within that
      throw new IllegalArgumentException("index.shard-activation-ms must be in [0, " + MAX_SHARD_ACTIVATION_MS
          + "], got " + shardActivationMs);
    }
  }

  /** Most request tasks (queue capacity x shards) a TaskManager's engine queue holds. */
  public static final long MAX_TASK_CAPACITY = 1 << 24;
  /** Longest shard activation delay: half the age below which index-sync never prunes a manifest. */
  public static final long MAX_SHARD_ACTIVATION_MS = 60_000;

  /** Whether the index is sharded (requests are scattered over S shard walks and gathered). */
  public boolean sharded() {
    return shards > 1;
  }

  /** Settings for {@code modelDir} with every other value at its default. */
  public static Builder builder(String modelDir) {
    return new Builder(modelDir);
  }

  /** Walker threads on this machine: the configured number, or one per core when it is 0. */
  public int walkers() {
    return walkersFor(walkerThreads);
  }

  /** Walker threads a setting of {@code configured} means on this machine (0: one per core). */
  public static int walkersFor(int configured) {
    return configured > 0 ? configured : Runtime.getRuntime().availableProcessors();
  }

  /** How models are run (provider, device, threads per call). */
  public ScorerRuntime runtime() {
    return new ScorerRuntime(ScorerRuntime.Provider.parse(provider), deviceId, scorerThreads);
  }

  /** The checks every index and model descriptor passes before it can become current. */
  public DescriptorGuard guard() {
    return new DescriptorGuard(snapshotDir, modelRoot, maxVersionStep, shards);
  }

  /**
   * Tasks that may wait for a walker: the configured capacity counts requests, and with a sharded
   * index each request is S shard tasks (all of them on one TaskManager at worst).
   */
  int taskCapacity() {
    return queueCapacity() * shards();
  }

  /** What each mode may spend per request, by default. */
  public SearchParams search() {
    return searchParams(ef, steps, hnswEf, width, budget, descent);
  }

  private static SearchParams searchParams(String ef, String steps, int hnswEf, int width, int budget,
                                           Descent descent) {
    return new SearchParams(new WalkParams(width, budget, descent), BeamParams.parse(ef, steps), hnswEf);
  }

  /**
   * The walk's budget for a request that asks for {@code requested} items scored (0: the default),
   * capped at {@link #maxBudget} and raised to k (a walk must score at least the k it returns).
   */
  public int budgetFor(int requested, int k) {
    int b = requested <= 0 ? budget : Math.min(requested, maxBudget);
    return Math.max(b, k);
  }

  /** Builds an {@link EngineConfig}; starts from the defaults. */
  public static final class Builder {
    private final String modelDir;
    private int walkerThreads = DEFAULT_WALKER_THREADS;
    private int scorerThreads = DEFAULT_SCORER_THREADS;
    private boolean microBatching = DEFAULT_MICRO_BATCHING;
    private int batchMaxRows = DEFAULT_BATCH_MAX_ROWS;
    private long batchMaxWaitMicros = DEFAULT_BATCH_MAX_WAIT_MICROS;
    private String ef = SearchParams.DEFAULTS.beam().efList();
    private String steps = SearchParams.DEFAULTS.beam().stepsList();
    private int hnswEf = SearchParams.DEFAULTS.hnswEf();
    private int width = WalkParams.DEFAULTS.width();
    private int budget = WalkParams.DEFAULTS.budget();
    private Descent descent = WalkParams.DEFAULTS.descent();
    private int maxBudget = DEFAULT_MAX_BUDGET;
    private int maxK = DEFAULT_MAX_K;
    private boolean allowBrute = DEFAULT_ALLOW_BRUTE;
    private int queueCapacity = DEFAULT_QUEUE_CAPACITY;
    private int freshMaxItems = DEFAULT_FRESH_MAX_ITEMS;
    private String snapshotDir;
    private String modelRoot;
    private long maxVersionStep = DEFAULT_MAX_VERSION_STEP;
    private String provider = DEFAULT_PROVIDER;
    private int deviceId = DEFAULT_DEVICE_ID;
    private String drDir;
    private int drBeam = DEFAULT_DR_BEAM;
    private int shards = DEFAULT_SHARDS;
    private long shardActivationMs = DEFAULT_SHARD_ACTIVATION_MS;

    private Builder(String modelDir) {
      this.modelDir = modelDir;
    }

    public Builder walkerThreads(int n) {
      walkerThreads = n;
      return this;
    }

    public Builder scorerThreads(int n) {
      scorerThreads = n;
      return this;
    }

    /** Cross-request micro-batching: on or off, most rows per merged call, longest wait. */
    public Builder microBatching(boolean on, int maxRows, long maxWaitMicros) {
      microBatching = on;
      batchMaxRows = maxRows;
      batchMaxWaitMicros = maxWaitMicros;
      return this;
    }

    /** Beam-retrieval's per-layer ef and steps, top first ("100,200,400", "1,1,3"). */
    public Builder beam(String efList, String stepsList) {
      ef = efList;
      steps = stepsList;
      return this;
    }

    public Builder hnswEf(int ef0) {
      hnswEf = ef0;
      return this;
    }

    /** The default walk: width W, default budget and the most a request may ask for. */
    public Builder walk(int w, int defaultBudget, int maximumBudget) {
      width = w;
      budget = defaultBudget;
      maxBudget = maximumBudget;
      return this;
    }

    /** How the default walk comes down the upper layers. */
    public Builder descent(Descent d) {
      descent = d;
      return this;
    }

    public Builder maxK(int k) {
      maxK = k;
      return this;
    }

    /** Whether clients may ask for mode brute (a scan of the whole catalogue). */
    public Builder allowBrute(boolean allow) {
      allowBrute = allow;
      return this;
    }

    /** Catalog changes the fresh set holds at most (each is scored by every query). */
    public Builder freshMaxItems(int n) {
      freshMaxItems = n;
      return this;
    }

    /** Requests that may wait for a walker; more are shed (OVERLOADED). */
    public Builder queueCapacity(int n) {
      queueCapacity = n;
      return this;
    }

    /** The snapshot root (required): relative uris resolve here; nothing outside it is read. */
    public Builder snapshotDir(String dir) {
      snapshotDir = dir;
      return this;
    }

    /** The model root (default: the directory holding the default model's directory). */
    public Builder modelRoot(String dir) {
      modelRoot = dir;
      return this;
    }

    public Builder maxVersionStep(long step) {
      maxVersionStep = step;
      return this;
    }

    /** ONNX Runtime execution provider ({@code cpu}, {@code cuda}, {@code auto}) and CUDA device. */
    public Builder provider(String name, int device) {
      provider = name;
      deviceId = device;
      return this;
    }

    /** A Deep Retrieval structure for {@code mode=dr} (null: none) and its beam width. */
    public Builder deepRetrieval(String dir, int beam) {
      drDir = dir;
      drBeam = beam;
      return this;
    }

    /** S shards (1: unsharded) and how long a new sharded version waits before requests use it. */
    public Builder shards(int s, long activationMs) {
      shards = s;
      shardActivationMs = activationMs;
      return this;
    }

    public EngineConfig build() {
      String root = modelRoot;
      if (root == null && modelDir != null && !modelDir.isEmpty()) {
        Path parent = Path.of(modelDir).toAbsolutePath().normalize().getParent();
        root = parent == null ? null : parent.toString();
      }
      return new EngineConfig(modelDir, walkerThreads, scorerThreads, microBatching, batchMaxRows, batchMaxWaitMicros,
          ef, steps, hnswEf, width, budget, descent, maxBudget, maxK, allowBrute, queueCapacity, freshMaxItems, snapshotDir, root, maxVersionStep, provider, deviceId,
          drDir, drBeam, shards, shardActivationMs);
    }
  }
}

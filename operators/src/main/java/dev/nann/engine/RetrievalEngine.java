package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.scorer.MicroBatchingScorer;
import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.ScorerException;
import dev.nann.scorer.ShapeGrid;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.search.Searcher;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TaskManager-wide retrieval engine behind the serving job's async operator: index snapshots
 * and models loaded once per JVM ({@link SharedRegistry}), a pool of walker threads each with its
 * own reusable {@link Searcher}, and (optionally) one {@link MicroBatchingScorer} per model that
 * merges the score batches of concurrent queries.
 *
 * <p>Every task gets exactly one response: a result, or a status saying why not. Operator
 * instances share an engine through {@link #acquire}/{@link #release}.
 */
public final class RetrievalEngine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RetrievalEngine.class);
  private static final Map<EngineConfig, RetrievalEngine> SHARED = new HashMap<>();
  private static final Map<RetrievalEngine, Integer> USERS = new HashMap<>();

  /** Accepted models kept loaded: the newest and the one before (for requests still on it). */
  static final int MODELS_KEPT = 2;

  /** Longest a task waits for a model it was stamped with when no loaded model fits its index. */
  private static final long MODEL_WAIT_MS = 30_000;

  private final EngineConfig config;
  private final SearchParams search;
  private final ExecutorService walkers;
  private final SharedRegistry<Long, LoadedIndex> indexes;
  private final SharedRegistry<String, LoadedModel> models;
  private final Map<Long, IndexDescriptor> indexDescriptors = new ConcurrentHashMap<>();
  private final Map<String, String> modelDirs = new ConcurrentHashMap<>();
  private final Map<String, ModelDescriptor> modelDescriptors = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> modelLoads = new ConcurrentHashMap<>();
  private final Map<String, String> refusedModels = new ConcurrentHashMap<>();
  private final AtomicLong refusedModelCount = new AtomicLong();
  /** Models that passed every check, oldest first; the engine holds a lease on each. */
  private volatile List<AcceptedModel> accepted = List.of();
  private boolean closed;   // guarded by this
  private final Map<String, SharedRegistry<String, LoadedModel>.Lease> acceptedLeases = new HashMap<>();
  /** Loads descriptors' indexes and models off the walker threads, one at a time, in arrival order. */
  private final ExecutorService loader;
  private final String defaultModelVersion;
  /** Deep Retrieval's structure for mode=dr, or null when the job has none. */
  private final dev.nann.dr.PathModel paths;
  private final ThreadLocal<SearcherCache> searchers = ThreadLocal.withInitial(SearcherCache::new);
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong lastIndexVersion = new AtomicLong(-1);
  /** Index versions the loader thread is loading; requests stamped with one are answered on the live one meanwhile. */
  private final Set<Long> prefetching = ConcurrentHashMap.newKeySet();
  private final Map<Long, String> refused = new ConcurrentHashMap<>();
  /** Catalog changes not yet in the live snapshot: upserts are scored exhaustively, deletes excluded. */
  private final FreshSet fresh;
  private final AtomicLong refusedCount = new AtomicLong();

  /** Starts an engine; prefer {@link #acquire} so operators in one JVM share it. */
  public RetrievalEngine(EngineConfig config) {
    this.config = config;
    this.search = config.search();
    AtomicInteger n = new AtomicInteger();
    this.walkers = Executors.newFixedThreadPool(config.walkerThreads(), r -> {
      Thread t = new Thread(r, "nann-walker-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.loader = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "nann-loader");
      t.setDaemon(true);
      return t;
    });
    this.indexes = new SharedRegistry<>("index", this::loadIndex);
    this.models = new SharedRegistry<>("model", this::loadModel);
    ModelSpec spec = ModelSpec.read(Path.of(config.defaultModelDir()));
    this.defaultModelVersion = spec.version();
    this.fresh = new FreshSet(spec.itemDim());
    modelDirs.put(defaultModelVersion, config.defaultModelDir());
    // loads and warms the default model before the first request
    accept(new AcceptedModel(defaultModelVersion, spec.itemDim(), null, false), models.acquire(defaultModelVersion));
    this.paths = config.drDir() == null ? null : dev.nann.dr.PathModel.load(Path.of(config.drDir()), spec.itemDim());
  }

  /** The engine shared by every operator in this JVM with an equal config. */
  public static synchronized RetrievalEngine acquire(EngineConfig config) {
    RetrievalEngine e = SHARED.computeIfAbsent(config, RetrievalEngine::new);
    USERS.merge(e, 1, Integer::sum);
    return e;
  }

  /** Lets go of a shared engine; the last user closes it. */
  public static synchronized void release(RetrievalEngine engine) {
    Integer left = USERS.merge(engine, -1, Integer::sum);
    if (left != null && left <= 0) {
      USERS.remove(engine);
      SHARED.remove(engine.config);
      engine.close();
    }
  }

  public EngineConfig config() {
    return config;
  }

  /** Version of the model used when a task names none. */
  public String defaultModelVersion() {
    return defaultModelVersion;
  }

  /** Queries accepted and not yet answered. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Newest index version this engine has served, or -1. */
  public long indexVersion() {
    return lastIndexVersion.get();
  }

  /** Build time of the newest index this engine has served (epoch ms), or 0. */
  public long indexCreatedAtMillis() {
    Long v = indexes.pinnedKey();
    IndexDescriptor d = v == null ? null : indexDescriptors.get(v);
    return d == null ? 0L : d.getCreatedAtMillis();
  }

  /** Version of the newest accepted model (the default until a descriptor names another). */
  public String modelVersion() {
    String v = newestModel().version();
    return v == null ? "" : v;
  }

  /** When the current model was loaded on this TaskManager (epoch ms), or 0. */
  public long modelLoadedAtMillis() {
    LoadedModel m = pinnedModel();
    return m == null ? 0L : m.loadedAtMillis();
  }

  /** The pinned model's batcher (for batch-fill metrics), or null when batching is off. */
  public MicroBatchingScorer batcher() {
    LoadedModel m = pinnedModel();
    return m == null ? null : m.batcher();
  }

  /** The newest accepted model, read under a short lease (metrics only; nothing is kept), or null. */
  private LoadedModel pinnedModel() {
    try (SharedRegistry<String, LoadedModel>.Lease m = models.tryAcquire(newestModel().version())) {
      return m == null ? null : m.value();
    }
  }

  /**
   * Starts loading an index version in the background so the first request for it does not pay
   * for the load (called when a descriptor arrives).
   */
  public void prefetch(IndexDescriptor d) {
    indexDescriptors.putIfAbsent(d.getVersion(), d);
    prefetching.add(d.getVersion());
    loader.execute(() -> {
      try (SharedRegistry<Long, LoadedIndex>.Lease l = loadIndexLease(d)) {
        // loaded (and pinned if newest), or refused and remembered
      } finally {
        prefetching.remove(d.getVersion());
      }
    });
  }

  /**
   * Admits a model named by a {@code model-updates} descriptor, in the background: loads it, checks
   * it (SHA-256 of model.json against the descriptor, every ONNX file against model.json, the
   * contract, item dimension against the descriptor and, unless it names the index it pairs with,
   * against the live index), warms every batch size of the shape grid, and only then makes it the
   * newest accepted model. Requests never wait for this: until it is accepted they are answered by
   * the model before it. A model that fails a check is refused with an error log and the
   * {@link #refusedModels} metric, and the previous model keeps serving. A version not newer than the
   * newest accepted one ({@link ModelVersions}) is ignored: versions only move forward.
   *
   * @return completes when the model is accepted, refused or ignored
   */
  public CompletableFuture<Void> prefetch(ModelDescriptor d) {
    String v = d.getVersion();
    modelDescriptors.putIfAbsent(v, d);
    try {
      modelDirs.putIfAbsent(v, modelPath(d.getUri()));
    } catch (RuntimeException e) {
      refuseModel(v, "its uri '" + d.getUri() + "' is not a path: " + e.getMessage());
      return modelLoads.computeIfAbsent(v, k -> CompletableFuture.completedFuture(null));
    }
    return modelLoads.computeIfAbsent(v, k -> CompletableFuture.runAsync(() -> admit(d), loader)
        .whenComplete((ok, err) -> {
          if (err != null) {
            LOG.error("admitting model {} failed: {}", v, err.toString());
          }
        }));
  }

  private void admit(ModelDescriptor d) {
    String v = d.getVersion();
    if (accepted(v) != null) {
      return;   // already serving (e.g. a descriptor naming the configured default model)
    }
    AcceptedModel newest = newestModel();
    if (newest.fromDescriptor() && ModelVersions.compare(v, newest.version()) <= 0) {
      LOG.warn("model {} ignored: {} is newer (model versions only move forward)", v, newest.version());
      return;
    }
    SharedRegistry<String, LoadedModel>.Lease lease;
    try {
      lease = models.acquire(v);
    } catch (RuntimeException e) {
      refuseModel(v, e.getMessage());
      return;
    }
    int dim = lease.value().onnx().itemDim();
    String problem = null;
    if (dim != d.getItemDim()) {
      problem = "it scores items of dim " + dim + " but its descriptor says " + d.getItemDim();
    } else if (d.getIndexVersion() == null) {
      LoadedIndex live = liveIndex();
      if (live != null && live.index().dim() != dim) {
        problem = "it scores items of dim " + dim + " but the live index " + live.version() + " holds dim "
            + live.index().dim() + " (a model for new item embeddings names its index in indexVersion)";
      }
    }
    if (problem != null) {
      lease.close();
      refuseModel(v, problem);
      return;
    }
    accept(new AcceptedModel(v, dim, d.getIndexVersion(), true), lease);
    LOG.info("model {} accepted on {} (item dim {}{})", v, lease.value().onnx().model().provider(), dim,
        d.getIndexVersion() == null ? "" : ", serves index versions >= " + d.getIndexVersion());
  }

  private void refuseModel(String version, String why) {
    if (refusedModels.putIfAbsent(version, String.valueOf(why)) == null) {
      refusedModelCount.incrementAndGet();
      LOG.error("model {} refused, the previous model keeps serving: {}", version, why);
    }
  }

  /** Model versions refused since start (corrupt, incompatible or unloadable). */
  public long refusedModels() {
    return refusedModelCount.get();
  }

  /** Adds a checked model; keeps the newest {@link #MODELS_KEPT} loaded and lets older ones go. */
  private synchronized void accept(AcceptedModel model, SharedRegistry<String, LoadedModel>.Lease lease) {
    if (closed) {
      lease.close();   // a load that finished after close(): nothing may keep it
      return;
    }
    List<AcceptedModel> next = new ArrayList<>(accepted);
    next.add(model);
    acceptedLeases.put(model.version(), lease);
    // the live index must keep a model that fits it (a newer model may wait for its paired index)
    LoadedIndex live = liveIndex();
    AcceptedModel keep = null;
    for (AcceptedModel m : next) {
      if (live != null && m.fits(live)) {
        keep = m;
      }
    }
    for (int i = 0; next.size() > MODELS_KEPT && i < next.size() - 1; ) {
      AcceptedModel old = next.get(i);
      if (old == keep) {
        i++;
        continue;
      }
      next.remove(i);
      acceptedLeases.remove(old.version()).close();   // closes once its in-flight requests finish
    }
    accepted = List.copyOf(next);
  }

  private AcceptedModel newestModel() {
    List<AcceptedModel> a = accepted;
    return a.get(a.size() - 1);
  }

  private AcceptedModel accepted(String version) {
    for (AcceptedModel m : accepted) {
      if (m.version().equals(version)) {
        return m;
      }
    }
    return null;
  }

  /**
   * The model that answers a task on {@code index}: the version the task was stamped with when it
   * is accepted and fits the index, else the newest accepted model that fits. A stamped version this
   * engine has not seen (a restored job) starts loading; the task waits for it only when no accepted
   * model fits. Null when nothing fits.
   */
  private String chooseModel(ModelDescriptor stamped, LoadedIndex index, RetrievalRequest req) {
    if (stamped != null) {
      String v = stamped.getVersion();
      AcceptedModel a = accepted(v);
      if (a != null && a.fits(index)) {
        return v;   // the common case: nothing to look up or parse per request
      }
      CompletableFuture<Void> load = modelLoads.get(v);
      if (load == null) {
        load = prefetch(stamped);
      }
      if (a == null && !load.isDone() && newestFitting(index) == null) {
        awaitQuietly(load, req);
        a = accepted(v);
        if (a != null && a.fits(index)) {
          return v;
        }
      }
    }
    AcceptedModel m = newestFitting(index);
    return m == null ? null : m.version();
  }

  private AcceptedModel newestFitting(LoadedIndex index) {
    List<AcceptedModel> a = accepted;
    for (int i = a.size() - 1; i >= 0; i--) {
      if (a.get(i).fits(index)) {
        return a.get(i);
      }
    }
    return null;
  }

  private static void awaitQuietly(CompletableFuture<Void> load, RetrievalRequest req) {
    long wait = req.getDeadlineMillis() > 0 ? req.getDeadlineMillis() - System.currentTimeMillis() : MODEL_WAIT_MS;
    try {
      load.get(Math.max(0, Math.min(wait, MODEL_WAIT_MS)), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // answered below with whatever fits, or an error saying nothing does
    }
  }

  /** The live index, read under a short lease, or null. */
  private LoadedIndex liveIndex() {
    Long v = indexes.pinnedKey();
    if (v == null) {
      return null;
    }
    try (SharedRegistry<Long, LoadedIndex>.Lease l = indexes.acquire(v)) {
      return l.value();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * A model that passed every check.
   *
   * @param indexVersion the index version it pairs with (it serves that version and newer), or null
   * @param fromDescriptor false for the default model of the configuration
   */
  private record AcceptedModel(String version, int itemDim, Long indexVersion, boolean fromDescriptor) {
    boolean fits(LoadedIndex index) {
      return itemDim == index.index().dim() && (indexVersion == null || indexVersion <= index.version());
    }
  }

  /**
   * Applies a catalog change at once: an upsert joins the fresh set (scored by every query and
   * merged into its top-k), a delete excludes the item from every answer; both until a live
   * snapshot holds the change.
   */
  public void applyChange(dev.nann.schemas.ItemEmbedding item) {
    fresh.apply(item);
  }

  /** Items upserted and not yet in the live snapshot (what every query scores on top of the walk). */
  public int freshCount() {
    return fresh.view().liveUpserts();
  }

  /** Answers a task on a walker thread. The future never completes exceptionally. */
  public CompletableFuture<RetrievalResponse> submit(ScoringTask task) {
    inFlight.incrementAndGet();
    CompletableFuture<RetrievalResponse> f = new CompletableFuture<>();
    try {
      walkers.execute(() -> {
        try {
          f.complete(answer(task));
        } catch (Throwable t) {
          f.complete(error(task.getRequest(), ResponseStatus.UNKNOWN, "internal error: " + t));
        } finally {
          inFlight.decrementAndGet();
        }
      });
    } catch (RuntimeException rejected) {
      inFlight.decrementAndGet();
      f.complete(error(task.getRequest(), ResponseStatus.UNKNOWN, "engine is shut down"));
    }
    return f;
  }

  /** Answers a task on the calling thread. */
  public RetrievalResponse answer(ScoringTask task) {
    long start = System.nanoTime();
    RetrievalRequest req = task.getRequest();
    if (req.getDeadlineMillis() > 0 && System.currentTimeMillis() > req.getDeadlineMillis()) {
      return error(req, ResponseStatus.TIMEOUT, "deadline passed before the engine started on the request");
    }
    IndexDescriptor d = task.getIndex();
    indexDescriptors.putIfAbsent(d.getVersion(), d);
    SharedRegistry<Long, LoadedIndex>.Lease indexLease = leaseIndex(d);
    if (indexLease == null) {
      String why = refused.get(d.getVersion());
      return error(req, ResponseStatus.NO_INDEX, "index version " + d.getVersion() + " cannot be served (" + why
          + ") and no earlier version is loaded");
    }
    try (indexLease) {
      String modelVersion = chooseModel(task.getModel(), indexLease.value(), req);
      if (modelVersion == null) {
        LoadedIndex li = indexLease.value();
        RetrievalResponse r = error(req, ResponseStatus.SCORER_ERROR, "no accepted model scores items of dim "
            + li.index().dim() + " for index version " + li.version() + refusalOf(task.getModel()));
        r.setIndexVersion(li.version());
        return r;
      }
      SharedRegistry<String, LoadedModel>.Lease leased = leaseModel(modelVersion, task, indexLease.value(), req);
      if (leased == null) {
        return error(req, ResponseStatus.SCORER_ERROR, "model " + modelVersion + " is not loaded");
      }
      try (SharedRegistry<String, LoadedModel>.Lease modelLease = leased) {
        RetrievalResponse r = search(task, indexLease.value(), modelLease.value());
        r.setEngineMillis((System.nanoTime() - start) / 1e6f);
        return r;
      }
    }
  }

  private RetrievalResponse search(ScoringTask task, LoadedIndex loaded, LoadedModel model) {
    RetrievalRequest req = task.getRequest();
    HnswIndex index = loaded.index();
    Scorer scorer = model.scorer();
    if (scorer.itemDim() != index.dim()) {
      return error(req, ResponseStatus.SCORER_ERROR, "model " + model.version() + " scores items of dim "
          + scorer.itemDim() + " but index version " + loaded.version() + " holds dim " + index.dim(), loaded, model);
    }
    String invalid = validate(req, config.maxK());
    if (invalid != null) {
      return error(req, ResponseStatus.INVALID, invalid, loaded, model);
    }
    SearchMode mode = SearchMode.parse(req.getMode());
    if (mode == SearchMode.DR && paths == null) {
      return error(req, ResponseStatus.INVALID, "mode dr needs a Deep Retrieval structure on this job (dr.dir)",
          loaded, model);
    }
    int k = req.getK();
    Set<Long> excluded = new HashSet<>(req.getExcludeItems());
    if (req.getExcludeSeen()) {
      excluded.addAll(task.getSequence());
    }
    // the fresh set: deleted items never come back; upserted ones are scored by the executor, so
    // the graph's (older or missing) copy of them is skipped
    FreshSet.View changes = fresh.view();
    UserFeatures features = features(task.getSequence(), loaded);
    boolean cold = features.length() == 0;
    QueryExecutor.Query query = new QueryExecutor.Query(mode, k,
        search.withBudget(config.budgetFor(req.getBudget(), k)), excluded, attributeFilter(req));
    SearcherCache cache = searchers.get();
    QueryExecutor.Answer answer;
    try (UserState user = scorer.user(features)) {   // the user network runs once per request
      answer = cache.executor(this).run(cache.get(loaded, scorer), loaded, scorer, user, features, query, changes);
    } catch (ScorerException e) {
      return error(req, ResponseStatus.SCORER_ERROR, e.getMessage(), loaded, model);
    }
    List<Long> items = new ArrayList<>(answer.size());
    List<Float> scores = new ArrayList<>(answer.size());
    for (int i = 0; i < answer.size(); i++) {
      items.add(answer.items()[i]);
      scores.add(answer.scores()[i]);
    }
    RetrievalResponse r = base(req, cold ? ResponseStatus.COLD_START : ResponseStatus.OK,
        cold ? "no behaviour history in the index: ranked by the user network on an empty sequence (profile alone)" : "");
    r.setItems(items);
    r.setScores(scores);
    r.setIndexVersion(loaded.version());
    r.setModelVersion(model.version());
    r.setItemsScored(answer.scored());
    return r;
  }

  /** The request's attribute filter; empty when a request built in code left it unset. */
  private static Map<String, List<String>> attributeFilter(RetrievalRequest req) {
    return req.getAttributeFilter() == null ? Map.of() : req.getAttributeFilter();
  }

  /** Why a request is invalid, or null if it is fine (also used before a request reaches the engine). */
  public static String validate(RetrievalRequest req, int maxK) {
    try {
      SearchMode.parse(req.getMode());
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
    if (req.getBudget() < 0) {
      return "budget=" + req.getBudget() + " is negative: give the most items the walk may score, or 0 for the job's default";
    }
    if (req.getK() < 1 || req.getK() > maxK) {
      return "k=" + req.getK() + " is out of range [1, " + maxK + "]";
    }
    if (req.getRequestId() == null || req.getRequestId().isEmpty()) {
      return "requestId is empty";
    }
    for (Map.Entry<String, List<String>> e : attributeFilter(req).entrySet()) {
      if (e.getKey().isEmpty() || e.getValue().isEmpty()) {
        return "attributeFilter '" + e.getKey() + "' needs a non-empty key and at least one value";
      }
    }
    return null;
  }

  private static UserFeatures features(List<Long> sequence, LoadedIndex loaded) {
    HnswIndex index = loaded.index();
    ItemIdLookup ids = loaded.ids();
    int d = index.dim();
    long[] found = new long[sequence.size()];
    float[] emb = new float[sequence.size() * d];
    int n = 0;
    for (long item : sequence) {
      int node = ids.nodeOf(item);
      if (node >= 0) {
        found[n] = item;
        index.embeddings().copyRow(node, emb, n * d);
        n++;
      }
    }
    return new UserFeatures(java.util.Arrays.copyOf(found, n), java.util.Arrays.copyOf(emb, n * d), d);
  }

  /**
   * The index a request is answered on: its stamped version when loaded; the live (pinned) one when
   * the stamped version is still being loaded in the background or is older than the live one and
   * already let go (walker threads never wait for a snapshot load, and versions only move forward);
   * loaded here only when no load is under way for it (engines driven without {@link #prefetch}).
   */
  private SharedRegistry<Long, LoadedIndex>.Lease leaseIndex(IndexDescriptor d) {
    long version = d.getVersion();
    SharedRegistry<Long, LoadedIndex>.Lease loaded = indexes.tryAcquire(version);
    if (loaded != null) {
      return loaded;
    }
    Long live = indexes.pinnedKey();
    if (live != null && (prefetching.contains(version) || version < live)) {
      SharedRegistry<Long, LoadedIndex>.Lease lease = indexes.tryAcquire(live);
      if (lease != null) {
        return lease;
      }
    }
    return loadIndexLease(d);
  }

  /**
   * Loads (or shares) the stamped version and pins it if newest. When that version is refused
   * (corrupt, missing, inconsistent), a lease on the newest version that did load: the previous
   * snapshot keeps serving. A refused version is remembered, so it is not re-read on every request.
   * Null if nothing loads.
   */
  private SharedRegistry<Long, LoadedIndex>.Lease loadIndexLease(IndexDescriptor d) {
    long version = d.getVersion();
    if (!refused.containsKey(version)) {
      try {
        SharedRegistry<Long, LoadedIndex>.Lease lease = indexes.acquire(version);
        pinIfNewer(version);
        return lease;
      } catch (RuntimeException e) {
        refuse(d, e);
      }
    }
    Long fallback = indexes.pinnedKey();
    if (fallback == null || fallback == version) {
      return null;
    }
    try {
      return indexes.acquire(fallback);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private void refuse(IndexDescriptor d, RuntimeException e) {
    if (refused.putIfAbsent(d.getVersion(), String.valueOf(e.getMessage())) == null) {
      refusedCount.incrementAndGet();
      LOG.error("index version {} ({}) refused, the previous version keeps serving: {}", d.getVersion(), d.getUri(),
          e.getMessage());
    }
  }

  /** Index versions refused since start (corrupt, missing or inconsistent snapshots). */
  public long refusedIndexes() {
    return refusedCount.get();
  }

  private void pinIfNewer(long version) {
    long prev = lastIndexVersion.get();
    while (version > prev) {
      if (lastIndexVersion.compareAndSet(prev, version)) {
        indexes.pin(version);
        try (SharedRegistry<Long, LoadedIndex>.Lease live = indexes.acquire(version)) {
          fresh.rebase(live.value());
        }
        return;
      }
      prev = lastIndexVersion.get();
    }
  }

  private LoadedIndex loadIndex(long version) {
    IndexDescriptor d = indexDescriptors.get(version);
    if (d == null) {
      throw new IllegalStateException("no descriptor for index version " + version);
    }
    Path file = resolve(d.getUri());
    HnswIndex read = SnapshotFormat.read(file);
    if (!read.sha256().equalsIgnoreCase(d.getSha256())) {
      throw new dev.nann.graph.SnapshotException("snapshot " + file + " has SHA-256 " + read.sha256()
          + " but its descriptor says " + d.getSha256());
    }
    if (read.meta().version() != version) {
      throw new dev.nann.graph.SnapshotException("snapshot " + file + " holds version " + read.meta().version()
          + " but its descriptor says " + version);
    }
    HnswIndex index = read.onHeap();
    return new LoadedIndex(version, index, ItemIdLookup.of(index), d.getCreatedAtMillis());
  }

  /**
   * A lease on the chosen model without loading it: accepted models are loaded, and one evicted
   * since it was chosen is not reloaded on a walker thread; the choice is made again instead.
   */
  private SharedRegistry<String, LoadedModel>.Lease leaseModel(String chosen, ScoringTask task, LoadedIndex index,
                                                               RetrievalRequest req) {
    String version = chosen;
    for (int attempt = 0; attempt < 3 && version != null; attempt++) {
      SharedRegistry<String, LoadedModel>.Lease lease = models.tryAcquire(version);
      if (lease != null) {
        return lease;
      }
      version = chooseModel(task.getModel(), index, req);
    }
    return null;
  }

  private String refusalOf(ModelDescriptor stamped) {
    String why = stamped == null ? null : refusedModels.get(stamped.getVersion());
    return why == null ? "" : " (model " + stamped.getVersion() + " was refused: " + why + ")";
  }

  private LoadedModel loadModel(String version) {
    String dir = modelDirs.get(version);
    if (dir == null) {
      throw new IllegalStateException("no model directory known for version " + version);
    }
    ModelDescriptor d = modelDescriptors.get(version);
    if (d != null) {
      String actual = ModelSpec.sha256(Path.of(dir, "model.json"));
      if (!actual.equalsIgnoreCase(d.getSha256())) {
        throw new ScorerException(Path.of(dir, "model.json") + " has SHA-256 " + actual + " but the descriptor of model "
            + version + " says " + d.getSha256(), null);
      }
      // a model delivered at runtime must pin every network it runs, not only model.json
      ModelSpec spec = ModelSpec.read(Path.of(dir));
      List<String> files = new ArrayList<>(List.of(spec.userFile(), spec.scoreFile()));
      if (spec.itemFile() != null && java.nio.file.Files.exists(Path.of(dir, spec.itemFile()))) {
        files.add(spec.itemFile());
      }
      for (String f : files) {
        if (!spec.checksums().containsKey(f)) {
          throw new ScorerException(Path.of(dir, "model.json") + " lists no SHA-256 for " + f
              + " (models published on model-updates must checksum every ONNX file)", null);
        }
      }
    }
    OnnxModel model = OnnxModel.load(Path.of(dir), config.runtime());
    if (!model.spec().version().equals(version)) {
      String actual = model.spec().version();
      model.close();
      throw new ScorerException("model directory " + dir + " holds version " + actual + ", not " + version, null);
    }
    OnnxScorer onnx = new OnnxScorer(model, ShapeGrid.defaults(), true);
    MicroBatchingScorer batcher = config.microBatching()
        ? new MicroBatchingScorer(onnx, Math.min(config.batchMaxRows(), onnx.maxBatch()), config.batchMaxWaitMicros())
        : null;
    return new LoadedModel(version, onnx, batcher, System.currentTimeMillis());
  }

  private Path resolve(String uri) {
    Path p = uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri);
    return p.isAbsolute() || config.snapshotDir() == null ? p : Path.of(config.snapshotDir()).resolve(p);
  }

  private static String modelPath(String uri) {
    return uri.startsWith("file:") ? Path.of(URI.create(uri)).toString() : uri;
  }

  private static RetrievalResponse base(RetrievalRequest req, ResponseStatus status, String detail) {
    RetrievalResponse r = new RetrievalResponse();
    r.setRequestId(req.getRequestId() == null ? "" : req.getRequestId());
    r.setUserId(req.getUserId());
    r.setStatus(status);
    r.setDetail(detail);
    r.setItems(List.of());
    r.setScores(List.of());
    r.setIndexVersion(-1L);
    r.setModelVersion("");
    r.setItemsScored(0);
    r.setLatencyMillis(0f);
    r.setEngineMillis(0f);
    return r;
  }

  /** An error answer for {@code req}. */
  public static RetrievalResponse error(RetrievalRequest req, ResponseStatus status, String detail) {
    return base(req, status, detail);
  }

  private static RetrievalResponse error(RetrievalRequest req, ResponseStatus status, String detail, LoadedIndex index,
                                         LoadedModel model) {
    RetrievalResponse r = base(req, status, detail);
    r.setIndexVersion(index.version());
    r.setModelVersion(model.version());
    return r;
  }

  @Override
  public synchronized void close() {
    closed = true;
    walkers.shutdownNow();
    loader.shutdownNow();
    if (paths != null) {
      paths.close();
    }
    indexes.unpin();
    acceptedLeases.values().forEach(SharedRegistry.Lease::close);
    acceptedLeases.clear();
  }

  /** A walker thread's searchers for the last two (index, scorer) pairs it served. */
  private static final class SearcherCache {
    private LoadedIndex index0;
    private Scorer scorer0;
    private Searcher searcher0;
    private LoadedIndex index1;
    private Scorer scorer1;
    private Searcher searcher1;

    private QueryExecutor executor;

    /** This thread's query executor (it owns the fresh set's scoring scratch). */
    QueryExecutor executor(RetrievalEngine engine) {
      if (executor == null) {
        executor = new QueryExecutor(engine.paths, engine.config.drBeam());
      }
      return executor;
    }

    Searcher get(LoadedIndex index, Scorer scorer) {
      if (index0 == index && scorer0 == scorer) {
        return searcher0;
      }
      if (index1 == index && scorer1 == scorer) {
        return searcher1;
      }
      index1 = index0;
      scorer1 = scorer0;
      searcher1 = searcher0;
      index0 = index;
      scorer0 = scorer;
      searcher0 = new Searcher(index.index(), scorer);
      return searcher0;
    }
  }
}

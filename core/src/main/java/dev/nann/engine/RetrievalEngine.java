package dev.nann.engine;

import dev.nann.dr.PathModel;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.scorer.MicroBatchingScorer;
import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.ScorerException;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.schemas.internal.BehaviourFeatures;
import dev.nann.shard.ShardPlan;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TaskManager-wide retrieval engine behind the serving job's async operator, a thin front over
 * its parts: the {@link IndexCatalog} (snapshots), the {@link ModelCatalog} (models), the
 * {@link FreshSet} (catalog changes not yet in a snapshot), a pool of walker threads each with its
 * own {@link WalkerScratch}, and the {@link QueryExecutor} that answers one query.
 *
 * <p>Every task gets exactly one response: a result, or a status saying why not
 * ({@link RequestProtocol}). Operator instances share an engine through {@link #acquire}/{@link #release}.
 */
public final class RetrievalEngine implements AutoCloseable {
  /** Names of the walker threads start with this (a request's user network, walk and scoring run there). */
  public static final String WALKER_THREAD_PREFIX = "nann-walker-";
  /** How long {@link #close} waits for walkers to finish the queries they are on. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(RetrievalEngine.class);

  private static final Map<EngineConfig, RetrievalEngine> SHARED = new HashMap<>();
  private static final Map<RetrievalEngine, Integer> USERS = new HashMap<>();

  private final EngineConfig config;
  private final SearchParams search;
  private final ThreadPoolExecutor walkers;
  /** Loads descriptors' indexes and models off the walker threads, one at a time, in arrival order. */
  private final ExecutorService loader;
  private final IndexCatalog indexes;
  private final ModelCatalog models;
  /** Catalog changes not yet in the live snapshot: upserts are scored exhaustively, deletes excluded. */
  private final FreshSet fresh;
  /** Deep Retrieval's structure for mode=dr, or null when the job has none. */
  private final PathModel paths;
  private final ThreadLocal<WalkerScratch> scratch;
  /** A sharded index: the shard graphs this TaskManager walks. */
  private final ShardCatalog shardGraphs;
  /** A sharded index: behaviour embeddings across all shards, for tasks about to be scattered. */
  private final BehaviourLookup behaviour;
  /** The newest sharded version the fresh set was pruned against. */
  private final AtomicLong freshPrunedFor = new AtomicLong(-1);
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong shed = new AtomicLong();
  private final AtomicLong abandoned = new AtomicLong();
  private final AtomicLong freshRefused = new AtomicLong();
  private final AtomicLong freshWrongDim = new AtomicLong();

  /** Starts an engine; prefer {@link #acquire} so operators in one JVM share it. */
  public RetrievalEngine(EngineConfig config) {
    this.config = config;
    this.search = config.search();
    // a bounded queue: past it requests are shed at once (OVERLOADED) instead of waiting without end
    this.walkers = new ThreadPoolExecutor(config.walkers(), config.walkers(), 0L, TimeUnit.MILLISECONDS,
        new ArrayBlockingQueue<>(config.taskCapacity()), DaemonThreads.named(WALKER_THREAD_PREFIX));
    this.loader = Executors.newSingleThreadExecutor(DaemonThreads.named("nann-loader-"));
    ModelSpec spec = ModelSpec.read(Path.of(config.defaultModelDir()));
    this.fresh = new FreshSet(spec.itemDim(), config.freshMaxItems());
    this.indexes = new IndexCatalog(config.guard(), loader, fresh::rebase);
    // the DR structure before the default model, and closed if the model fails: an operator's open
    // that throws here is retried by Flink's restarts, and runtime sessions have no cleaner, so each
    // failed try would otherwise leave the other's native memory behind in the TaskManager
    this.paths = config.drDir() == null ? null : PathModel.load(Path.of(config.drDir()), spec.itemDim());
    try {
      this.models = new ModelCatalog(config, spec, loader, indexes::live);
    } catch (RuntimeException | Error e) {   // the pools have started no thread yet, the catalogue loaded nothing
      if (paths != null) {
        paths.close();
      }
      throw e;
    }
    this.scratch = ThreadLocal.withInitial(() -> new WalkerScratch(paths, config.drBeam()));
    this.shardGraphs = new ShardCatalog(config.guard(), loader);
    this.behaviour = new BehaviourLookup(config.guard(), loader);
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
    return models.defaultVersion();
  }

  /** Queries accepted and not yet answered. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Newest index version this engine has served, or -1. */
  public long indexVersion() {
    return indexes.newestVersion();
  }

  /** Build time of the newest index this engine has served (epoch ms), or 0. */
  public long indexCreatedAtMillis() {
    return indexes.liveCreatedAtMillis();
  }

  /** Index versions refused since start (corrupt, missing or inconsistent snapshots). */
  public long refusedIndexes() {
    return indexes.refusedCount();
  }

  /** Version of the newest accepted model (the default until a descriptor names another). */
  public String modelVersion() {
    String v = models.newestVersion();
    return v == null ? "" : v;
  }

  /** When the current model was loaded on this TaskManager (epoch ms), or 0. */
  public long modelLoadedAtMillis() {
    LoadedModel m = models.newestLoaded();
    return m == null ? 0L : m.loadedAtMillis();
  }

  /** The current model's batcher (for batch-fill metrics), or null when batching is off. */
  public MicroBatchingScorer batcher() {
    LoadedModel m = models.newestLoaded();
    return m == null ? null : m.batcher();
  }

  /** Models held loaded now (tests: what a swap lets go must be closed). */
  int loadedModels() {
    return models.loaded();
  }

  /** Index versions held loaded now (tests: what a swap lets go must be closed). */
  int loadedIndexes() {
    return indexes.loaded();
  }

  /** Model versions refused since start (corrupt, incompatible or unloadable). */
  public long refusedModels() {
    return models.refusedCount();
  }

  /** Starts loading an index version in the background (called when its descriptor arrives). */
  public void prefetch(IndexDescriptor d) {
    indexes.prefetch(d);
  }

  /**
   * Admits a model named by a {@code model-updates} descriptor in the background (see
   * {@link ModelCatalog}); until it is accepted requests are answered by the model before it.
   *
   * @return completes when the model is accepted, refused or ignored
   */
  public CompletableFuture<Void> prefetch(ModelDescriptor d) {
    return models.prefetch(d);
  }

  /** After a restart: the models served before it, newest first; see {@link ModelCatalog#restore}. */
  public CompletableFuture<Void> restoreModels(List<ModelDescriptor> newestFirst) {
    return models.restore(newestFirst);
  }

  /**
   * A sharded index version's manifest arrived: its shards are mapped for behaviour lookups in the
   * background, before requests are stamped with it.
   */
  public void prefetchSharded(IndexDescriptor manifest) {
    behaviour.prefetch(manifest);
  }

  /**
   * Why a sharded version must not be used for requests (one of its shards does not map or verify
   * against its manifest: the current version keeps serving), or null when it may. Maps the version
   * now if {@link #prefetchSharded} has not.
   */
  public String shardedRefusal(IndexDescriptor manifest) {
    return behaviour.refusal(manifest);
  }

  /**
   * The user network's input for a task on a sharded index, looked up across all shards of the
   * version {@code manifest} names (maps them now if {@link #prefetchSharded} has not). The first
   * time a version is used, the catalog changes it holds leave the fresh set.
   */
  public BehaviourFeatures behaviourFeatures(IndexDescriptor manifest, List<Long> sequence) {
    UserFeatures f = behaviour.features(manifest, sequence);
    long prev = freshPrunedFor.get();
    if (manifest.getVersion() > prev && freshPrunedFor.compareAndSet(prev, manifest.getVersion())) {
      FreshSet.Holder holder = behaviour.holder(manifest);
      loader.execute(() -> fresh.dropHeld(holder, f.dim()));
    }
    return BehaviourLookup.encode(f);
  }

  /**
   * Applies a catalog change at once: an upsert joins the fresh set (scored by every query and
   * merged into its top-k), a delete excludes the item from every answer; both until a live
   * snapshot holds the change.
   *
   * @return what the fresh set holds for the item now; {@link ChangeOutcome#REFUSED} when the set is full
   *     (rebuilds lag) or the embedding of another dimension (logged): it waits for the next snapshot
   */
  public ChangeOutcome applyChange(ItemEmbedding item) {
    ChangeOutcome outcome;
    try {
      outcome = fresh.apply(item);
    } catch (IllegalArgumentException wrongDim) {
      if (freshWrongDim.incrementAndGet() % 1000 == 1) {   // a stream of them around a change of dimension
        LOG.warn("catalog change refused ({} so far): {}", freshWrongDim.get(), wrongDim.getMessage());
      }
      outcome = ChangeOutcome.REFUSED;
    }
    if (outcome == ChangeOutcome.REFUSED) {
      freshRefused.incrementAndGet();
    }
    return outcome;
  }

  /** Times a newly live index let the fresh set go of what it holds: a copy of the set prunes then. */
  public long freshRebases() {
    return fresh.rebases();
  }

  /** Whether the fresh set holds a change of this item (no live snapshot holds it yet). */
  public boolean holdsFreshChange(long itemId) {
    return fresh.holds(itemId);
  }

  /** Catalog changes refused since start: the fresh set was full, or the embedding of another dimension. */
  public long freshRefusedCount() {
    return freshRefused.get();
  }

  /** Items upserted and not yet in the live snapshot (what every query scores on top of the walk). */
  public int freshCount() {
    return fresh.view().liveUpserts();
  }

  /** Requests shed since start because the queue was full (answered OVERLOADED). */
  public long shedCount() {
    return shed.get();
  }

  /** Requests dropped from the queue unanswered since start because their caller gave up (timed out). */
  public long abandonedCount() {
    return abandoned.get();
  }

  /**
   * Answers a task on a walker thread. The future never completes exceptionally; when the queue is
   * full it is answered OVERLOADED at once. A caller that gives up completes or cancels the future
   * itself: a walker then skips the task instead of walking for nobody.
   */
  public CompletableFuture<RetrievalResponse> submit(ScoringTask task) {
    if (pastDeadline(task.getRequest())) {   // answered without taking a place in the queue from one still waited for
      return CompletableFuture.completedFuture(deadlinePassed(task.getRequest()));
    }
    if (task.getShard() >= 0 && task.getNext() != null) {
      shardGraphs.prefetch(task.getNext(), task.getShard());   // the next version: load this shard ahead of it
    }
    inFlight.incrementAndGet();
    CompletableFuture<RetrievalResponse> f = new CompletableFuture<>();
    try {
      walkers.execute(new WalkerTask(task.getRequest(), f, () -> {
        try {
          if (f.isDone()) {
            abandoned.incrementAndGet();
          } else {
            f.complete(answer(task));
          }
        } catch (Throwable t) {
          f.complete(RequestProtocol.error(task.getRequest(), ResponseStatus.UNKNOWN, "internal error: " + t));
        } finally {
          inFlight.decrementAndGet();
        }
      }));
    } catch (RejectedExecutionException rejected) {
      inFlight.decrementAndGet();
      if (walkers.isShutdown()) {
        f.complete(RequestProtocol.error(task.getRequest(), ResponseStatus.UNKNOWN, WalkerTask.SHUT_DOWN));
      } else {
        shed.incrementAndGet();
        f.complete(RequestProtocol.error(task.getRequest(), ResponseStatus.OVERLOADED, "the engine is at capacity ("
            + config.taskCapacity() + " tasks waiting); retry later"));
      }
    }
    return f;
  }

  private static boolean pastDeadline(RetrievalRequest req) {
    return req.getDeadlineMillis() > 0 && System.currentTimeMillis() > req.getDeadlineMillis();
  }

  private static RetrievalResponse deadlinePassed(RetrievalRequest req) {
    return RequestProtocol.error(req, ResponseStatus.TIMEOUT, "deadline passed before the engine started on the request");
  }

  /** Answers a task on the calling thread. */
  public RetrievalResponse answer(ScoringTask task) {
    long start = System.nanoTime();
    long startMicros = RequestProtocol.nowMicros();
    RetrievalRequest req = task.getRequest();
    if (pastDeadline(req)) {
      return deadlinePassed(req);
    }
    IndexDescriptor d = task.getIndex();
    if (d == null) {
      return RequestProtocol.error(req, ResponseStatus.NO_INDEX, "the task names no index version");
    }
    // a scattered task: exactly the shard version its manifest names (never another, so one answer
    // never mixes versions), the behaviour the task carries, and the shard's share of k and budget
    int shard = task.getShard();
    int shards = task.getShardCount() > 0 ? task.getShardCount() : d.getShards().size();
    if (shard >= 0 && (shard >= shards || dev.nann.shard.ShardEntries.of(d, shard) == null)) {
      return RequestProtocol.error(req, ResponseStatus.UNKNOWN, "index version " + d.getVersion() + " has "
          + shards + " shards, no shard " + shard, d.getVersion(), "");
    }
    SharedRegistry<Long, LoadedIndex>.Lease indexLease = shard >= 0 ? shardGraphs.lease(d, shard) : indexes.lease(d);
    if (indexLease == null) {
      // the refusal's reason names paths: it is logged, never sent to clients
      return shard >= 0
          ? RequestProtocol.error(req, ResponseStatus.NO_INDEX, "shard " + shard + " of index version "
              + d.getVersion() + " cannot be served", d.getVersion(), "")
          : RequestProtocol.error(req, ResponseStatus.NO_INDEX, "index version " + d.getVersion()
              + " cannot be served and no earlier version is loaded");
    }
    try (indexLease) {
      LoadedIndex index = indexLease.value();
      // what the answer names: the manifest's version for a shard, the version leased otherwise
      long version = shard >= 0 ? d.getVersion() : index.version();
      SharedRegistry<String, LoadedModel>.Lease modelLease = models.lease(task.getModel(), index, req.getDeadlineMillis());
      if (modelLease == null) {
        return RequestProtocol.error(req, ResponseStatus.SCORER_ERROR, "no accepted model scores items of dim "
            + index.index().dim() + " for index version " + version + models.refusalOf(task.getModel()), version, "");
      }
      try (modelLease) {
        // before the shard plan, which a k far out of range would break
        String invalid = RequestProtocol.validate(req, config);
        if (invalid != null) {
          return RequestProtocol.error(req, ResponseStatus.INVALID, invalid, version, modelLease.value().version());
        }
        int k = req.getK();
        ShardPlan plan = shard < 0 ? null : ShardPlan.of(shards, k,
            search.withBudget(config.budgetFor(req.getBudget(), k)));
        RetrievalResponse r = search(task, index, modelLease.value(), plan);
        r.setIndexVersion(version);
        return timed(r, task, start, startMicros);
      }
    }
  }

  private static RetrievalResponse timed(RetrievalResponse r, ScoringTask task, long start, long startMicros) {
    r.setEngineMillis((System.nanoTime() - start) / 1e6f);
    Long queued = task.getStamps() == null ? null : task.getStamps().get("stateOut");
    if (queued != null && queued > 0) {
      r.getTimings().put("queue", Math.max(0, startMicros - queued) / 1e3f);
    }
    return r;
  }

  /**
   * @param plan a shard's share of the query (its k and budget), or null for an unsharded index
   */
  private RetrievalResponse search(ScoringTask task, LoadedIndex index, LoadedModel model, ShardPlan plan) {
    RetrievalRequest req = task.getRequest();
    Scorer scorer = model.scorer();
    if (scorer.itemDim() != index.index().dim()) {
      return failed(req, ResponseStatus.SCORER_ERROR, "model " + model.version() + " scores items of dim "
          + scorer.itemDim() + " but index version " + index.version() + " holds dim " + index.index().dim(), index, model);
    }
    SearchMode mode = SearchMode.parse(req.getMode());
    if (mode == SearchMode.DR && paths == null) {
      return failed(req, ResponseStatus.INVALID, "mode dr needs a Deep Retrieval structure on this job (dr.dir)",
          index, model);
    }
    int k = req.getK();
    Set<Long> excluded = new HashSet<>(req.getExcludeItems());
    if (req.getExcludeSeen()) {
      excluded.addAll(task.getSequence());
    }
    UserFeatures features;
    try {
      features = task.getFeatures() != null ? BehaviourLookup.decode(task.getFeatures(), index.index().dim())
          : index.features(task.getSequence());
    } catch (IllegalArgumentException e) {
      return failed(req, ResponseStatus.INVALID, e.getMessage(), index, model);
    }
    QueryExecutor.Query query = plan == null
        ? new QueryExecutor.Query(mode, k, search.withBudget(config.budgetFor(req.getBudget(), k)), excluded,
            RequestProtocol.attributeFilter(req))
        // exact modes return k from each shard: their share of the top-k costs nothing to hold
        : new QueryExecutor.Query(mode, mode == SearchMode.BRUTE || mode == SearchMode.DR ? k : plan.shardK(),
            plan.shardParams(), excluded,
            RequestProtocol.attributeFilter(req), task.getShard(), plan.shards());
    WalkerScratch s = scratch.get();
    QueryExecutor.Answer answer;
    // the fresh set: deleted items never come back; upserted ones are scored by the executor, so
    // the graph's (older or missing) copy of them is skipped
    long userStart = System.nanoTime();
    long userNanos;
    try (UserState user = scorer.user(features)) {   // the user network runs once per request
      userNanos = System.nanoTime() - userStart;
      answer = s.executor().run(s.searcher(index, scorer), index, scorer, model.descents(), user, features, query,
          fresh.view());
    } catch (ScorerException e) {
      return failed(req, ResponseStatus.SCORER_ERROR, e.getMessage(), index, model);
    }
    List<Long> items = new ArrayList<>(answer.size());
    List<Float> scores = new ArrayList<>(answer.size());
    for (int i = 0; i < answer.size(); i++) {
      items.add(answer.items()[i]);
      scores.add(answer.scores()[i]);
    }
    boolean cold = features.length() == 0;
    RetrievalResponse r = RequestProtocol.answer(req, cold ? ResponseStatus.COLD_START : ResponseStatus.OK,
        cold ? "no behaviour history in the index: ranked by the user network on an empty sequence (profile alone)" : "",
        index.version(), model.version(), items, scores, answer.scored());
    r.setScoreCalls(answer.walk().scoreCalls());
    float walkMs = answer.walk().totalNanos() / 1e6f;
    float scorerMs = answer.walk().scorerNanos() / 1e6f;
    r.getTimings().put("user_network", userNanos / 1e6f);
    r.getTimings().put("scorer", scorerMs);
    r.getTimings().put("walk", Math.max(0, walkMs - scorerMs));
    return r;
  }

  private static RetrievalResponse failed(RetrievalRequest req, ResponseStatus status, String detail, LoadedIndex index,
                                          LoadedModel model) {
    return RequestProtocol.error(req, status, detail, index.version(), model.version());
  }

  /**
   * Stops the engine: queued requests are answered UNKNOWN (engine shut down), the ones being walked
   * get {@link #CLOSE_WAIT} to finish before what they use is closed.
   */
  @Override
  public synchronized void close() {
    boolean stopped = WalkerTask.shutDown(walkers, CLOSE_WAIT, inFlight::decrementAndGet);
    loader.shutdownNow();
    shardGraphs.close();
    if (paths != null && stopped) {
      paths.close();
    } else if (paths != null) {
      // indexes and models are leased, so they outlive their walkers; the DR structure is not
      LOG.warn("walker threads still running {} after close: the Deep Retrieval structure is left open rather than "
          + "closed under them", CLOSE_WAIT);
    }
    indexes.close();
    models.close();
  }
}

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
import java.nio.file.Path;
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
  private static final Map<EngineConfig, RetrievalEngine> SHARED = new HashMap<>();
  private static final Map<RetrievalEngine, Integer> USERS = new HashMap<>();

  private final EngineConfig config;
  private final SearchParams search;
  private final ExecutorService walkers;
  /** Loads descriptors' indexes and models off the walker threads, one at a time, in arrival order. */
  private final ExecutorService loader;
  private final IndexCatalog indexes;
  private final ModelCatalog models;
  /** Catalog changes not yet in the live snapshot: upserts are scored exhaustively, deletes excluded. */
  private final FreshSet fresh;
  /** Deep Retrieval's structure for mode=dr, or null when the job has none. */
  private final PathModel paths;
  private final ThreadLocal<WalkerScratch> scratch;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong shed = new AtomicLong();
  private final AtomicLong abandoned = new AtomicLong();
  private final AtomicLong freshRefused = new AtomicLong();

  /** Starts an engine; prefer {@link #acquire} so operators in one JVM share it. */
  public RetrievalEngine(EngineConfig config) {
    this.config = config;
    this.search = config.search();
    // a bounded queue: past it requests are shed at once (OVERLOADED) instead of waiting without end
    this.walkers = new ThreadPoolExecutor(config.walkers(), config.walkers(), 0L, TimeUnit.MILLISECONDS,
        new ArrayBlockingQueue<>(config.queueCapacity()), daemons("nann-walker-"));
    this.loader = Executors.newSingleThreadExecutor(daemons("nann-loader-"));
    ModelSpec spec = ModelSpec.read(Path.of(config.defaultModelDir()));
    this.fresh = new FreshSet(spec.itemDim(), config.freshMaxItems());
    this.indexes = new IndexCatalog(config.guard(), loader, fresh::rebase);
    this.models = new ModelCatalog(config, spec, loader, indexes::live);
    this.paths = config.drDir() == null ? null : PathModel.load(Path.of(config.drDir()), spec.itemDim());
    this.scratch = ThreadLocal.withInitial(() -> new WalkerScratch(paths, config.drBeam()));
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

  /**
   * Applies a catalog change at once: an upsert joins the fresh set (scored by every query and
   * merged into its top-k), a delete excludes the item from every answer; both until a live
   * snapshot holds the change.
   *
   * @return false when the fresh set is full (rebuilds are not keeping up): the change waits for the
   *     next snapshot
   */
  public boolean applyChange(ItemEmbedding item) {
    boolean applied = fresh.apply(item);
    if (!applied) {
      freshRefused.incrementAndGet();
    }
    return applied;
  }

  /** Catalog changes refused since start because the fresh set was full. */
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
    inFlight.incrementAndGet();
    CompletableFuture<RetrievalResponse> f = new CompletableFuture<>();
    try {
      walkers.execute(() -> {
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
      });
    } catch (RejectedExecutionException rejected) {
      inFlight.decrementAndGet();
      if (walkers.isShutdown()) {
        f.complete(RequestProtocol.error(task.getRequest(), ResponseStatus.UNKNOWN, "engine is shut down"));
      } else {
        shed.incrementAndGet();
        f.complete(RequestProtocol.error(task.getRequest(), ResponseStatus.OVERLOADED, "the engine is at capacity ("
            + config.queueCapacity() + " requests waiting); retry later"));
      }
    }
    return f;
  }

  /** Answers a task on the calling thread. */
  public RetrievalResponse answer(ScoringTask task) {
    long start = System.nanoTime();
    long startMicros = RequestProtocol.nowMicros();
    RetrievalRequest req = task.getRequest();
    if (req.getDeadlineMillis() > 0 && System.currentTimeMillis() > req.getDeadlineMillis()) {
      return RequestProtocol.error(req, ResponseStatus.TIMEOUT, "deadline passed before the engine started on the request");
    }
    IndexDescriptor d = task.getIndex();
    SharedRegistry<Long, LoadedIndex>.Lease indexLease = indexes.lease(d);
    if (indexLease == null) {
      // the refusal's reason names paths: it is logged, never sent to clients
      return RequestProtocol.error(req, ResponseStatus.NO_INDEX, "index version " + d.getVersion()
          + " cannot be served and no earlier version is loaded");
    }
    try (indexLease) {
      LoadedIndex index = indexLease.value();
      SharedRegistry<String, LoadedModel>.Lease modelLease = models.lease(task.getModel(), index, req.getDeadlineMillis());
      if (modelLease == null) {
        return RequestProtocol.error(req, ResponseStatus.SCORER_ERROR, "no accepted model scores items of dim "
            + index.index().dim() + " for index version " + index.version() + models.refusalOf(task.getModel()),
            index.version(), "");
      }
      try (modelLease) {
        RetrievalResponse r = search(task, index, modelLease.value());
        r.setEngineMillis((System.nanoTime() - start) / 1e6f);
        Long queued = task.getStamps() == null ? null : task.getStamps().get("stateOut");
        if (queued != null && queued > 0) {
          r.getTimings().put("queue", Math.max(0, startMicros - queued) / 1e3f);
        }
        return r;
      }
    }
  }

  private RetrievalResponse search(ScoringTask task, LoadedIndex index, LoadedModel model) {
    RetrievalRequest req = task.getRequest();
    Scorer scorer = model.scorer();
    if (scorer.itemDim() != index.index().dim()) {
      return failed(req, ResponseStatus.SCORER_ERROR, "model " + model.version() + " scores items of dim "
          + scorer.itemDim() + " but index version " + index.version() + " holds dim " + index.index().dim(), index, model);
    }
    String invalid = RequestProtocol.validate(req, config);
    if (invalid != null) {
      return failed(req, ResponseStatus.INVALID, invalid, index, model);
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
    UserFeatures features = index.features(task.getSequence());
    QueryExecutor.Query query = new QueryExecutor.Query(mode, k, search.withBudget(config.budgetFor(req.getBudget(), k)),
        excluded, RequestProtocol.attributeFilter(req));
    WalkerScratch s = scratch.get();
    QueryExecutor.Answer answer;
    // the fresh set: deleted items never come back; upserted ones are scored by the executor, so
    // the graph's (older or missing) copy of them is skipped
    long userStart = System.nanoTime();
    long userNanos;
    try (UserState user = scorer.user(features)) {   // the user network runs once per request
      userNanos = System.nanoTime() - userStart;
      answer = s.executor().run(s.searcher(index, scorer), index, scorer, user, features, query, fresh.view());
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

  @Override
  public synchronized void close() {
    walkers.shutdownNow();
    loader.shutdownNow();
    if (paths != null) {
      paths.close();
    }
    indexes.close();
    models.close();
  }

  private static java.util.concurrent.ThreadFactory daemons(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}

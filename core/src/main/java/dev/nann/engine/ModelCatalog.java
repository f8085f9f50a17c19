package dev.nann.engine;

import dev.nann.schemas.ModelDescriptor;
import dev.nann.scorer.MicroBatchingScorer;
import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.ScorerException;
import dev.nann.search.DescentChooser;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models one engine serves: the configured default, then each model a descriptor names,
 * admitted in the background only after every check passes (checksums, contract, item dimension
 * against its descriptor and the live index) and every batch size is warmed. The newest
 * {@link #MODELS_KEPT} accepted models stay loaded; each request is answered by the model it was
 * stamped with when that one fits its index, else by the newest that does. A refused model never
 * serves; the one before it keeps serving. Versions only move forward ({@link ModelVersions}).
 */
final class ModelCatalog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelCatalog.class);

  /** Accepted models kept loaded: the newest and the one before (for requests still on it). */
  static final int MODELS_KEPT = 2;

  /** Longest a task waits for a model it was stamped with when no loaded model fits its index. */
  private static final long MODEL_WAIT_MS = 30_000;

  private final EngineConfig config;
  private final Executor loader;
  private final DescriptorGuard guard;
  private final Supplier<LoadedIndex> liveIndex;
  private final SharedRegistry<String, LoadedModel> models;
  private final Map<String, String> dirs = new ConcurrentHashMap<>();
  private final Map<String, ModelDescriptor> descriptors = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> loads = new ConcurrentHashMap<>();
  private final Map<String, String> refused = new ConcurrentHashMap<>();
  private final AtomicLong refusedCount = new AtomicLong();
  /** Models that passed every check, oldest first; the catalogue holds a lease on each. */
  private volatile List<AcceptedModel> accepted = List.of();
  private final Map<String, SharedRegistry<String, LoadedModel>.Lease> leases = new HashMap<>();   // guarded by this
  private boolean closed;   // guarded by this
  private final String defaultVersion;
  /** The models checkpointed before a restart, being admitted again, oldest first ({@link #restore}); null: no restart. */
  private volatile CompletableFuture<Void> restoring;

  /**
   * Loads and warms the configured default model before the first request.
   *
   * @param loader the thread descriptors' models are admitted on
   * @param liveIndex the live index (a model must fit it unless it names its own index), or null
   */
  ModelCatalog(EngineConfig config, ModelSpec defaultSpec, Executor loader, Supplier<LoadedIndex> liveIndex) {
    this.config = config;
    this.loader = loader;
    this.guard = config.guard();
    this.liveIndex = liveIndex;
    this.models = new SharedRegistry<>("model", this::load);
    this.defaultVersion = defaultSpec.version();
    dirs.put(defaultVersion, config.defaultModelDir());
    accept(new AcceptedModel(defaultVersion, defaultSpec.itemDim(), null, false), models.acquire(defaultVersion));
  }

  /** Version of the configured default model. */
  String defaultVersion() {
    return defaultVersion;
  }

  /** Version of the newest accepted model. */
  String newestVersion() {
    return newest().version();
  }

  /** The newest accepted model, read under a short lease (metrics only; nothing is kept), or null. */
  LoadedModel newestLoaded() {
    try (SharedRegistry<String, LoadedModel>.Lease m = models.tryAcquire(newestVersion())) {
      return m == null ? null : m.value();
    }
  }

  /** Models held loaded now (tests: the ones let go must be closed). */
  int loaded() {
    return models.loaded();
  }

  /** Versions refused since start (corrupt, incompatible or unloadable). */
  long refusedCount() {
    return refusedCount.get();
  }

  /**
   * Admits the model a descriptor names, in the background; requests never wait for it.
   *
   * @return completes when the model is accepted, refused or ignored
   */
  CompletableFuture<Void> prefetch(ModelDescriptor d) {
    String v = d.getVersion();
    descriptors.putIfAbsent(v, d);
    try {
      dirs.putIfAbsent(v, guard.modelDir(d.getUri()).toString());
    } catch (RuntimeException e) {
      refuse(v, e.getMessage());
      return loads.computeIfAbsent(v, k -> CompletableFuture.completedFuture(null));
    }
    return loads.computeIfAbsent(v, k -> CompletableFuture.runAsync(() -> admit(d), loader)
        .whenComplete((ok, err) -> {
          if (err != null) {
            LOG.error("admitting model {} failed: {}", v, err.toString());
          }
        }));
  }

  /**
   * After a restart, the models the job served before it (the checkpointed descriptors, newest
   * first) are admitted again, oldest first, so the catalogue holds what it held before: a model
   * refused before the restart is refused again and the one before it serves, not the configured
   * default (possibly much older, or of another item dimension than the index), and a newest model
   * paired with an index not yet live leaves the one before it serving that index. Until they are
   * in, tasks wait (up to their deadline, at most {@value #MODEL_WAIT_MS} ms) instead of being
   * answered by the default. The first call counts; later ones (every subtask restores) return the
   * same future.
   */
  synchronized CompletableFuture<Void> restore(List<ModelDescriptor> newestFirst) {
    if (restoring == null) {
      CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
      for (int i = newestFirst.size() - 1; i >= 0; i--) {
        ModelDescriptor d = newestFirst.get(i);
        chain = chain.thenCompose(done -> prefetch(d));
      }
      restoring = chain.exceptionally(e -> null);
    }
    return restoring;
  }

  /**
   * A lease on the model that answers a task on {@code index}: the stamped version when it is
   * accepted and fits, else the newest accepted model that fits. A stamped version this engine has
   * not seen (a restored job) starts loading; the task waits for it (until {@code deadlineMillis},
   * 0 = none) only when no accepted model fits. Null when nothing fits.
   */
  SharedRegistry<String, LoadedModel>.Lease lease(ModelDescriptor stamped, LoadedIndex index, long deadlineMillis) {
    // an accepted model evicted since it was chosen is not reloaded on a walker thread: choose again
    for (int attempt = 0; attempt < 3; attempt++) {
      String version = choose(stamped, index, deadlineMillis);
      if (version == null) {
        return null;
      }
      SharedRegistry<String, LoadedModel>.Lease lease = models.tryAcquire(version);
      if (lease != null) {
        return lease;
      }
    }
    return null;
  }

  /**
   * " (model V was refused; ...)" when the stamped model was refused, else "": for client answers,
   * so without the reason (it may name paths); the log has it.
   */
  String refusalOf(ModelDescriptor stamped) {
    boolean wasRefused = stamped != null && refused.containsKey(stamped.getVersion());
    return wasRefused ? " (model " + stamped.getVersion() + " was refused; the job's log says why)" : "";
  }

  /** Why a model version was refused, or null (logs, tests). */
  String refusal(String version) {
    return refused.get(version);
  }

  @Override
  public synchronized void close() {
    closed = true;
    leases.values().forEach(SharedRegistry.Lease::close);
    leases.clear();
  }

  private String choose(ModelDescriptor stamped, LoadedIndex index, long deadlineMillis) {
    CompletableFuture<Void> restore = restoring;
    if (restore != null && !restore.isDone()) {
      awaitQuietly(restore, deadlineMillis);
    }
    if (stamped != null) {
      String v = stamped.getVersion();
      AcceptedModel a = accepted(v);
      if (a != null && a.fits(index)) {
        return v;   // the common case: nothing to look up or parse per request
      }
      CompletableFuture<Void> load = loads.get(v);
      if (load == null) {
        load = prefetch(stamped);
      }
      if (a == null && !load.isDone() && newestFitting(index) == null) {
        awaitQuietly(load, deadlineMillis);
        a = accepted(v);
        if (a != null && a.fits(index)) {
          return v;
        }
      }
    }
    AcceptedModel m = newestFitting(index);
    return m == null ? null : m.version();
  }

  private void admit(ModelDescriptor d) {
    String v = d.getVersion();
    if (accepted(v) != null) {
      return;   // already serving (e.g. a descriptor naming the configured default model)
    }
    AcceptedModel newest = newest();
    if (newest.fromDescriptor() && ModelVersions.compare(v, newest.version()) <= 0) {
      LOG.warn("model {} ignored: {} is newer (model versions only move forward)", v, newest.version());
      return;
    }
    SharedRegistry<String, LoadedModel>.Lease lease;
    try {
      lease = models.acquire(v);
    } catch (RuntimeException e) {
      refuse(v, e.getMessage());
      return;
    }
    int dim = lease.value().onnx().itemDim();
    String problem = null;
    if (dim != d.getItemDim()) {
      problem = "it scores items of dim " + dim + " but its descriptor says " + d.getItemDim();
    } else if (d.getIndexVersion() == null) {
      LoadedIndex live = liveIndex.get();
      if (live != null && live.index().dim() != dim) {
        problem = "it scores items of dim " + dim + " but the live index " + live.version() + " holds dim "
            + live.index().dim() + " (a model for new item embeddings names its index in indexVersion)";
      }
    }
    if (problem != null) {
      lease.close();
      refuse(v, problem);
      return;
    }
    accept(new AcceptedModel(v, dim, d.getIndexVersion(), true), lease);
    LOG.info("model {} accepted on {} (item dim {}{})", v, lease.value().onnx().model().provider(), dim,
        d.getIndexVersion() == null ? "" : ", serves index versions >= " + d.getIndexVersion());
  }

  private void refuse(String version, String why) {
    if (refused.putIfAbsent(version, String.valueOf(why)) == null) {
      refusedCount.incrementAndGet();
      LOG.error("model {} refused, the previous model keeps serving: {}", version, why);
    }
  }

  /** Adds a checked model; keeps the newest {@link #MODELS_KEPT} loaded and lets older ones go. */
  private synchronized void accept(AcceptedModel model, SharedRegistry<String, LoadedModel>.Lease lease) {
    if (closed) {
      lease.close();   // a load that finished after close(): nothing may keep it
      return;
    }
    List<AcceptedModel> next = new ArrayList<>(accepted);
    next.add(model);
    leases.put(model.version(), lease);
    // the live index must keep a model that fits it (a newer model may wait for its paired index)
    LoadedIndex live = liveIndex.get();
    AcceptedModel keep = null;
    for (AcceptedModel m : next) {
      if (live != null && m.fits(live)) {
        keep = m;
      }
    }
    List<SharedRegistry<String, LoadedModel>.Lease> letGo = new ArrayList<>();
    for (int i = 0; next.size() > MODELS_KEPT && i < next.size() - 1; ) {
      AcceptedModel old = next.get(i);
      if (old == keep) {
        i++;
        continue;
      }
      next.remove(i);
      letGo.add(leases.remove(old.version()));
    }
    accepted = List.copyOf(next);
    // closed once no request can choose them any more; each closes once its in-flight requests finish
    letGo.forEach(SharedRegistry.Lease::close);
  }

  private AcceptedModel newest() {
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

  private AcceptedModel newestFitting(LoadedIndex index) {
    List<AcceptedModel> a = accepted;
    for (int i = a.size() - 1; i >= 0; i--) {
      if (a.get(i).fits(index)) {
        return a.get(i);
      }
    }
    return null;
  }

  private static void awaitQuietly(CompletableFuture<Void> load, long deadlineMillis) {
    long wait = deadlineMillis > 0 ? deadlineMillis - System.currentTimeMillis() : MODEL_WAIT_MS;
    try {
      load.get(Math.max(0, Math.min(wait, MODEL_WAIT_MS)), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // the caller answers with whatever fits, or an error saying nothing does
    }
  }

  private LoadedModel load(String version) {
    String dir = dirs.get(version);
    if (dir == null) {
      throw new IllegalStateException("no model directory known for version " + version);
    }
    ModelDescriptor d = descriptors.get(version);
    if (d != null) {
      checkPinned(dir, version, d);
    }
    // the pin again, on the bytes the served spec is parsed from (the file may change in between)
    OnnxModel model = OnnxModel.load(Path.of(dir), config.runtime(), d == null ? null : d.getSha256());
    if (!model.spec().version().equals(version)) {
      String actual = model.spec().version();
      model.close();
      throw new ScorerException("model directory " + dir + " holds version " + actual + ", not " + version, null);
    }
    OnnxScorer onnx = new OnnxScorer(model, true);   // closes the model itself if its warm-up refuses it
    MicroBatchingScorer batcher;
    try {
      batcher = config.microBatching()
          ? new MicroBatchingScorer(onnx, Math.min(config.batchMaxRows(), onnx.maxBatch()), config.batchMaxWaitMicros())
          : null;
    } catch (RuntimeException | Error e) {   // a refused model's sessions (GPU memory with them) must not outlive it
      onnx.close();
      throw e;
    }
    return new LoadedModel(version, onnx, batcher, System.currentTimeMillis(),
        new DescentChooser(choice -> LOG.info("model {}: {}", version, choice)));
  }

  /** A model delivered at runtime must match its descriptor and pin every network it runs, not only model.json. */
  private static void checkPinned(String dir, String version, ModelDescriptor d) {
    String actual = ModelSpec.sha256(Path.of(dir, "model.json"));
    if (!actual.equalsIgnoreCase(d.getSha256())) {
      throw new ScorerException(Path.of(dir, "model.json") + " has SHA-256 " + actual + " but the descriptor of model "
          + version + " says " + d.getSha256(), null);
    }
    ModelSpec spec = ModelSpec.read(Path.of(dir), d.getSha256());
    List<String> files = new ArrayList<>(List.of(spec.userFile(), spec.scoreFile()));
    if (spec.itemFile() != null) {   // listed: pinned too, or a file appearing before the load runs unchecked
      files.add(spec.itemFile());
    }
    for (String f : files) {
      if (!spec.checksums().containsKey(f)) {
        throw new ScorerException(Path.of(dir, "model.json") + " lists no SHA-256 for " + f
            + " (models published on model-updates must checksum every ONNX file)", null);
      }
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
}

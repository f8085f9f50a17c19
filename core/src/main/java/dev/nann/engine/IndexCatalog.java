package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index snapshots one engine serves: loads a version when its descriptor arrives (in the
 * background, so walkers never wait for a load), checks it against the descriptor (SHA-256,
 * version), makes the newest loaded version the live one, and keeps serving the previous version
 * when a newer one is refused. Versions only move forward.
 */
final class IndexCatalog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IndexCatalog.class);

  private final SharedRegistry<Long, LoadedIndex> indexes;
  private final Map<Long, IndexDescriptor> descriptors = new ConcurrentHashMap<>();
  /** Versions the loader thread is loading; requests stamped with one are answered on the live one meanwhile. */
  private final Set<Long> prefetching = ConcurrentHashMap.newKeySet();
  private final Map<Long, String> refused = new ConcurrentHashMap<>();
  private final AtomicLong refusedCount = new AtomicLong();
  private final AtomicLong newestVersion = new AtomicLong(-1);
  private final DescriptorGuard guard;
  private final Executor loader;
  private final Consumer<LoadedIndex> onLive;

  /**
   * @param guard where snapshots may be read from
   * @param loader the thread descriptors' loads run on
   * @param onLive told of each index that becomes live (the fresh set rebases on it)
   */
  IndexCatalog(DescriptorGuard guard, Executor loader, Consumer<LoadedIndex> onLive) {
    this(guard, loader, onLive, null);
  }

  /** With {@code read} loading a version in place of reading its snapshot file (tests: a load that fails). */
  IndexCatalog(DescriptorGuard guard, Executor loader, Consumer<LoadedIndex> onLive,
               java.util.function.Function<IndexDescriptor, LoadedIndex> read) {
    this.guard = guard;
    this.loader = loader;
    this.onLive = onLive;
    this.indexes = new SharedRegistry<>("index", read == null ? this::load : v -> read.apply(descriptor(v)));
  }

  /** Starts loading a version in the background so the first request for it does not pay for the load. */
  void prefetch(IndexDescriptor d) {
    descriptors.putIfAbsent(d.getVersion(), d);
    prefetching.add(d.getVersion());
    loader.execute(() -> {
      try (SharedRegistry<Long, LoadedIndex>.Lease l = loadOrFallBack(d)) {
        // loaded (and live if newest), or refused and remembered
      } finally {
        prefetching.remove(d.getVersion());
      }
    });
  }

  /**
   * The index a request stamped with {@code d} is answered on: that version when loaded; the live one
   * when the stamped version is still being loaded in the background or is older than the live one
   * and already let go; loaded here only when no load is under way for it (engines driven without
   * {@link #prefetch}). Null when nothing can be served.
   */
  SharedRegistry<Long, LoadedIndex>.Lease lease(IndexDescriptor d) {
    descriptors.putIfAbsent(d.getVersion(), d);
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
    return loadOrFallBack(d);
  }

  /** Descriptors and refusals remembered now (tests: they must not grow with every version). */
  int versionsRemembered() {
    return descriptors.size() + refused.size();
  }

  /** Index versions held loaded now (tests: the ones let go must be closed). */
  int loaded() {
    return indexes.loaded();
  }

  /** The live index, read under a short lease (nothing is kept), or null. */
  LoadedIndex live() {
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

  /** Newest version served so far, or -1. */
  long newestVersion() {
    return newestVersion.get();
  }

  /** Build time of the live index (epoch ms), or 0. */
  long liveCreatedAtMillis() {
    Long v = indexes.pinnedKey();
    IndexDescriptor d = v == null ? null : descriptors.get(v);
    return d == null ? 0L : d.getCreatedAtMillis();
  }

  /** Why a version was refused, or null. */
  String refusal(long version) {
    return refused.get(version);
  }

  /** Versions refused since start (corrupt, missing or inconsistent snapshots). */
  long refusedCount() {
    return refusedCount.get();
  }

  @Override
  public void close() {
    indexes.unpin();
  }

  /**
   * Loads (or shares) the version and makes it live if newest. When that version is refused, a lease
   * on the live version: the previous snapshot keeps serving. A refused version is remembered, so it
   * is not re-read on every request. Null if nothing loads.
   */
  private SharedRegistry<Long, LoadedIndex>.Lease loadOrFallBack(IndexDescriptor d) {
    long version = d.getVersion();
    if (!refused.containsKey(version)) {
      SharedRegistry<Long, LoadedIndex>.Lease lease = loaded(d);
      if (lease != null) {
        return live(lease, version);
      }
    }
    Long fallback = indexes.pinnedKey();
    if (fallback == null) {
      return fromStore(version);
    }
    if (fallback == version) {
      return null;
    }
    try {
      return indexes.acquire(fallback);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * Nothing is live and {@code refusedVersion} does not load (e.g. a job restored from a checkpoint
   * whose newest descriptor names a snapshot since deleted or damaged): the newest older snapshot in
   * the store that loads and verifies (its own SHA-256 trailer) serves instead, so the job answers
   * from an older index rather than NO_INDEX. Null when none does.
   */
  private SharedRegistry<Long, LoadedIndex>.Lease fromStore(long refusedVersion) {
    for (long v : SnapshotStore.versionsIn(guard.snapshotRoot())) {
      if (v >= refusedVersion || refused.containsKey(v)) {
        continue;
      }
      Path file = guard.snapshotFile(SnapshotStore.fileName(v));
      IndexDescriptor d;
      try {
        d = IndexDescriptor.newBuilder().setVersion(v).setUri(file.toString())
            .setSha256(SnapshotFormat.storedChecksum(file)).setItems(0).setDim(0).setCreatedAtMillis(0).build();
      } catch (RuntimeException e) {
        continue;
      }
      descriptors.putIfAbsent(v, d);
      SharedRegistry<Long, LoadedIndex>.Lease lease = loaded(d);
      if (lease != null) {
        LOG.warn("index version {} cannot be served and none is live: serving version {} from the snapshot store "
            + "({}) until a newer one loads", refusedVersion, v, file);
        return live(lease, v);
      }
    }
    return null;
  }

  /** A lease on the version, loaded now if need be, or null when it does not load (then refused). */
  private SharedRegistry<Long, LoadedIndex>.Lease loaded(IndexDescriptor d) {
    try {
      return indexes.acquire(d.getVersion());
    } catch (RuntimeException | OutOfMemoryError e) {
      // a snapshot too large for the heap beside the live one is refused too: else every request
      // stamped with it would load it again on a walker and run out of memory again
      refuse(d, e);
      return null;
    }
  }

  /** {@code lease}, its version made live if newest; let go if that fails (the failure goes on up). */
  private SharedRegistry<Long, LoadedIndex>.Lease live(SharedRegistry<Long, LoadedIndex>.Lease lease, long version) {
    try {
      makeLiveIfNewer(version);
      return lease;
    } catch (RuntimeException | Error e) {
      lease.close();
      throw e;
    }
  }

  private void refuse(IndexDescriptor d, Throwable e) {
    String why = e instanceof OutOfMemoryError ? "out of memory while loading it (" + e.getMessage() + "): give the "
        + "TaskManager heap room for two snapshots, the live one and the next" : String.valueOf(e.getMessage());
    if (refused.putIfAbsent(d.getVersion(), why) == null) {
      refusedCount.incrementAndGet();
      LOG.error("index version {} ({}) refused, the previous version keeps serving: {}", d.getVersion(), d.getUri(), why);
    }
  }

  /**
   * Pins {@code version} and tells {@link #onLive} if it is newer than any so far. One step under a
   * lock: with a compare-and-set alone, a thread that won for version 5 could pin it after another
   * pinned 6, leaving 5 live and 6 unpinned. Only loads come here (a request on a loaded version
   * never does), so the lock is off the per-request path.
   */
  private synchronized void makeLiveIfNewer(long version) {
    long before = newestVersion.get();
    if (version > before) {
      newestVersion.set(version);
      indexes.pin(version);
      // a request stamped with an older version is answered on the live one and needs neither its
      // descriptor nor its refusal: kept, they grew by one a version for the TaskManager's life
      descriptors.keySet().removeIf(v -> v < before);
      refused.keySet().removeIf(v -> v < version);
      try (SharedRegistry<Long, LoadedIndex>.Lease live = indexes.acquire(version)) {
        onLive.accept(live.value());
      }
    }
  }

  private IndexDescriptor descriptor(long version) {
    IndexDescriptor d = descriptors.get(version);
    if (d == null) {
      throw new IllegalStateException("no descriptor for index version " + version);
    }
    return d;
  }

  private LoadedIndex load(long version) {
    IndexDescriptor d = descriptor(version);
    HnswIndex index = readVerifiedOnHeap(guard.snapshotFile(d.getUri()), d.getSha256(), version, "snapshot",
        "its descriptor");
    long created = d.getCreatedAtMillis() > 0 ? d.getCreatedAtMillis() : index.meta().createdAtMillis();
    return new LoadedIndex(version, index, ItemIdLookup.of(index), created);
  }

  /**
   * Reads (and checks the trailer of) a snapshot file, refusing it unless it holds {@code version}
   * with SHA-256 {@code sha256}, as {@code source} (its descriptor, its manifest) says.
   */
  static HnswIndex readVerified(Path file, String sha256, long version, String what, String source) {
    return checkVerified(file, SnapshotFormat.read(file), sha256, version, what, source);
  }

  /**
   * {@link #readVerified} onto the heap, hashing the bytes as they are copied: what is checked and served
   * is what the checksum covers (how serving loads what it walks).
   */
  static HnswIndex readVerifiedOnHeap(Path file, String sha256, long version, String what, String source) {
    return checkVerified(file, SnapshotFormat.readOnHeap(file), sha256, version, what, source);
  }

  private static HnswIndex checkVerified(Path file, HnswIndex read, String sha256, long version, String what,
                                         String source) {
    if (!read.sha256().equalsIgnoreCase(sha256)) {
      throw new SnapshotException(what + " " + file + " has SHA-256 " + read.sha256() + " but " + source + " says "
          + sha256);
    }
    if (read.meta().version() != version) {
      throw new SnapshotException(what + " " + file + " holds version " + read.meta().version() + " but " + source
          + " says " + version);
    }
    return read;
  }
}

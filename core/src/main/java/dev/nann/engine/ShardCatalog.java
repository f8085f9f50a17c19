package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.shard.ShardEntries;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shard graphs one engine walks, for a sharded index: only the shards whose requests reach this
 * TaskManager are ever loaded. Unlike {@link IndexCatalog}, a request is answered on exactly the
 * shard version its manifest names, never on another, so the shards of one answer never mix
 * versions; the manifest's activation delay ({@link EngineConfig#shardActivationMs}) gives every
 * shard time to load its part ({@link #prefetch}) before requests need it.
 */
final class ShardCatalog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardCatalog.class);

  /** First pause before a refused shard version is tried again; it doubles with each refusal, to {@link #LAST_RETRY}. */
  static final java.time.Duration FIRST_RETRY = java.time.Duration.ofSeconds(30);
  static final java.time.Duration LAST_RETRY = java.time.Duration.ofMinutes(10);

  private final DescriptorGuard guard;
  private final Executor loader;
  private final long firstRetryNanos;
  private final Map<Integer, Shard> shards = new ConcurrentHashMap<>();
  private final AtomicLong refusedCount = new AtomicLong();

  ShardCatalog(DescriptorGuard guard, Executor loader) {
    this(guard, loader, FIRST_RETRY);
  }

  /** With the first pause before a refused shard version is tried again (tests). */
  ShardCatalog(DescriptorGuard guard, Executor loader, java.time.Duration firstRetry) {
    this.guard = guard;
    this.loader = loader;
    this.firstRetryNanos = firstRetry.toNanos();
  }

  /**
   * A lease on shard {@code shard} of {@code manifest}, loading it if needed; null when that shard's
   * snapshot cannot be served (the reason is logged; the request's answer for this shard is missing).
   */
  SharedRegistry<Long, LoadedIndex>.Lease lease(IndexDescriptor manifest, int shard) {
    ShardSnapshot s = ShardEntries.of(manifest, shard);
    return s == null ? null : shard(shard).lease(s, true);
  }

  /** Starts loading shard {@code shard} of a manifest about to become current, and holds it until then. */
  void prefetch(IndexDescriptor manifest, int shard) {
    ShardSnapshot s = ShardEntries.of(manifest, shard);
    if (s == null) {
      return;
    }
    Shard sh = shard(shard);
    if (sh.staging(s.getVersion())) {
      loader.execute(() -> sh.stage(s));
    }
  }

  /** Shard snapshots refused since start. */
  long refusedCount() {
    return refusedCount.get();
  }

  /** Manifest entries a shard keeps at least (the newest), whatever their versions. */
  static final int ENTRIES_KEPT = 8;

  /** Manifest entries remembered over all shards (tests: they must not grow with every version). */
  int entriesRemembered() {
    return shards.values().stream().mapToInt(s -> s.known.size()).sum();
  }

  /** Newest shard version this engine has served of each shard it walks. */
  Map<Integer, Long> servedVersions() {
    Map<Integer, Long> out = new java.util.TreeMap<>();
    shards.forEach((i, s) -> {
      Long v = s.registry.pinnedKey();
      if (v != null) {
        out.put(i, v);
      }
    });
    return out;
  }

  @Override
  public void close() {
    shards.values().forEach(Shard::close);
  }

  /**
   * When a refused shard version may be tried again, the pause that led there, and whether one request
   * is trying it again now.
   */
  private record Refusal(long retryAtNanos, long pauseNanos, boolean retrying) {
    /** Whether the version stays refused now: within its pause, or another request is trying it. */
    boolean holds() {
      return retrying || System.nanoTime() - retryAtNanos < 0;
    }
  }

  private Shard shard(int shard) {
    return shards.computeIfAbsent(shard, Shard::new);
  }

  /** One shard's versions: the current one pinned, the next one held once prefetched. */
  private final class Shard {
    private final int number;
    private final SharedRegistry<Long, LoadedIndex> registry;
    private final Map<Long, ShardSnapshot> known = new ConcurrentHashMap<>();
    /**
     * Versions that failed to load, and when to try again: a passing read error (EIO, a stale network
     * file handle) must not cost the shard for the TaskManager's life, since a quiet shard's file
     * serves manifest after manifest; nor may a file that stays bad be read again on every request.
     */
    private final Map<Long, Refusal> refused = new ConcurrentHashMap<>();
    private SharedRegistry<Long, LoadedIndex>.Lease staged;   // guarded by this
    /**
     * The version before the current one, held until the next is staged: requests stamped by a
     * user-state subtask whose activation came a moment later still find it loaded. Guarded by this.
     */
    private SharedRegistry<Long, LoadedIndex>.Lease previous;
    private long stagingVersion = -1;                          // guarded by this

    Shard(int number) {
      this.number = number;
      this.registry = new SharedRegistry<>("index shard " + number, this::load);
    }

    SharedRegistry<Long, LoadedIndex>.Lease lease(ShardSnapshot s, boolean makeCurrent) {
      long version = s.getVersion();
      SharedRegistry<Long, LoadedIndex>.Lease loaded = registry.tryAcquire(version);
      if (loaded == null) {
        Refusal r = refused.get(version);
        if (r != null) {
          if (r.holds()) {
            return null;
          }
          // the pause is over: this request tries again; the others go on without the shard meanwhile
          if (!refused.replace(version, r, new Refusal(r.retryAtNanos(), r.pauseNanos(), true))) {
            return null;
          }
        }
        known.putIfAbsent(version, s);
        try {
          loaded = registry.acquire(version);
        } catch (RuntimeException e) {
          refuse(s, e);
          return null;
        } catch (Error e) {   // out of memory reading it: refused as any failure, so a later request tries again
          refuse(s, new IllegalStateException(e.toString(), e));
          throw e;
        } finally {
          if (r != null && loaded == null) {   // this request's retry claim never outlives it
            refused.computeIfPresent(version, (v, now) -> now.retrying()
                ? new Refusal(System.nanoTime() + now.pauseNanos(), now.pauseNanos(), false) : now);
          }
        }
        if (refused.remove(version) != null) {
          LOG.info("index shard {} version {} loaded on a later try", number, version);
        }
      }
      Long current = registry.pinnedKey();
      if (makeCurrent && (current == null || version > current)) {
        // a request needs this version: it is current from now on; the one before stays held as previous
        synchronized (this) {
          Long before = registry.pinnedKey();
          if (before != null && before >= version) {
            return loaded;   // another request made a newer version current meanwhile: never go back
          }
          if (before != null) {
            SharedRegistry<Long, LoadedIndex>.Lease held = registry.tryAcquire(before);
            if (previous != null) {
              previous.close();
            }
            previous = held;
          }
          registry.pin(version);
          forgetOldEntries(before == null ? version : before);
          if (staged != null && staged.key() <= version) {
            staged.close();
            staged = null;
          }
        }
      }
      return loaded;
    }

    synchronized boolean staging(long version) {
      Long current = registry.pinnedKey();
      Refusal r = refused.get(version);
      if (version <= stagingVersion || current != null && version <= current || r != null && r.holds()) {
        return false;
      }
      stagingVersion = version;
      return true;
    }

    void stage(ShardSnapshot s) {
      SharedRegistry<Long, LoadedIndex>.Lease lease = lease(s, false);
      if (lease == null) {
        return;
      }
      synchronized (this) {
        Long current = registry.pinnedKey();
        if (current != null && current >= s.getVersion() || staged != null && staged.key() >= s.getVersion()) {
          lease.close();
          return;
        }
        if (staged != null) {
          staged.close();
        }
        staged = lease;
        if (previous != null) {   // at most two versions of a shard besides in-flight leases
          previous.close();
          previous = null;
        }
      }
      LOG.info("index shard {} version {} loaded ahead of its activation", number, s.getVersion());
    }

    synchronized void close() {
      if (previous != null) {
        previous.close();
        previous = null;
      }
      if (staged != null) {
        staged.close();
        staged = null;
      }
      registry.unpin();
    }

    /**
     * Records a failed load: the first starts a pause, a failed try after a pause doubles it; requests
     * that failed beside the first (all waiting on the same load) change nothing.
     */
    private void refuse(ShardSnapshot s, RuntimeException e) {
      long version = s.getVersion();
      Refusal[] made = new Refusal[2];   // before, after
      refused.compute(version, (v, before) -> {
        made[0] = before;
        if (before != null && !before.retrying()) {
          return before;
        }
        long pause = before == null ? firstRetryNanos : Math.min(2 * before.pauseNanos(), LAST_RETRY.toNanos());
        made[1] = new Refusal(System.nanoTime() + pause, pause, false);
        return made[1];
      });
      if (made[1] == null) {
        return;
      }
      if (made[0] == null) {
        refusedCount.incrementAndGet();
        LOG.error("index shard {} version {} ({}) refused: requests get a PARTIAL answer without it; tried again in {} s: "
            + "{}", number, version, s.getUri(), made[1].pauseNanos() / 1_000_000_000, e.getMessage());
      } else {
        LOG.warn("index shard {} version {} refused again; next try in {} s: {}", number, version,
            made[1].pauseNanos() / 1_000_000_000, e.getMessage());
      }
    }

    /**
     * A manifest entry is needed only to load its version: past {@link #ENTRIES_KEPT} of them, those
     * older than {@code keepFrom} (the version held as previous) go, so the map does not grow by one a
     * version for the TaskManager's life. The newest are kept whatever their age: a request loading
     * an older version (one restored from before a restart) may have just added its entry.
     */
    private void forgetOldEntries(long keepFrom) {
      if (known.size() <= ENTRIES_KEPT) {
        return;
      }
      List<Long> versions = new ArrayList<>(known.keySet());
      versions.sort(java.util.Comparator.reverseOrder());
      for (Long v : versions.subList(ENTRIES_KEPT, versions.size())) {
        if (v < keepFrom) {
          known.remove(v);
        }
      }
    }

    private LoadedIndex load(long version) {
      ShardSnapshot s = known.get(version);
      if (s == null) {
        throw new IllegalStateException("no manifest entry for index shard " + number + " version " + version);
      }
      long t0 = System.nanoTime();
      HnswIndex index = IndexCatalog.readVerifiedOnHeap(guard.snapshotFile(s.getUri()), s.getSha256(), version,
          "shard snapshot", "its manifest");
      LOG.info("index shard {} version {} read, verified and loaded: {} items in {} ms", number, version, index.size(),
          (System.nanoTime() - t0) / 1_000_000);
      return new LoadedIndex(version, index, ItemIdLookup.of(index), index.meta().createdAtMillis());
    }
  }
}

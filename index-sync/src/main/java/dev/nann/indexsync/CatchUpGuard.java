package dev.nann.indexsync;

import dev.nann.graph.ManifestFile;
import dev.nann.graph.StoredSnapshot;
import dev.nann.graph.SnapshotStore;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Holds back a key's first build after a start without state while the catalogue is still being read
 * again from the topic's start: without it, a build from the first {@code rebuild.min-changes} items
 * (or an empty one, from a shard's start signal) would be published as the newest version and served
 * in place of the full one already in the store. A key is held back while it has no version of its
 * own in state, the store holds its live item count from before ({@link #storedItems}), its catalogue
 * has fewer items than that, this instance is still reading (it has read a change, or ended a build,
 * within the last rebuild interval, or has read nothing yet) and the key's catalogue has grown by a
 * hundredth of the stored count within the last {@link #GIVE_UP_INTERVALS} intervals (a catalogue
 * read slowly is waited for however long it takes; items deleted while index-sync was down under a
 * trickle of live changes, or a topic that does not answer, must not hold it back for ever). One per
 * function instance; the operator thread's.
 */
final class CatchUpGuard {
  /**
   * After this many rebuild intervals in which a key's catalogue grew by less than a hundredth of its
   * stored count, its first build goes ahead whatever was read.
   */
  static final int GIVE_UP_INTERVALS = 10;

  private final Path store;
  private final int shards;
  private final long intervalNanos;
  private final java.util.function.LongSupplier clock;
  private final long startNanos;
  private long lastActiveNanos;
  private boolean active;
  /** Each key's live items in the store from before, 0 when there is nothing to compare with (looked up once). */
  private final Map<Integer, Integer> stored = new HashMap<>();
  private final java.util.Set<Integer> told = new java.util.HashSet<>();
  /** Per key: its catalogue size when it last grew by a hundredth of the stored count, and when. */
  private final Map<Integer, long[]> progress = new HashMap<>();

  /**
   * @param shards S of the index being built (1: unsharded)
   */
  CatchUpGuard(Path store, int shards, long intervalMillis) {
    this(store, shards, intervalMillis, System::nanoTime);
  }

  /** With {@code clock} (nanoseconds) in place of System.nanoTime (tests). */
  CatchUpGuard(Path store, int shards, long intervalMillis, java.util.function.LongSupplier clock) {
    this.store = store;
    this.shards = shards;
    this.intervalNanos = intervalMillis * 1_000_000;
    this.clock = clock;
    this.startNanos = clock.getAsLong();
  }

  /** A catalogue change was read, or a build ended (time spent building is no quiet). */
  void active() {
    lastActiveNanos = clock.getAsLong();
    active = true;
  }

  /**
   * Whether key {@code key}'s build must wait.
   *
   * @param version the key's version in state, null after a start without state
   * @param catalogSize items in the key's catalogue (null: none counted, as for a key nothing reached yet)
   */
  boolean holdsBack(int key, Long version, Long catalogSize) {
    if (version != null) {
      return false;
    }
    long now = clock.getAsLong();
    if (active && now - lastActiveNanos > intervalNanos) {
      return false;   // the topic went quiet: all there is has been read
    }
    int before = storedItems(key);
    long size = catalogSize == null ? 0 : catalogSize;
    if (before <= 0 || size >= before) {
      return false;   // nothing to compare with, or caught up
    }
    long[] mark = progress.computeIfAbsent(key, k -> new long[] {0, startNanos});
    if (size >= mark[0] + Math.max(1, before / 100)) {
      mark[0] = size;
      mark[1] = now;
    }
    return now - mark[1] <= GIVE_UP_INTERVALS * intervalNanos;
  }

  /** True the first time it is asked for {@code key}: the hold is logged once a key, not every interval. */
  boolean firstHold(int key) {
    return told.add(key);
  }

  /**
   * The key's live items in the newest version in the store: sharded, the newest manifest's entry for
   * it (none when that manifest has another shard count: its shards held other items); unsharded, the
   * newest snapshot's nodes less its tombstones.
   */
  int storedItems(int key) {
    Integer known = stored.get(key);
    if (known != null) {
      return known;
    }
    try {
      int items = readStoredItems(key);
      stored.put(key, items);
      return items;
    } catch (RuntimeException unreadable) {   // not a reason to hold anything back now; looked up again next time
      return 0;
    }
  }

  private int readStoredItems(int key) {
    if (shards > 1) {
      long[] manifests = SnapshotStore.manifestVersionsIn(store);
      if (manifests.length == 0) {
        return 0;
      }
      ManifestFile m = ManifestFile.read(store.resolve(SnapshotStore.manifestFileName(manifests[0])));
      return m.shards().size() == shards ? m.shards().get(key).items() : 0;
    }
    long[] versions = SnapshotStore.versionsIn(store);
    return versions.length == 0 ? 0 : StoredSnapshot.liveItems(store.resolve(SnapshotStore.fileName(versions[0])));
  }
}

package dev.nann.indexsync;

import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Holds back a key's first build after a start without state while the catalogue is still being read
 * again from the topic's start: without it, a build from the first {@code rebuild.min-changes} items
 * would be published as the newest version and served in place of the full one already in the store.
 * A key is held back while it has no version of its own in state, the store holds a snapshot of it
 * from before, its catalogue has under {@link #ENOUGH} of that snapshot's nodes, this instance has
 * read a change within the last rebuild interval (still streaming) and the start is less than
 * {@link #GIVE_UP_INTERVALS} intervals ago (items deleted while index-sync was down must not hold it
 * back for ever). One instance per function instance; not thread-safe (the operator thread's).
 */
final class CatchUpGuard {
  /** The share of the stored snapshot's nodes that counts as caught up (tombstones make nodes an upper bound). */
  static final double ENOUGH = 0.95;
  /** After this many rebuild intervals from the start the first builds go ahead whatever was read. */
  static final int GIVE_UP_INTERVALS = 10;

  private final Path store;
  private final boolean sharded;
  private final long intervalNanos;
  private final long startNanos = System.nanoTime();
  private long lastChangeNanos = startNanos;
  /** Nodes of each key's newest stored snapshot, 0 when it has none (looked up once per key). */
  private final Map<Integer, Integer> stored = new HashMap<>();

  CatchUpGuard(Path store, boolean sharded, long intervalMillis) {
    this.store = store;
    this.sharded = sharded;
    this.intervalNanos = intervalMillis * 1_000_000;
  }

  /** A catalogue change was read (any key). */
  void changed() {
    lastChangeNanos = System.nanoTime();
  }

  /**
   * Whether key {@code key}'s build must wait.
   *
   * @param version the key's version in state, null after a start without state
   * @param catalogSize items in the key's catalogue, null when unknown (state from before it was counted)
   */
  boolean holdsBack(int key, Long version, Long catalogSize) {
    if (version != null || catalogSize == null) {
      return false;
    }
    long now = System.nanoTime();
    if (now - startNanos > GIVE_UP_INTERVALS * intervalNanos || now - lastChangeNanos > intervalNanos) {
      return false;
    }
    int before = stored.computeIfAbsent(key, this::storedNodes);
    return before > 0 && catalogSize < ENOUGH * before;
  }

  /** Nodes the key had when its newest snapshot in the store was built. */
  int storedNodes(int key) {
    long[] versions = sharded ? SnapshotStore.shardVersionsIn(store, key) : SnapshotStore.versionsIn(store);
    if (versions.length == 0) {
      return 0;
    }
    Path file = store.resolve(sharded ? SnapshotStore.shardFileName(versions[0], key)
        : SnapshotStore.fileName(versions[0]));
    try {
      return SnapshotFormat.storedNodes(file);
    } catch (RuntimeException unreadable) {   // not a reason to hold anything back
      return 0;
    }
  }
}

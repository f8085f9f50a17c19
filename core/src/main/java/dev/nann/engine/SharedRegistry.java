package dev.nann.engine;

import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loaded, immutable resources (index snapshots, models) shared by every operator instance in one
 * TaskManager JVM, reference-counted: a resource is loaded once, held while any lease on it is open
 * or while it is the pinned current version, and closed when the last holder lets go. Leases are
 * taken per request without a lock (a CAS on the count); loads are rare and happen under the map's
 * per-key lock, so two requests for a missing version load it once.
 *
 * @param <K> version key
 * @param <V> the loaded resource
 */
public final class SharedRegistry<K, V extends AutoCloseable> {
  private static final Logger LOG = LoggerFactory.getLogger(SharedRegistry.class);

  private final String what;
  private final Function<K, V> loader;
  private final ConcurrentHashMap<K, Entry> entries = new ConcurrentHashMap<>();
  private volatile Entry pinned;

  /**
   * @param what what the resources are, for logs ("index", "model")
   * @param loader loads a version; throws with a clear message if it cannot
   */
  public SharedRegistry(String what, Function<K, V> loader) {
    this.what = what;
    this.loader = loader;
  }

  /** A lease on version {@code key}, loading it if no holder has it. Close the lease when done. */
  public Lease acquire(K key) {
    Objects.requireNonNull(key, "key");
    while (true) {
      Entry e = entries.computeIfAbsent(key, k -> new Entry(k, loader.apply(k)));
      if (e.retain()) {
        return new Lease(e);
      }
      entries.remove(key, e);   // closed concurrently: load again
    }
  }

  /** A lease on version {@code key} if it is loaded right now, or null; never loads. */
  public Lease tryAcquire(K key) {
    Entry e = entries.get(key);
    return e != null && e.retain() ? new Lease(e) : null;
  }

  /**
   * Makes {@code key} the current version: the registry itself holds it from now on (so it stays
   * loaded between requests), and lets go of the previous current version, which closes once its
   * last in-flight lease is closed.
   */
  public void pin(K key) {
    Entry current = pinned;
    if (current != null && current.key.equals(key)) {
      return;
    }
    synchronized (this) {
      current = pinned;
      if (current != null && current.key.equals(key)) {
        return;
      }
      Lease lease = acquire(key);
      pinned = lease.entry;
      if (current != null) {
        current.release();
      }
    }
  }

  /** The pinned version's key, or null. */
  public K pinnedKey() {
    Entry e = pinned;
    return e == null ? null : e.key;
  }

  /** Number of versions loaded right now. */
  public int loaded() {
    return entries.size();
  }

  /** Releases the pin; resources close once their leases do. */
  public synchronized void unpin() {
    Entry e = pinned;
    pinned = null;
    if (e != null) {
      e.release();
    }
  }

  /** A holder's claim on one loaded version. */
  public final class Lease implements AutoCloseable {
    private final Entry entry;
    private boolean closed;

    private Lease(Entry entry) {
      this.entry = entry;
    }

    public K key() {
      return entry.key;
    }

    public V value() {
      return entry.value;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        entry.release();
      }
    }
  }

  private final class Entry {
    final K key;
    final V value;
    final AtomicInteger refs = new AtomicInteger();

    Entry(K key, V value) {
      this.key = key;
      this.value = value;
      LOG.info("loaded {} {}", what, key);
    }

    boolean retain() {
      while (true) {
        int r = refs.get();
        // a fresh entry starts at 0 and is claimed by its loader's caller; -1 marks a closed one
        if (r < 0) {
          return false;
        }
        if (refs.compareAndSet(r, r + 1)) {
          return true;
        }
      }
    }

    void release() {
      if (refs.decrementAndGet() == 0 && refs.compareAndSet(0, -1)) {
        entries.remove(key, this);
        try {
          value.close();
          LOG.info("unloaded {} {}", what, key);
        } catch (Exception ex) {
          LOG.warn("closing {} {} failed: {}", what, key, ex.toString());
        }
      }
    }
  }
}

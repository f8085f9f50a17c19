package dev.nann.engine;

import dev.nann.graph.EmbeddingRows;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemAttributes;
import dev.nann.graph.ItemIdLookup;
import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.schemas.internal.BehaviourFeatures;
import dev.nann.scorer.UserFeatures;
import dev.nann.shard.ShardAssignment;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ConcurrentSkipListMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user's behaviour embeddings for a sharded index: each behaviour item lives in one shard, so the
 * user network's input is looked up across all S shards of the request's version before the request
 * is scattered (then every shard scores with the same user). The shard files are not copied to the
 * heap: only their item ids are indexed (12 bytes an item), and a lookup reads the rows of the few
 * items in a sequence with positional reads ({@link EmbeddingRows}; a memory mapping would fault
 * the thread if the file were cut short after it was verified). The graphs stay on the
 * TaskManagers that walk them. A shard file shared by consecutive versions is opened once.
 */
final class BehaviourLookup {
  private static final Logger LOG = LoggerFactory.getLogger(BehaviourLookup.class);
  /**
   * Versions kept open: the current one, the one before it and the next one. The least recently used
   * goes first, so a burst of manifests (one per shard publish) never evicts the version requests use.
   */
  private static final int KEPT = 3;

  private final DescriptorGuard guard;
  private final Executor loader;
  private final ConcurrentSkipListMap<Long, Table> tables = new ConcurrentSkipListMap<>();
  private final Map<String, ShardItems> files = new ConcurrentHashMap<>();
  /** Versions whose shards did not all map and verify, with the reason: never used for requests. */
  private final Map<Long, String> refused = new ConcurrentHashMap<>();

  BehaviourLookup(DescriptorGuard guard, Executor loader) {
    this.guard = guard;
    this.loader = loader;
  }

  /**
   * Whether version {@code manifest} holds a catalog change (for dropping it from the fresh set); a
   * shard file changed on disk since it was verified holds none (the change stays fresh).
   */
  FreshSet.Holder holder(IndexDescriptor manifest) {
    Table t = table(manifest);
    float[] stored = new float[t.dim];
    return (id, deleted, emb, offset, attrs) -> {
      try {
        return holds(t, stored, id, deleted, emb, offset, attrs);
      } catch (EmbeddingRows.FileChanged cut) {
        unreadable(t, cut);
        return false;
      } catch (UncheckedIOException | SnapshotException notNow) {
        return false;   // the change stays fresh; the next version's drop looks again
      }
    };
  }

  private static boolean holds(Table t, float[] stored, long id, boolean deleted, float[] emb, int offset,
                               Map<String, String> attributes) {
    ShardItems s = t.shards[ShardAssignment.shardOf(id, t.shards.length)];
    int node = s.ids.nodeOf(id);
    if (deleted) {
      return node < 0;
    }
    if (node < 0) {
      return false;
    }
    s.rows.copyRow(node, stored, 0);
    for (int j = 0; j < t.dim; j++) {
      if (stored[j] != emb[offset + j]) {
        return false;
      }
    }
    long held = s.attributeSignatures == null ? 0L : s.attributeSignatures[node];
    return held == ItemAttributes.signature(attributes);
  }

  /**
   * The behaviour of {@code sequence} in the index version {@code manifest} names.
   *
   * @throws SnapshotException when the version is refused, or one of its shard files was cut short
   *     or replaced on disk after it was verified (then the version is refused from now on)
   */
  UserFeatures features(IndexDescriptor manifest, List<Long> sequence) {
    Table t = table(manifest);
    try {
      return t.features(sequence);
    } catch (EmbeddingRows.FileChanged cut) {
      throw new SnapshotException(unreadable(t, cut));
    } catch (UncheckedIOException notNow) {   // an I/O error or an interrupted task: this request only
      throw new SnapshotException("index version " + t.version + ": behaviour lookup failed: " + notNow.getMessage());
    }
  }

  /** A version one of whose shard files changed on disk: refused, and its files let go (closed when unreferenced). */
  private synchronized String unreadable(Table t, EmbeddingRows.FileChanged e) {
    String reason = "index version " + t.version + " refused: a shard file changed on disk after it was verified "
        + "(publish snapshots as new files, never over published ones): " + e.getMessage();
    if (refused.putIfAbsent(t.version, reason) == null) {
      LOG.error(reason);
    }
    tables.remove(t.version, t);
    java.util.Set<String> used = filesInUse();
    for (ShardItems s : t.shards) {
      if (!used.contains(s.key)) {
        files.remove(s.key, s);   // not closed here: a request on another thread may be reading it
      }
    }
    return reason;
  }

  /** Maps a version about to become current in the background. */
  void prefetch(IndexDescriptor manifest) {
    if (!tables.containsKey(manifest.getVersion())) {
      loader.execute(() -> {
        try {
          table(manifest);
        } catch (RuntimeException e) {
          // logged and remembered by table(): the version is never used
        }
      });
    }
  }

  /** Why version {@code manifest} cannot be used, or null: it is (or can now be) opened and verified. */
  String refusal(IndexDescriptor manifest) {
    String why = refused.get(manifest.getVersion());
    if (why != null || tables.containsKey(manifest.getVersion())) {
      return why;
    }
    try {
      table(manifest);
      return null;
    } catch (RuntimeException e) {
      return refused.get(manifest.getVersion());
    }
  }

  private Table table(IndexDescriptor manifest) {
    Table t = tables.get(manifest.getVersion());
    if (t != null) {
      t.lastUsedNanos = System.nanoTime();
      return t;
    }
    String why = refused.get(manifest.getVersion());
    if (why != null) {
      throw new SnapshotException(why);
    }
    try {
      return load(manifest);
    } catch (RuntimeException e) {
      String reason = "index version " + manifest.getVersion() + " refused: " + e.getMessage();
      if (refused.putIfAbsent(manifest.getVersion(), reason) == null) {
        LOG.error("{} (the current version keeps serving)", reason);
      }
      throw new SnapshotException(reason);
    }
  }

  private synchronized Table load(IndexDescriptor manifest) {
    Table t = tables.get(manifest.getVersion());
    if (t != null) {
      return t;
    }
    long t0 = System.nanoTime();
    List<ShardSnapshot> shards = manifest.getShards();
    ShardItems[] items = new ShardItems[shards.size()];
    for (int i = 0; i < items.length; i++) {
      ShardSnapshot s = shards.get(i);
      items[i] = files.containsKey(key(s)) ? files.get(key(s)) : map(s);
      if (items[i].dim() != manifest.getDim() && items[i].nodes() > 0) {   // rows of another size: read across items
        throw new SnapshotException("shard " + i + " (" + s.getUri() + ") holds items of dim " + items[i].dim()
            + ", the manifest says " + manifest.getDim());
      }
    }
    t = new Table(manifest.getVersion(), items, manifest.getDim());
    tables.put(t.version, t);
    while (tables.size() > KEPT) {
      Table leastUsed = t;
      for (Table kept : tables.values()) {
        if (kept != t && (leastUsed == t || kept.lastUsedNanos - leastUsed.lastUsedNanos < 0)) {
          leastUsed = kept;
        }
      }
      tables.remove(leastUsed.version, leastUsed);
    }
    // files no version uses are let go, not closed: a request may still be reading one (the
    // channel is closed when it is no longer referenced)
    files.keySet().retainAll(filesInUse());
    for (ShardItems s : items) {
      files.put(s.key, s);
    }
    LOG.info("index version {}: behaviour lookup over {} shards ready in {} ms", manifest.getVersion(), items.length,
        (System.nanoTime() - t0) / 1_000_000);
    return t;
  }

  /** The versions kept open (tests). */
  java.util.Set<Long> keptVersions() {
    return java.util.Set.copyOf(tables.keySet());
  }

  /** The keys of the files some kept version names. */
  private java.util.Set<String> filesInUse() {
    java.util.Set<String> used = new java.util.HashSet<>();
    for (Table kept : tables.values()) {
      for (ShardItems s : kept.shards) {
        used.add(s.key);
      }
    }
    return used;
  }

  private ShardItems map(ShardSnapshot s) {
    java.nio.file.Path file = guard.snapshotFile(s.getUri());
    HnswIndex mapped = IndexCatalog.readVerified(file, s.getSha256(), s.getVersion(), "shard snapshot", "its manifest");
    return new ShardItems(key(s), mapped.dim(), mapped.size(), ItemIdLookup.of(mapped),
        SnapshotFormat.embeddingRows(file, mapped), mapped.attributes().signatures());
  }

  private static String key(ShardSnapshot s) {
    return s.getUri() + "#" + s.getSha256();
  }

  /** The behaviour features as they travel with a scattered task. */
  static BehaviourFeatures encode(UserFeatures f) {
    ByteBuffer b = ByteBuffer.allocate(f.embeddings().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(f.embeddings());
    List<Long> ids = new java.util.ArrayList<>(f.length());
    for (long id : f.itemIds()) {
      ids.add(id);
    }
    return new BehaviourFeatures(ids, b);
  }

  /** A task's behaviour features back, checked against the index's dimension. */
  static UserFeatures decode(BehaviourFeatures f, int dim) {
    long[] ids = f.getItems().stream().mapToLong(Long::longValue).toArray();
    ByteBuffer b = f.getEmbeddings().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() != ids.length * dim * Float.BYTES) {
      throw new IllegalArgumentException("behaviour of " + ids.length + " items needs " + ids.length * dim
          + " floats, the task carries " + b.remaining() / Float.BYTES);
    }
    float[] emb = new float[ids.length * dim];
    b.asFloatBuffer().get(emb);
    return new UserFeatures(ids, emb, dim);
  }

  /**
   * One shard file: its items' dimension and node count (an empty shard has no rows, so any dimension
   * fits), its item id index, its rows read from the file, and its items' attribute digests (null: none),
   * which tell attribute-only changes apart.
   */
  private record ShardItems(String key, int dim, int nodes, ItemIdLookup ids, EmbeddingRows rows,
                            long[] attributeSignatures) {
  }

  /** All shards of one version, and when a request last used it. */
  private static final class Table {
    final long version;
    final ShardItems[] shards;
    final int dim;
    volatile long lastUsedNanos = System.nanoTime();

    Table(long version, ShardItems[] shards, int dim) {
      this.version = version;
      this.shards = shards;
      this.dim = dim;
    }

    UserFeatures features(List<Long> sequence) {
      return LoadedIndex.features(sequence, dim, (item, dst, offset) -> {
        ShardItems s = shards[ShardAssignment.shardOf(item, shards.length)];
        int node = s.ids.nodeOf(item);
        if (node < 0) {
          return false;
        }
        s.rows.copyRow(node, dst, offset);
        return true;
      });
    }
  }
}

package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemAttributes;
import dev.nann.schemas.ItemEmbedding;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Catalog changes the live snapshot does not hold yet (the "fresh set"): upserted items, which
 * every query scores exhaustively and merges into its top-k, and deletes, kept out of every answer.
 *
 * <p>Laid out for the query path: embeddings sit in one float array (no boxed floats per query),
 * and for the snapshot the set is based on ({@link View#base}) a bitset marks the nodes whose item
 * changed since, so a query needs no id lookups or per-query sets. Writers (catalog changes and
 * swaps, rare next to queries) take this object's lock; queries take one {@link #view()} and never
 * lock. Entries are only appended: an entry below a view's count never changes except for its
 * "superseded" bit, which is set after its replacement is published, so a query racing a change may
 * see both copies of an item for that one query (it keeps one id) but never neither.
 *
 * <p>Upserts have the dimension of the index the set is based on. A swap to an index of another
 * dimension (a new model's embeddings) drops the upserts of the old one, which no model of the new
 * dimension can score; deletes stay until a snapshot holds them. An upsert of another dimension than
 * the current one is refused.
 */
final class FreshSet {
  private static final int INITIAL_CAPACITY = 256;

  private final int maxEntries;
  /** Writer side: item id to its newest entry. Guarded by this. */
  private final Map<Long, Integer> latest = new HashMap<>();
  private int dim;             // of every upsert held; changes with the base's; guarded by this
  private float[] incoming;    // writer scratch, guarded by this
  private float[] stored;      // writer scratch, guarded by this
  private volatile View view;
  /** For a sharded index, the current version's holder (a sharded version is never a {@link View#base}). */
  private Holder shardedBase;   // guarded by this
  /** Rebases so far: written under the set's lock, read by the task thread without it. */
  private volatile long rebases;

  /**
   * @param maxEntries upserts are refused once the set holds this many entries (every query scores
   *     them all, so a rebuild that cannot keep up must not make queries slower without end); deletes
   *     up to twice as many
   */
  FreshSet(int dim, int maxEntries) {
    this.dim = dim;
    this.maxEntries = maxEntries;
    this.incoming = new float[dim];
    this.stored = new float[dim];
    this.view = View.allocate(dim, INITIAL_CAPACITY, 0, null, null);
  }

  /** What a query reads; take it once per query. */
  View view() {
    return view;
  }

  /**
   * Applies one catalog change: it joins the set (an older copy of the item is superseded and the
   * base snapshot's node for it shadowed), or, when the base snapshot already says the same, the item
   * leaves the set. Older changes than the one kept (by {@code updatedAtMillis}, which serving sets
   * to when the change reached it: arrival order, as index-sync applies them) are ignored; a repeat
   * of the kept one (the subtasks sharing an engine each apply every broadcast change) adds no entry.
   *
   * @return {@link ChangeOutcome#REFUSED} when the set is full and the change must wait for the next
   *     snapshot (the item's older change, if the set holds one, leaves it: the base snapshot's copy
   *     serves meanwhile); otherwise what the set now holds for the item
   * @throws IllegalArgumentException for an upsert whose embedding is not of the set's dimension (the
   *     live index's): no model serving that index could score it
   */
  synchronized ChangeOutcome apply(ItemEmbedding item) {
    View v = view;
    long id = item.getItemId();
    if (!item.getDeleted() && item.getEmbedding().size() != dim) {
      throw new IllegalArgumentException("item " + id + " has an embedding of " + item.getEmbedding().size()
          + " values but the live index holds dim " + dim + ": the change waits for a snapshot of its dimension");
    }
    Integer prev = latest.get(id);
    if (prev != null && v.updatedAt[prev] > item.getUpdatedAtMillis()) {
      return ChangeOutcome.STALE;
    }
    if (prev != null && v.updatedAt[prev] == item.getUpdatedAtMillis() && sameAs(v, prev, item)) {
      // a repeat: the subtasks sharing this engine each apply every broadcast change, and each keeps
      // its own checkpointed copy of what the set holds
      return ChangeOutcome.HELD;
    }
    if (v.base != null ? heldBy(v.base, item) : shardedBase != null && heldBy(shardedBase, item)) {
      if (prev != null) {
        drop(v, prev, id);
      }
      return ChangeOutcome.IN_SNAPSHOT;
    }
    int cap = item.getDeleted() ? 2 * maxEntries : maxEntries;
    if (v.count >= cap && latest.size() < v.count) {
      // superseded copies take room too: compact before refusing (one item updated again and again
      // must not fill the set for every other item)
      keepUnheld((i, deleted, emb, offset, attrs) -> false, v.base, dim);
      v = view;
      prev = latest.get(id);
    }
    if (v.count >= cap) {
      if (prev != null) {
        // the item changed again: its entry here is obsolete, and kept it would hide the item in
        // every later snapshot (none holds that embedding any more); the base's copy serves until a
        // snapshot holds the refused change
        drop(v, prev, id);
      }
      return ChangeOutcome.REFUSED;
    }
    View w = v.count == v.ids.length ? v.grown() : v;
    int e = w.count;
    w.ids[e] = id;
    w.updatedAt[e] = item.getUpdatedAtMillis();
    w.deleted[e] = item.getDeleted();
    if (!item.getDeleted()) {
      List<Float> emb = item.getEmbedding();
      for (int j = 0; j < dim; j++) {
        w.embeddings[e * dim + j] = emb.get(j);
      }
    }
    Map<String, String> attrs = item.getAttributes();
    w.attributes[e] = attrs == null || attrs.isEmpty() ? null : Map.copyOf(attrs);
    int live = w.liveUpserts + (item.getDeleted() ? 0 : 1) - (prev != null && !w.deleted[prev] ? 1 : 0);
    view = w.withCounts(e + 1, live);   // publish the entry, then hide the copies it replaces
    if (w.base != null) {
      int node = w.base.ids().nodeOf(id);
      if (node >= 0) {
        setBit(w.shadowed, node);
      }
    }
    if (prev != null) {
      setBit(w.superseded, prev);
    }
    latest.put(id, e);
    return ChangeOutcome.HELD;
  }

  /** Takes entry {@code e} of item {@code id} out: superseded, and the base's node for the item serves again. */
  private void drop(View v, int e, long id) {
    // the base's copy first: a query in between sees both copies (its merge keeps one), never neither
    int node = v.base == null ? -1 : v.base.ids().nodeOf(id);
    if (node >= 0) {
      clearBit(v.shadowed, node);
    }
    setBit(v.superseded, e);
    latest.remove(id);
    if (!v.deleted[e]) {
      view = v.withCounts(v.count, v.liveUpserts - 1);
    }
  }

  /** Whether the set holds a change of {@code itemId} (one no live snapshot holds yet). */
  synchronized boolean holds(long itemId) {
    return latest.containsKey(itemId);
  }

  /**
   * Makes {@code live} the base: changes it holds leave the set (same embedding and attributes present,
   * or deleted and absent), the rest are kept, and the shadow bits are computed for its nodes.
   */
  void rebase(LoadedIndex live) {
    // the per-node attribute digests are made here, on the thread that loaded the index and outside
    // this lock, not by the first catalogue change that needs them
    live.index().attributes().signatures();
    synchronized (this) {
      keepUnheld((id, deleted, emb, offset, attrs) -> heldBy(live, id, deleted, emb, offset, attrs), live,
          live.index().dim());
      rebases++;
    }
  }

  /** Times a newly live index has let the set go of the changes it holds (a copy of the set prunes then). */
  long rebases() {
    return rebases;
  }

  /**
   * Whether an index already holds a change: its id with the same embedding and attributes, or
   * deleted and absent.
   */
  interface Holder {
    boolean holds(long id, boolean deleted, float[] embeddings, int offset, Map<String, String> attributes);
  }

  /**
   * For a sharded index, which is never a base: the changes a newly current version holds leave the
   * set, the rest stay (no shadow bits: queries look changed items up in their shard).
   *
   * @param indexDim the dimension of that version's embeddings
   */
  synchronized void dropHeld(Holder index, int indexDim) {
    if (view.base == null) {
      keepUnheld(index, null, indexDim);
      shardedBase = index;   // later changes it already holds (a catalogue published again) do not join
      rebases++;
    }
  }

  /**
   * Publishes a view of the changes {@code held} does not hold, based on {@code base} (null: none)
   * with the shadow bits of its nodes. When {@code newDim} is not the set's dimension, upserts leave
   * too (no model of the new dimension scores them) and the set takes the new one. Guarded by this.
   */
  private void keepUnheld(Holder held, LoadedIndex base, int newDim) {
    View v = view;
    boolean sameDim = newDim == dim;
    int kept = 0;
    int[] keep = new int[v.count];
    for (int e = 0; e < v.count; e++) {
      // a delete's check reads no embedding, so it is asked whatever the dimensions
      if (!v.isSuperseded(e) && (sameDim || v.deleted[e]) && !held.holds(v.ids[e], v.deleted[e], v.embeddings, e * dim,
          v.attributes[e])) {
        keep[kept++] = e;
      }
    }
    if (base == null && kept == v.count && sameDim) {
      return;
    }
    int capacity = Math.max(INITIAL_CAPACITY, Integer.highestOneBit(Math.max(1, kept)) * 2);
    View w = View.allocate(newDim, capacity, kept, base,
        base == null ? null : new AtomicLongArray(words(base.index().size())));
    latest.clear();
    int upserts = 0;
    for (int i = 0; i < kept; i++) {
      int e = keep[i];
      w.ids[i] = v.ids[e];
      w.updatedAt[i] = v.updatedAt[e];
      w.deleted[i] = v.deleted[e];
      if (sameDim) {
        System.arraycopy(v.embeddings, e * dim, w.embeddings, i * dim, dim);
      }
      w.attributes[i] = v.attributes[e];
      upserts += v.deleted[e] ? 0 : 1;
      latest.put(w.ids[i], i);
      int node = base == null ? -1 : base.ids().nodeOf(w.ids[i]);
      if (node >= 0) {
        setBit(w.shadowed, node);
      }
    }
    if (!sameDim) {
      dim = newDim;
      incoming = new float[dim];
      stored = new float[dim];
    }
    view = w.withCounts(kept, upserts);
  }

  private boolean sameAs(View v, int e, ItemEmbedding item) {
    if (v.deleted[e] != item.getDeleted()) {
      return false;
    }
    Map<String, String> attrs = item.getAttributes();
    if (!item.getDeleted() && !java.util.Objects.equals(v.attributes[e], attrs == null || attrs.isEmpty() ? null : attrs)) {
      return false;
    }
    if (item.getDeleted()) {
      return true;
    }
    List<Float> emb = item.getEmbedding();
    for (int j = 0; j < dim; j++) {
      if (v.embeddings[e * dim + j] != emb.get(j)) {
        return false;
      }
    }
    return true;
  }

  /** Whether {@code live} already reflects the change: same embedding and attributes present, or deleted and absent. */
  private boolean heldBy(LoadedIndex live, ItemEmbedding item) {
    return heldBy((id, deleted, emb, offset, attrs) -> heldBy(live, id, deleted, emb, offset, attrs), item);
  }

  /** Whether {@code index} already reflects the change. */
  private boolean heldBy(Holder index, ItemEmbedding item) {
    if (!item.getDeleted()) {
      List<Float> emb = item.getEmbedding();
      for (int j = 0; j < dim; j++) {
        incoming[j] = emb.get(j);
      }
    }
    return index.holds(item.getItemId(), item.getDeleted(), incoming, 0, item.getAttributes());
  }

  private boolean heldBy(LoadedIndex live, long id, boolean deleted, float[] emb, int offset,
                         Map<String, String> attributes) {
    HnswIndex index = live.index();
    int node = live.ids().nodeOf(id);
    if (deleted) {
      return node < 0 || index.isDeleted(node);
    }
    if (node < 0 || index.isDeleted(node) || index.dim() != dim) {
      return false;
    }
    index.embeddings().copyRow(node, stored, 0);
    for (int j = 0; j < dim; j++) {
      if (stored[j] != emb[offset + j]) {
        return false;
      }
    }
    // an attribute-only change (new price band, out of stock) is a change too
    return index.attributes().signatureOf(node) == ItemAttributes.signature(attributes);
  }

  private static int words(int bits) {
    return Math.max(1, (bits + 63) >>> 6);
  }

  private static void setBit(AtomicLongArray bits, int i) {
    bits.getAndUpdate(i >>> 6, w -> w | (1L << i));
  }

  private static void clearBit(AtomicLongArray bits, int i) {
    bits.getAndUpdate(i >>> 6, w -> w & ~(1L << i));
  }

  private static boolean getBit(AtomicLongArray bits, int i) {
    return (bits.get(i >>> 6) & (1L << i)) != 0;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, String>[] newAttributes(int capacity) {
    return (Map<String, String>[]) new Map[capacity];
  }

  /**
   * An immutable count over append-only arrays: entries {@code [0, count)} are what one query sees.
   * Read-only for queries.
   */
  static final class View {
    private final int dim;
    private final int count;
    private final int liveUpserts;
    private final long[] ids;
    private final long[] updatedAt;
    private final boolean[] deleted;
    private final float[] embeddings;
    private final Map<String, String>[] attributes;
    private final AtomicLongArray superseded;
    private final LoadedIndex base;
    private final AtomicLongArray shadowed;

    private View(int dim, int count, int liveUpserts, long[] ids, long[] updatedAt, boolean[] deleted,
                 float[] embeddings, Map<String, String>[] attributes, AtomicLongArray superseded, LoadedIndex base,
                 AtomicLongArray shadowed) {
      this.dim = dim;
      this.count = count;
      this.liveUpserts = liveUpserts;
      this.ids = ids;
      this.updatedAt = updatedAt;
      this.deleted = deleted;
      this.embeddings = embeddings;
      this.attributes = attributes;
      this.superseded = superseded;
      this.base = base;
      this.shadowed = shadowed;
    }

    /** Empty arrays of {@code capacity} entries, {@code count} of them visible once the caller fills them. */
    private static View allocate(int dim, int capacity, int count, LoadedIndex base, AtomicLongArray shadowed) {
      return new View(dim, count, 0, new long[capacity], new long[capacity], new boolean[capacity],
          new float[capacity * dim], newAttributes(capacity), new AtomicLongArray(words(capacity)), base, shadowed);
    }

    /** The same arrays with another count of visible entries and of live upserts. */
    private View withCounts(int count, int liveUpserts) {
      return new View(dim, count, liveUpserts, ids, updatedAt, deleted, embeddings, attributes, superseded, base,
          shadowed);
    }

    /** Same entries in arrays of twice the capacity (the writer appends there from now on). */
    private View grown() {
      int capacity = ids.length * 2;
      AtomicLongArray s = new AtomicLongArray(words(capacity));
      for (int i = 0; i < superseded.length(); i++) {
        s.set(i, superseded.get(i));
      }
      return new View(dim, count, liveUpserts, java.util.Arrays.copyOf(ids, capacity),
          java.util.Arrays.copyOf(updatedAt, capacity), java.util.Arrays.copyOf(deleted, capacity),
          java.util.Arrays.copyOf(embeddings, capacity * dim), java.util.Arrays.copyOf(attributes, capacity), s, base,
          shadowed);
    }

    /** Dimension of the upserts' embeddings (the base index's; a query of another dimension scores none). */
    int dim() {
      return dim;
    }

    /** Entries to look at: {@code [0, count())}, skipping {@link #isSuperseded} ones. */
    int count() {
      return count;
    }

    /** Items upserted and not yet in the base snapshot (what a query scores at most). */
    int liveUpserts() {
      return liveUpserts;
    }

    boolean isSuperseded(int e) {
      return getBit(superseded, e);
    }

    long itemId(int e) {
      return ids[e];
    }

    boolean isDelete(int e) {
      return deleted[e];
    }

    /** Attributes of the entry's item (null when none). */
    Map<String, String> attributes(int e) {
      return attributes[e];
    }

    /** Backing array of the embeddings: entry e's row starts at {@code e * dim}. Read only. */
    float[] embeddings() {
      return embeddings;
    }

    /** The snapshot the shadow bits refer to (null before the first swap). */
    LoadedIndex base() {
      return base;
    }

    /** Whether node of {@link #base} holds an item this set changed (a query must skip it). */
    boolean shadows(int node) {
      return getBit(shadowed, node);
    }
  }
}

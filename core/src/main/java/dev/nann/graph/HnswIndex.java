package dev.nann.graph;

import java.nio.LongBuffer;
import java.util.BitSet;

/**
 * An immutable, searchable index: graph, item ids, embeddings and tombstones of one snapshot
 * version. Node {@code i} of the graph is item {@code itemId(i)} with embedding row {@code i}.
 */
public final class HnswIndex {
  private final IndexMeta meta;
  private final HnswGraphView graph;
  private final Embeddings embeddings;
  private final LongBuffer itemIds;
  private final BitSet tombstones;
  private final String sha256;
  private final ItemAttributes attributes;
  private final ItemPaths paths;

  /**
   * An index without catalog attributes.
   *
   * @param sha256 hex checksum of the snapshot this index was read from, or null for an unsaved index
   */
  public HnswIndex(IndexMeta meta, HnswGraphView graph, Embeddings embeddings, LongBuffer itemIds,
                   BitSet tombstones, String sha256) {
    this(meta, graph, embeddings, itemIds, tombstones, sha256, ItemAttributes.empty());
  }

  /**
   * @param sha256 hex checksum of the snapshot this index was read from, or null for an unsaved index
   * @param attributes catalog attributes of the nodes (for request-time attribute filters)
   */
  public HnswIndex(IndexMeta meta, HnswGraphView graph, Embeddings embeddings, LongBuffer itemIds,
                   BitSet tombstones, String sha256, ItemAttributes attributes) {
    this(meta, graph, embeddings, itemIds, tombstones, sha256, attributes, ItemPaths.empty());
  }

  /**
   * @param attributes catalog attributes of the nodes (for request-time attribute filters)
   * @param paths Deep Retrieval's paths of the nodes (for {@code mode=dr})
   */
  public HnswIndex(IndexMeta meta, HnswGraphView graph, Embeddings embeddings, LongBuffer itemIds,
                   BitSet tombstones, String sha256, ItemAttributes attributes, ItemPaths paths) {
    if (embeddings.dim() != meta.dim()) {
      throw new IllegalArgumentException("embeddings have dim " + embeddings.dim() + " but meta says " + meta.dim());
    }
    if (embeddings.size() != graph.size() || itemIds.limit() != graph.size()) {
      throw new IllegalArgumentException("graph (" + graph.size() + "), embeddings (" + embeddings.size()
          + ") and item ids (" + itemIds.limit() + ") must have one entry per node");
    }
    this.meta = meta;
    this.graph = graph;
    this.embeddings = embeddings;
    this.itemIds = itemIds;
    this.tombstones = (BitSet) tombstones.clone();
    this.sha256 = sha256;
    if (!attributes.isEmpty() && attributes.nodes() != graph.size()) {
      throw new IllegalArgumentException("attributes cover " + attributes.nodes() + " nodes, the graph has " + graph.size());
    }
    this.attributes = attributes;
    if (!paths.isEmpty() && paths.nodes() != graph.size()) {
      throw new IllegalArgumentException("paths cover " + paths.nodes() + " nodes, the graph has " + graph.size());
    }
    this.paths = paths;
  }

  public IndexMeta meta() {
    return meta;
  }

  public HnswGraphView graph() {
    return graph;
  }

  public Embeddings embeddings() {
    return embeddings;
  }

  public int size() {
    return graph.size();
  }

  public int dim() {
    return meta.dim();
  }

  /** External item id of {@code node}. */
  public long itemId(int node) {
    return itemIds.get(node);
  }

  /** Whether {@code node} is deleted: still walked through, never returned. */
  public boolean isDeleted(int node) {
    return tombstones.get(node);
  }

  public int deletedCount() {
    return tombstones.cardinality();
  }

  /** A copy of the tombstone set. */
  public BitSet tombstones() {
    return (BitSet) tombstones.clone();
  }

  LongBuffer itemIdBuffer() {
    return itemIds;
  }

  /** Hex SHA-256 of the snapshot file body, or null when the index was never written. */
  public String sha256() {
    return sha256;
  }

  /**
   * Same index with the walk's hot data (embeddings and every level's adjacency) copied from the
   * snapshot mapping into heap arrays. Measured on a 1M x 64 index: reading rows through the
   * mapped buffers made embedding gathers about 2x slower than heap arrays ({@code ./nann eval --index-memory}).
   * Item ids are copied too (8 bytes an item): every answer reads them, and a snapshot file deleted
   * on a shared volume from another host (pruned while this version still serves) can fault reads
   * through its mapping. Costs about one copy of the file in heap.
   */
  public HnswIndex onHeap() {
    float[] copy = new float[size() * dim()];
    embeddings.buffer().get(0, copy);
    long[] ids = new long[itemIds.limit()];
    itemIds.get(0, ids);
    return new HnswIndex(meta, graph.onHeap(), Embeddings.of(copy, dim()), LongBuffer.wrap(ids), tombstones, sha256,
        attributes, paths);
  }

  /** Same index with another checksum (after it has been written). */
  HnswIndex withSha256(String sha) {
    return new HnswIndex(meta, graph, embeddings, itemIds, tombstones, sha, attributes, paths);
  }

  /** Catalog attributes of the nodes (empty when the catalog had none). */
  public ItemAttributes attributes() {
    return attributes;
  }

  /** Same index carrying {@code attributes} (one entry per node, see {@link ItemAttributes#of}). */
  public HnswIndex withAttributes(ItemAttributes attributes) {
    return new HnswIndex(meta, graph, embeddings, itemIds, tombstones, sha256, attributes, paths);
  }

  /** Deep Retrieval's item paths of the nodes (empty when index-sync has no DR structure). */
  public ItemPaths paths() {
    return paths;
  }

  /** Same index carrying Deep Retrieval's paths (one row per node). */
  public HnswIndex withPaths(ItemPaths paths) {
    return new HnswIndex(meta, graph, embeddings, itemIds, tombstones, sha256, attributes, paths);
  }
}

package dev.nann.graph;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.codecs.hnsw.DefaultFlatVectorScorer;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.util.hnsw.HnswGraphBuilder;
import org.apache.lucene.util.hnsw.OnHeapHnswGraph;
import org.apache.lucene.util.hnsw.RandomAccessVectorValues;

/**
 * A Lucene HNSW graph kept open between snapshots, for index-sync's incremental builds: new items
 * are inserted into the existing graph (about 0.15 ms each at 100k × 64, against a 9 s full
 * rebuild), while deletes and updated embeddings, which Lucene's builder cannot remove or move,
 * tombstone the old node (an update also inserts a new one). {@link #freeze} turns the current
 * state into an immutable {@link HnswIndex} with those tombstones; once tombstones pile up, the
 * caller rebuilds from scratch. Single-threaded; not shared.
 */
public final class GrowableHnsw {
  private final int dim;
  private final int m;
  private final int efConstruction;
  private final long seed;
  private final List<float[]> vectors = new ArrayList<>();
  private final List<Long> ids = new ArrayList<>();
  private final Map<Long, Integer> nodeOfItem = new HashMap<>();
  private final BitSet tombstones = new BitSet();
  private final HnswGraphBuilder builder;

  private GrowableHnsw(int dim, int m, int efConstruction, long seed) {
    this.dim = dim;
    this.m = m;
    this.efConstruction = efConstruction;
    this.seed = seed;
    try {
      var scorers = DefaultFlatVectorScorer.INSTANCE.getRandomVectorScorerSupplier(VectorSimilarityFunction.EUCLIDEAN,
          RandomAccessVectorValues.fromFloats(vectors, dim));
      HnswGraphBuilder.randSeed = seed;
      // no initial size: a graph created with one refuses to grow past it
      this.builder = HnswGraphBuilder.create(scorers, m, efConstruction, seed);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Builds a graph over {@code ids} (row-major embeddings), single-threaded. */
  public static GrowableHnsw build(float[] rowMajor, int dim, long[] ids, int m, int efConstruction, long seed) {
    HnswIndexBuilder.checkFinite(rowMajor, dim, ids);
    GrowableHnsw g = new GrowableHnsw(dim, m, efConstruction, seed);
    for (int i = 0; i < ids.length; i++) {
      g.upsert(ids[i], java.util.Arrays.copyOfRange(rowMajor, i * dim, (i + 1) * dim));
    }
    return g;
  }

  /** Inserts an item, or moves it: the old node (if any) is tombstoned and a new one inserted. */
  public void upsert(long itemId, float[] embedding) {
    if (embedding.length != dim) {
      throw new IllegalArgumentException("item " + itemId + " has " + embedding.length + " floats, the graph takes " + dim);
    }
    Integer old = nodeOfItem.get(itemId);
    if (old != null) {
      tombstones.set(old);
    }
    int node = vectors.size();
    vectors.add(embedding);
    ids.add(itemId);
    nodeOfItem.put(itemId, node);
    try {
      builder.addGraphNode(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Removes an item from answers (its node stays in the graph as a tombstone). */
  public void delete(long itemId) {
    Integer old = nodeOfItem.remove(itemId);
    if (old != null) {
      tombstones.set(old);
    }
  }

  /** Items that answers may return. */
  public int liveItems() {
    return nodeOfItem.size();
  }

  /** Fraction of the graph's nodes that are tombstones. */
  public double tombstoneFraction() {
    return vectors.isEmpty() ? 0 : (double) tombstones.cardinality() / vectors.size();
  }

  /** The current state as an immutable index (nodes renumbered breadth-first, tombstones kept). */
  public HnswIndex freeze(long version) {
    int n = vectors.size();
    OnHeapHnswGraph graph = builder.getGraph();
    int[] order = HnswIndexBuilder.bfsOrder(graph, n);
    HnswGraphView view = HnswIndexBuilder.freeze(graph, n, order);
    float[] emb = new float[n * dim];
    long[] orderedIds = new long[n];
    BitSet dead = new BitSet(n);
    for (int i = 0; i < n; i++) {
      System.arraycopy(vectors.get(order[i]), 0, emb, i * dim, dim);
      orderedIds[i] = ids.get(order[i]);
      if (tombstones.get(order[i])) {
        dead.set(i);
      }
    }
    IndexMeta meta = new IndexMeta(version, dim, m, efConstruction, seed, System.currentTimeMillis());
    return new HnswIndex(meta, view, Embeddings.of(emb, dim), LongBuffer.wrap(orderedIds), dead, null);
  }
}

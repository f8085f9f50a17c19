package dev.nann.graph;

import java.io.IOException;
import java.io.UncheckedIOException;

import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.apache.lucene.codecs.hnsw.DefaultFlatVectorScorer;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.TaskExecutor;
import org.apache.lucene.util.hnsw.HnswBuilder;
import org.apache.lucene.util.hnsw.HnswConcurrentMergeBuilder;
import org.apache.lucene.util.hnsw.HnswGraph;
import org.apache.lucene.util.hnsw.HnswGraphBuilder;
import org.apache.lucene.util.hnsw.NeighborArray;
import org.apache.lucene.util.hnsw.OnHeapHnswGraph;
import org.apache.lucene.util.hnsw.RandomVectorScorerSupplier;

/**
 * Builds an {@link HnswIndex} from item embeddings with Lucene's HNSW builder (L2 distance), then
 * freezes Lucene's on-heap graph into the compact CSR {@link HnswGraphView}.
 *
 * <p>Parameters map to the HNSW paper and Lucene as: {@code m} = M = Lucene {@code maxConn}
 * (level 0 keeps up to 2·M neighbours), {@code efConstruction} = Lucene {@code beamWidth}. With one
 * thread the build is deterministic for a seed; with more, Lucene's concurrent builder is used and
 * the graph differs run to run (same quality).
 *
 * <p>Node ids of the result are <b>not</b> input rows: nodes are renumbered for memory locality
 * during the walk ({@link #nodeOrder}: upper-level nodes first, breadth-first within each level
 * group); map back with {@link HnswIndex#itemId}.
 */
public final class HnswIndexBuilder {
  /** Paper defaults (NANN §5.1.4, HNSW M and efConstruction). */
  public static final int DEFAULT_M = 32;
  public static final int DEFAULT_EF_CONSTRUCTION = 40;

  private int m = DEFAULT_M;
  private int efConstruction = DEFAULT_EF_CONSTRUCTION;
  private long seed = 42;
  private int threads = 1;
  private long version = 1;
  private LongConsumer progress = done -> { };

  public HnswIndexBuilder m(int m) {
    if (m < 2 || m > 512) {
      throw new IllegalArgumentException("M must be in [2, 512], got " + m);
    }
    this.m = m;
    return this;
  }

  public HnswIndexBuilder efConstruction(int ef) {
    if (ef < 1 || ef > 4096) {
      throw new IllegalArgumentException("efConstruction must be in [1, 4096], got " + ef);
    }
    this.efConstruction = ef;
    return this;
  }

  public HnswIndexBuilder seed(long seed) {
    this.seed = seed;
    return this;
  }

  public HnswIndexBuilder threads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.threads = threads;
    return this;
  }

  public HnswIndexBuilder version(long version) {
    this.version = version;
    return this;
  }

  /** Called about every second during the build with the number of nodes inserted so far. */
  public HnswIndexBuilder progress(LongConsumer progress) {
    this.progress = progress;
    return this;
  }

  /**
   * Builds the index.
   *
   * @param rowMajor {@code ids.length x dim} embeddings, row-major; every value must be finite
   * @param ids external item ids, one per row
   * @throws IllegalArgumentException on a shape mismatch or a non-finite value (naming the item)
   */
  public HnswIndex build(float[] rowMajor, int dim, long[] ids) {
    if (dim <= 0) {
      throw new IllegalArgumentException("dim must be > 0, got " + dim);
    }
    if ((long) ids.length * dim != rowMajor.length) {
      throw new IllegalArgumentException("embeddings hold " + rowMajor.length + " floats but " + ids.length
          + " items of dim " + dim + " need " + (long) ids.length * dim);
    }
    checkFinite(rowMajor, dim, ids);
    long[] sorted = ids.clone();
    Arrays.sort(sorted);
    for (int i = 1; i < sorted.length; i++) {
      if (sorted[i] == sorted[i - 1]) {   // an exclusion or a fresh change would reach one of the copies only
        throw new IllegalArgumentException("item id " + sorted[i] + " is given twice: an index holds each item once");
      }
    }
    int n = ids.length;
    List<float[]> vectors = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      vectors.add(Arrays.copyOfRange(rowMajor, i * dim, (i + 1) * dim));
    }
    if (n == 0) {
      return new HnswIndex(new IndexMeta(version, dim, m, efConstruction, seed, System.currentTimeMillis()), emptyView(),
          Embeddings.of(new float[0], dim), LongBuffer.allocate(0), new BitSet(), null);
    }
    OnHeapHnswGraph graph = buildLucene(vectors, dim);
    int[] order = nodeOrder(graph, n);
    HnswGraphView view = freeze(graph, n, order);
    float[] emb = new float[rowMajor.length];
    long[] orderedIds = new long[n];
    for (int i = 0; i < n; i++) {
      System.arraycopy(rowMajor, order[i] * dim, emb, i * dim, dim);
      orderedIds[i] = ids[order[i]];
    }
    IndexMeta meta = new IndexMeta(version, dim, m, efConstruction, seed, System.currentTimeMillis());
    return new HnswIndex(meta, view, Embeddings.of(emb, dim), LongBuffer.wrap(orderedIds), new BitSet(n), null);
  }

  /** Rejects NaN and infinities with the item id and component that hold them. */
  static void checkFinite(float[] rowMajor, int dim, long[] ids) {
    for (int i = 0; i < rowMajor.length; i++) {
      if (!Float.isFinite(rowMajor[i])) {
        throw new IllegalArgumentException("embedding of item " + ids[i / dim] + " (row " + i / dim + ") has a non-finite value "
            + rowMajor[i] + " at component " + i % dim);
      }
    }
  }

  private OnHeapHnswGraph buildLucene(List<float[]> vectors, int dim) {
    try {
      RandomVectorScorerSupplier scorers = DefaultFlatVectorScorer.INSTANCE.getRandomVectorScorerSupplier(
          VectorSimilarityFunction.EUCLIDEAN,
          org.apache.lucene.util.hnsw.RandomAccessVectorValues.fromFloats(vectors, dim));
      HnswGraphBuilder.randSeed = seed;
      HnswGraphBuilder single = HnswGraphBuilder.create(scorers, m, efConstruction, seed, vectors.size());
      HnswBuilder builder = single;
      ExecutorService pool = null;
      if (threads > 1) {
        pool = Executors.newFixedThreadPool(threads + 1, r -> {
          Thread t = new Thread(r, "hnsw-build");
          t.setDaemon(true);
          return t;
        });
        builder = new HnswConcurrentMergeBuilder(new TaskExecutor(pool), threads, scorers, m, efConstruction,
            single.getGraph(), null);
      }
      ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "hnsw-build-main");
        t.setDaemon(true);
        return t;
      });
      HnswBuilder b = builder;
      Future<OnHeapHnswGraph> done = runner.submit(() -> b.build(vectors.size()));
      try {
        while (true) {
          try {
            OnHeapHnswGraph g = done.get(1, TimeUnit.SECONDS);
            progress.accept(vectors.size());
            return g;
          } catch (java.util.concurrent.TimeoutException e) {
            progress.accept(builder.getGraph().size());
          }
        }
      } finally {
        runner.shutdownNow();
        if (pool != null) {
          pool.shutdownNow();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("index build interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("index build failed: " + e.getCause(), e.getCause());
    }
  }

  /**
   * The numbering of the frozen graph, {@code order[newId] = oldId}: nodes grouped by their top
   * level, highest first, and each group in breadth-first order of level 0.
   *
   * <p>Breadth-first order gives graph neighbours nearby ids, so a walk's embedding rows, adjacency
   * rows and visited marks share cache lines and pages. Grouping by level puts the upper layers'
   * nodes (about 1/M of them) in one compact block at the front: the exhaustively scored top layer
   * is a sequential read, and every query's upper-layer steps touch a few megabytes that stay in
   * the caches and the TLB instead of rows spread over the whole table.
   */
  static int[] nodeOrder(OnHeapHnswGraph g, int n) {
    int[] bfs = bfsOrder(g, n);
    int levels = g.numLevels();
    int[] topLevel = new int[n];
    int[] perLevel = new int[levels];
    for (int level = 1; level < levels; level++) {
      HnswGraph.NodesIterator it = g.getNodesOnLevel(level);
      while (it.hasNext()) {
        topLevel[it.nextInt()] = level;     // levels ascend, so the last write is the top
      }
    }
    for (int v = 0; v < n; v++) {
      perLevel[topLevel[v]]++;
    }
    int[] start = new int[levels];          // counting sort, highest level first, stable
    for (int level = levels - 1, at = 0; level >= 0; level--) {
      start[level] = at;
      at += perLevel[level];
    }
    int[] order = new int[n];
    for (int v : bfs) {
      order[start[topLevel[v]]++] = v;
    }
    return order;
  }

  /** Breadth-first order of level 0 from the entry point (unreached nodes last). */
  static int[] bfsOrder(OnHeapHnswGraph g, int n) {
    int[] order = new int[n];
    boolean[] seen = new boolean[n];
    int head = 0;
    int tail = 0;
    int entry = g.entryNode();
    int next = 0;
    while (tail < n) {
      if (head == tail) {                         // start (or restart) from an unreached node
        int start = entry >= 0 && !seen[entry] ? entry : -1;
        while (start < 0) {
          if (!seen[next]) {
            start = next;
          }
          next++;
        }
        seen[start] = true;
        order[tail++] = start;
      }
      int v = order[head++];
      NeighborArray na = g.getNeighbors(0, v);
      int[] nb = na.nodes();
      for (int i = 0; i < na.size(); i++) {
        if (!seen[nb[i]]) {
          seen[nb[i]] = true;
          order[tail++] = nb[i];
        }
      }
    }
    return order;
  }

  /** Converts Lucene's on-heap graph into per-level CSR arrays, relabelling node {@code order[i]} as {@code i}. */
  static HnswGraphView freeze(OnHeapHnswGraph g, int n, int[] order) {
    int[] newId = new int[n];
    for (int i = 0; i < n; i++) {
      newId[order[i]] = i;
    }
    int levels = g.numLevels();
    IntBuffer[] nodes = new IntBuffer[levels];
    IntBuffer[] offsets = new IntBuffer[levels];
    IntBuffer[] neighbors = new IntBuffer[levels];
    for (int level = 0; level < levels; level++) {
      int[] ids;                                  // new ids on this level, ascending
      if (level == 0) {
        ids = null;
      } else {
        HnswGraph.NodesIterator it = g.getNodesOnLevel(level);
        ids = new int[it.size()];
        for (int i = 0; it.hasNext(); i++) {
          ids[i] = newId[it.nextInt()];
        }
        Arrays.sort(ids);
      }
      int rows = level == 0 ? n : ids.length;
      int[] off = new int[rows + 1];
      long edges = 0;
      for (int r = 0; r < rows; r++) {
        edges += g.getNeighbors(level, order[level == 0 ? r : ids[r]]).size();
      }
      int[] nbr = new int[Math.toIntExact(edges)];
      int pos = 0;
      for (int r = 0; r < rows; r++) {
        NeighborArray na = g.getNeighbors(level, order[level == 0 ? r : ids[r]]);
        off[r] = pos;
        int[] src = na.nodes();
        for (int j = 0; j < na.size(); j++) {
          nbr[pos++] = newId[src[j]];
        }
      }
      off[rows] = pos;
      nodes[level] = ids == null ? IntBuffer.allocate(0) : IntBuffer.wrap(ids);
      offsets[level] = IntBuffer.wrap(off);
      neighbors[level] = IntBuffer.wrap(nbr);
    }
    return new HnswGraphView(n, newId[g.entryNode()], nodes, offsets, neighbors);
  }

  private static HnswGraphView emptyView() {
    return new HnswGraphView(0, 0, new IntBuffer[] {IntBuffer.allocate(0)}, new IntBuffer[] {IntBuffer.wrap(new int[1])},
        new IntBuffer[] {IntBuffer.allocate(0)});
  }

}

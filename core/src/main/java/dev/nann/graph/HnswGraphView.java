package dev.nann.graph;

import java.nio.IntBuffer;

/**
 * Read-only multi-level HNSW graph in compressed sparse row form.
 *
 * <p>Level 0 holds every node: {@code offsets0[node] .. offsets0[node + 1]} index into
 * {@code neighbors0}. Each upper level {@code l >= 1} holds a sorted subset of nodes
 * ({@code nodes[l]}); a node's row is found by binary search (upper levels are ~1/M of the level
 * below, so this is a few probes). Neighbour ids are always global node ids. The buffers may be
 * heap arrays or memory-mapped file regions; the view never copies them.
 */
public final class HnswGraphView {
  private final int size;
  private final int entryPoint;
  private final IntBuffer[] nodes;     // nodes[0] is null: level 0 is dense
  private final IntBuffer[] offsets;
  private final IntBuffer[] neighbors;

  /**
   * @param size number of nodes
   * @param entryPoint a node on the top level
   * @param nodes per level the sorted node ids on it ({@code nodes[0]} is ignored)
   * @param offsets per level CSR offsets, one more than the nodes on that level
   * @param neighbors per level the concatenated neighbour lists
   */
  public HnswGraphView(int size, int entryPoint, IntBuffer[] nodes, IntBuffer[] offsets, IntBuffer[] neighbors) {
    if (nodes.length != offsets.length || nodes.length != neighbors.length || nodes.length == 0) {
      throw new IllegalArgumentException("nodes, offsets and neighbors must have one entry per level");
    }
    if (size > 0 && (entryPoint < 0 || entryPoint >= size)) {
      throw new IllegalArgumentException("entry point " + entryPoint + " outside [0, " + size + ")");
    }
    if (offsets[0].limit() != size + 1) {
      throw new IllegalArgumentException("level 0 needs " + (size + 1) + " offsets, got " + offsets[0].limit());
    }
    this.size = size;
    this.entryPoint = entryPoint;
    this.nodes = nodes.clone();
    this.offsets = offsets.clone();
    this.neighbors = neighbors.clone();
  }

  /** Number of nodes (items), including tombstoned ones. */
  public int size() {
    return size;
  }

  /** Number of levels; level {@code levels() - 1} is the top. */
  public int levels() {
    return offsets.length;
  }

  /** The node HNSW search starts from: it is on the top level. */
  public int entryPoint() {
    return entryPoint;
  }

  /** Number of nodes on {@code level}. */
  public int levelSize(int level) {
    return level == 0 ? size : nodes[level].limit();
  }

  /** The {@code i}-th node on {@code level} (ascending ids). */
  public int nodeOnLevel(int level, int i) {
    return level == 0 ? i : nodes[level].get(i);
  }

  /**
   * Copies the neighbours of {@code node} on {@code level} into {@code dst} from {@code dstOffset}.
   *
   * @return the number of neighbours copied, or 0 if the node is not on that level
   */
  public int copyNeighbors(int level, int node, int[] dst, int dstOffset) {
    int row = level == 0 ? node : rowOf(level, node);
    return row < 0 ? 0 : copyRow(level, row, dst, dstOffset);
  }

  /** Neighbours of {@code node} on {@code level} as a new array (for tests and tools, not the hot path). */
  public int[] neighbors(int level, int node) {
    int row = level == 0 ? node : rowOf(level, node);
    if (row < 0) {
      return new int[0];
    }
    int[] out = new int[offsets[level].get(row + 1) - offsets[level].get(row)];
    copyRow(level, row, out, 0);
    return out;
  }

  private int copyRow(int level, int row, int[] dst, int dstOffset) {
    IntBuffer off = offsets[level];
    int from = off.get(row);
    int n = off.get(row + 1) - from;
    neighbors[level].get(from, dst, dstOffset, n);
    return n;
  }

  /** Largest neighbour list on {@code level}. */
  public int maxDegree(int level) {
    IntBuffer off = offsets[level];
    int max = 0;
    for (int i = 0; i + 1 < off.limit(); i++) {
      max = Math.max(max, off.get(i + 1) - off.get(i));
    }
    return max;
  }

  /** Total directed edges on {@code level}. */
  public int edgeCount(int level) {
    return neighbors[level].limit();
  }

  /**
   * Level 0's CSR offsets as a heap array, or null when the graph is memory-mapped. With
   * {@link #level0Neighbors()} it lets the walk's innermost loop read adjacency without a copy.
   */
  public int[] level0Offsets() {
    return offsets[0].hasArray() && offsets[0].arrayOffset() == 0 ? offsets[0].array() : null;
  }

  /** Level 0's concatenated neighbour lists as a heap array, or null when memory-mapped. */
  public int[] level0Neighbors() {
    return neighbors[0].hasArray() && neighbors[0].arrayOffset() == 0 ? neighbors[0].array() : null;
  }

  /** Same graph with every buffer copied into a heap array. */
  public HnswGraphView onHeap() {
    return new HnswGraphView(size, entryPoint, heap(nodes), heap(offsets), heap(neighbors));
  }

  private static IntBuffer[] heap(IntBuffer[] bufs) {
    IntBuffer[] out = new IntBuffer[bufs.length];
    for (int i = 0; i < bufs.length; i++) {
      if (bufs[i] != null) {
        int[] a = new int[bufs[i].limit()];
        bufs[i].get(0, a);
        out[i] = IntBuffer.wrap(a);
      }
    }
    return out;
  }

  IntBuffer nodesBuffer(int level) {
    return nodes[level];
  }

  IntBuffer offsetsBuffer(int level) {
    return offsets[level];
  }

  IntBuffer neighborsBuffer(int level) {
    return neighbors[level];
  }

  /**
   * The row of {@code node} in {@code level}'s sorted node list, -1 if absent. The builder numbers
   * nodes highest level first ({@link HnswIndexBuilder#nodeOrder}), so on its graphs a level's nodes
   * are the ids 0 … n-1 and a node is its own row: checked first, a binary search otherwise.
   */
  private int rowOf(int level, int node) {
    IntBuffer ids = nodes[level];
    if (node < ids.limit() && ids.get(node) == node) {
      return node;
    }
    int lo = 0;
    int hi = ids.limit() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int v = ids.get(mid);
      if (v < node) {
        lo = mid + 1;
      } else if (v > node) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -1;
  }
}

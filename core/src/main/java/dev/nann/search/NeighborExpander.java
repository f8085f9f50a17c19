package dev.nann.search;

import dev.nann.graph.HnswGraphView;
import java.util.Arrays;

/**
 * Which nodes a walk scores next: the not-yet-visited neighbours of the nodes it expands, marked
 * visited as they are collected (so no node is scored twice in a query), gathered into one reusable
 * buffer. Layer 0 is read from the heap CSR arrays in place, with every adjacency row touched first
 * so their cache misses overlap. Per-query state of one {@link Searcher}; not thread-safe.
 */
final class NeighborExpander {
  private final HnswGraphView graph;
  private final VisitedMarks marks;
  private final int[] maxDegree;    // per level
  private final int[] offsets0;     // level-0 CSR as heap arrays when available (fast path), else null
  private final int[] neighbors0;
  private int[] nbrScratch;
  private int[] pending = new int[1024];
  private int[] ends = new int[64];   // ends[i]: where the i-th expanded node's neighbours end in pending
  private long nanos;
  private float touchSink;          // keeps the read-ahead loads from being optimised away

  NeighborExpander(HnswGraphView graph, int nodes) {
    this.graph = graph;
    this.marks = new VisitedMarks(nodes);
    int maxDeg = 0;
    this.maxDegree = new int[graph.levels()];
    for (int l = 0; l < graph.levels(); l++) {
      maxDegree[l] = graph.maxDegree(l);   // a scan of the level's offsets: once, not per query
      maxDeg = Math.max(maxDeg, maxDegree[l]);
    }
    this.nbrScratch = new int[Math.max(1, maxDeg)];
    this.offsets0 = graph.level0Offsets();
    this.neighbors0 = offsets0 == null ? null : graph.level0Neighbors();
  }

  /** Forgets every mark and the time spent; call at the start of each query. */
  void newQuery() {
    marks.newQuery();
    nanos = 0;
  }

  /** Time spent collecting neighbours in this query. */
  long nanos() {
    return nanos;
  }

  int maxDegree(int level) {
    return maxDegree[level];
  }

  /**
   * Where the neighbours of the {@code i}-th node of the last {@link #unvisitedNeighbors(int, int[], int)}
   * call end in {@link #pending()}: they start where the previous node's end.
   */
  int end(int i) {
    return ends[i];
  }

  /** The buffer the last collect call filled (valid until the next one). */
  int[] pending() {
    return pending;
  }

  /** The pending buffer with room for {@code n} nodes, for callers that fill it themselves. */
  int[] pending(int n) {
    if (pending.length < n) {
      pending = Arrays.copyOf(pending, Math.max(n, pending.length * 2));
    }
    return pending;
  }

  /** Marks and collects up to {@code limit} nodes of {@code level} (a walk's entry layer); returns the count. */
  int collectLevel(int level, int limit) {
    int size = Math.min(graph.levelSize(level), limit);
    pending(size);
    for (int i = 0; i < size; i++) {
      int node = graph.nodeOnLevel(level, i);
      marks.mark(node);
      pending[i] = node;
    }
    return size;
  }

  /** Marks and collects the graph's entry point (HNSW's entry: one node of the top layer); returns 1. */
  int collectEntryPoint() {
    int entry = graph.entryPoint();
    marks.mark(entry);
    pending(1)[0] = entry;
    return 1;
  }

  /** Marks one node visited (HNSW's entry point). */
  void mark(int node) {
    marks.mark(node);
  }

  /** The unvisited neighbours of {@code nodes[0, c)} on {@code level}, marked and collected; returns their count. */
  int unvisitedNeighbors(int level, int[] nodes, int c) {
    long t = System.nanoTime();
    if (ends.length < c) {
      ends = Arrays.copyOf(ends, Math.max(c, ends.length * 2));
    }
    int nn = level == 0 && neighbors0 != null ? level0(nodes, c) : upper(level, nodes, c);
    nanos += System.nanoTime() - t;
    return nn;
  }

  /** The unvisited neighbours of one node (HNSW-retrieval expands one at a time). */
  int unvisitedNeighbors(int level, int node) {
    return append(level, node, 0);
  }

  private int upper(int level, int[] nodes, int c) {
    int nn = 0;
    for (int i = 0; i < c; i++) {
      nn = append(level, nodes[i], nn);
      ends[i] = nn;
    }
    return nn;
  }

  /** Level 0 read from the heap CSR arrays in place (the hot loop of the walk). */
  private int level0(int[] nodes, int c) {
    int nn = 0;
    int[] off = offsets0;
    int[] nbr = neighbors0;
    // Touch every adjacency row first (one load per 64-byte line, no branches on the loaded data):
    // the misses of many rows overlap here instead of one at a time inside the loop below.
    int touch = 0;
    for (int i = 0; i < c; i++) {
      int node = nodes[i];
      int from = off[node];
      int to = off[node + 1];
      for (int j = from; j < to; j += 16) {
        touch += nbr[j];
      }
      touch += to > from ? nbr[to - 1] : 0;   // rows are not 64-byte aligned: the last line may be one more
    }
    touchSink = touch;
    for (int i = 0; i < c; i++) {
      int node = nodes[i];
      int from = off[node];
      int to = off[node + 1];
      pending(nn + to - from);
      nn = marks.markUnvisited(nbr, from, to, pending, nn);
      ends[i] = nn;
    }
    return nn;
  }

  /** Marks the unvisited neighbours of {@code node} and appends them to pending from {@code nn}; returns the new count. */
  private int append(int level, int node, int nn) {
    int deg = graph.copyNeighbors(level, node, nbrScratch, 0);
    pending(nn + deg);
    return marks.markUnvisited(nbrScratch, 0, deg, pending, nn);
  }
}

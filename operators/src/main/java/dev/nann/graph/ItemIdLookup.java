package dev.nann.graph;

import java.util.Arrays;

/**
 * Item id to graph node, for turning a user's behaviour sequence (item ids) into embeddings. Two
 * sorted parallel arrays searched by bisection: compact, immutable, and built once per loaded index.
 */
public final class ItemIdLookup {
  private final long[] ids;
  private final int[] nodes;

  private ItemIdLookup(long[] ids, int[] nodes) {
    this.ids = ids;
    this.nodes = nodes;
  }

  /** Indexes every node of {@code index}, tombstoned ones included (their embeddings still describe a behaviour). */
  public static ItemIdLookup of(HnswIndex index) {
    int n = index.size();
    long[] packed = new long[n];
    long[] ids = new long[n];
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
      ids[i] = index.itemId(i);
    }
    Arrays.sort(order, (a, b) -> Long.compare(ids[a], ids[b]));
    int[] nodes = new int[n];
    for (int i = 0; i < n; i++) {
      packed[i] = ids[order[i]];
      nodes[i] = order[i];
    }
    return new ItemIdLookup(packed, nodes);
  }

  /** The node of {@code itemId}, or -1 if the index does not hold it. */
  public int nodeOf(long itemId) {
    int at = Arrays.binarySearch(ids, itemId);
    return at < 0 ? -1 : nodes[at];
  }
}

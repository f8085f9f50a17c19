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

  /**
   * Indexes the live nodes of {@code index}. Tombstoned nodes are left out: an updated item has a
   * tombstoned old node and a live new one under the same id, and only the new one describes it.
   */
  public static ItemIdLookup of(HnswIndex index) {
    int all = index.size();
    int n = all - index.deletedCount();
    long[] packed = new long[n];
    long[] ids = new long[all];
    Integer[] order = new Integer[n];
    int live = 0;
    for (int i = 0; i < all; i++) {
      ids[i] = index.itemId(i);
      if (!index.isDeleted(i)) {
        order[live++] = i;
      }
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

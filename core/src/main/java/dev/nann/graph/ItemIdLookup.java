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
    long[] ids = new long[all - index.deletedCount()];
    int[] nodes = new int[ids.length];
    int live = 0;
    for (int i = 0; i < all; i++) {
      if (!index.isDeleted(i)) {
        ids[live] = index.itemId(i);
        nodes[live++] = i;
      }
    }
    // parallel primitive arrays sorted together (no boxed comparator: this runs on every snapshot load)
    new org.apache.lucene.util.IntroSorter() {
      private long pivot;

      @Override
      protected void swap(int i, int j) {
        long id = ids[i];
        ids[i] = ids[j];
        ids[j] = id;
        int node = nodes[i];
        nodes[i] = nodes[j];
        nodes[j] = node;
      }

      @Override
      protected void setPivot(int i) {
        pivot = ids[i];
      }

      @Override
      protected int comparePivot(int j) {
        return Long.compare(pivot, ids[j]);
      }

      @Override
      protected int compare(int i, int j) {
        return Long.compare(ids[i], ids[j]);
      }
    }.sort(0, ids.length);
    for (int i = 1; i < ids.length; i++) {
      if (ids[i] == ids[i - 1]) {   // a hand-made or crafted snapshot: answers could repeat or dodge exclusions
        throw new SnapshotException("item id " + ids[i] + " is live at nodes " + nodes[i - 1] + " and " + nodes[i]
            + "; a snapshot holds each live item once");
      }
    }
    return new ItemIdLookup(ids, nodes);
  }

  /** The node of {@code itemId}, or -1 if the index does not hold it. */
  public int nodeOf(long itemId) {
    int at = Arrays.binarySearch(ids, itemId);
    return at < 0 ? -1 : nodes[at];
  }
}

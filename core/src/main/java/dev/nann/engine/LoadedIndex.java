package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.scorer.UserFeatures;
import java.util.Arrays;
import java.util.List;

/**
 * A verified index snapshot held in the {@link SharedRegistry}, with its item id lookup.
 *
 * @param version snapshot version from its descriptor
 * @param index the searchable index (hot arrays on heap)
 * @param ids item id to node, for behaviour sequences
 * @param createdAtMillis when the snapshot was built (for the index-age metric)
 */
public record LoadedIndex(long version, HnswIndex index, ItemIdLookup ids, long createdAtMillis)
    implements AutoCloseable {
  /** The user network's input for a behaviour sequence: the items of it this index holds, with their embeddings. */
  public UserFeatures features(List<Long> sequence) {
    return features(sequence, index.dim(), (item, dst, offset) -> {
      int node = ids.nodeOf(item);
      if (node < 0) {
        return false;
      }
      index.embeddings().copyRow(node, dst, offset);
      return true;
    });
  }

  /** Where a behaviour item's embedding is read from: one index, or the shard that holds it. */
  interface ItemRows {
    /** Copies {@code item}'s embedding to {@code dst} at {@code offset}; false when it is not held. */
    boolean copy(long item, float[] dst, int offset);
  }

  /** The behaviour items {@code rows} holds, in sequence order, with their embeddings. */
  static UserFeatures features(List<Long> sequence, int dim, ItemRows rows) {
    long[] found = new long[sequence.size()];
    float[] emb = new float[sequence.size() * dim];
    int n = 0;
    for (long item : sequence) {
      if (rows.copy(item, emb, n * dim)) {
        found[n++] = item;
      }
    }
    return new UserFeatures(Arrays.copyOf(found, n), Arrays.copyOf(emb, n * dim), dim);
  }

  @Override
  public void close() {
    // heap arrays and the mapping are released by the garbage collector once unreferenced
  }
}

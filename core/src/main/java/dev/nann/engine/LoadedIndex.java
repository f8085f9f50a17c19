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
    int d = index.dim();
    long[] found = new long[sequence.size()];
    float[] emb = new float[sequence.size() * d];
    int n = 0;
    for (long item : sequence) {
      int node = ids.nodeOf(item);
      if (node >= 0) {
        found[n] = item;
        index.embeddings().copyRow(node, emb, n * d);
        n++;
      }
    }
    return new UserFeatures(Arrays.copyOf(found, n), Arrays.copyOf(emb, n * d), d);
  }

  @Override
  public void close() {
    // heap arrays and the mapping are released by the garbage collector once unreferenced
  }
}

package dev.nann.engine;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;

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
  @Override
  public void close() {
    // heap arrays and the mapping are released by the garbage collector once unreferenced
  }
}

package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.LongBuffer;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/** An index holds each live item once: a second copy would dodge exclusions and repeat in answers. */
class ItemIdLookupTest {
  private static final float[] ROWS = {1, 0, 0, 1, 1, 1};

  @Test
  void duplicateItemIdsAreRefusedWhenBuiltAndWhenLoaded() {
    IllegalArgumentException built = assertThrows(IllegalArgumentException.class,
        () -> new HnswIndexBuilder().m(4).efConstruction(8).build(ROWS, 2, new long[] {5, 6, 5}));
    assertEquals("item id 5 is given twice: an index holds each item once", built.getMessage());

    HnswIndex ok = new HnswIndexBuilder().m(4).efConstruction(8).build(ROWS, 2, new long[] {5, 6, 7});
    long[] ids = new long[3];
    for (int node = 0; node < 3; node++) {
      ids[node] = ok.itemId(node) == 7 ? 5 : ok.itemId(node);   // as a crafted snapshot could
    }
    HnswIndex twice = new HnswIndex(ok.meta(), ok.graph(), ok.embeddings(), LongBuffer.wrap(ids), new BitSet(), null);
    SnapshotException loaded = assertThrows(SnapshotException.class, () -> ItemIdLookup.of(twice));
    assertTrue(loaded.getMessage().startsWith("item id 5 is live at nodes "), loaded.getMessage());

    BitSet moved = new BitSet();   // an updated item: its old node a tombstone, its new one live
    for (int node = 0; node < 3; node++) {
      if (ids[node] == 5) {
        moved.set(node);
        break;
      }
    }
    HnswIndex updated = new HnswIndex(ok.meta(), ok.graph(), ok.embeddings(), LongBuffer.wrap(ids), moved, null);
    assertTrue(ItemIdLookup.of(updated).nodeOf(5) >= 0, "one live copy is fine");
  }
}

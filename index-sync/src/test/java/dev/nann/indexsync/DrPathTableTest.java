package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.ItemPaths;
import dev.nann.graph.SnapshotFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deep Retrieval's path table in index-sync: trained items keep their paths, new items get their
 * nearest item's paths (and keep them), and the table travels in the snapshot file.
 */
class DrPathTableTest {
  @TempDir
  Path dir;

  @Test
  void newItemsTakeTheirNearestItemsPathsAndTheTableTravelsInTheSnapshot() throws IOException {
    Files.writeString(dir.resolve("dr.json"), "{\"format\": 1, \"depth\": 2, \"width\": 4, \"paths_per_item\": 2}");
    Files.writeString(dir.resolve("paths.tsv"), "1\t0.1,3.3\n2\t1.2\n3\t2.0,2.1\n");
    DrPathTable table = DrPathTable.load(dir);
    // items 4 and 5 are new: 4 sits next to 2, 5 next to 3
    float[] emb = {0, 0, 10, 0, 0, 10, 10.1f, 0.2f, 0.1f, 9.9f};
    HnswIndex built = new HnswIndexBuilder().m(4).efConstruction(8).seed(1).build(emb, 2, new long[] {1, 2, 3, 4, 5});
    Map<Long, long[]> assigned = new HashMap<>();
    ItemPaths paths = table.forIndex(built, assigned);
    Map<Long, long[]> byItem = new HashMap<>();
    for (int node = 0; node < built.size(); node++) {
      byItem.put(built.itemId(node), paths.pathsOf(node));
    }
    assertArrayEquals(new long[] {0 * 4 + 1, 3 * 4 + 3}, byItem.get(1L));
    assertArrayEquals(new long[] {1 * 4 + 2, -1}, byItem.get(2L));
    assertArrayEquals(byItem.get(2L), byItem.get(4L), "item 4 takes item 2's paths");
    assertArrayEquals(byItem.get(3L), byItem.get(5L), "item 5 takes item 3's paths");
    assertEquals(2, assigned.size());
    // a later build keeps the assignment even if the neighbourhood changed
    assigned.put(4L, new long[] {7, -1});
    assertArrayEquals(new long[] {7, -1}, table.forIndex(built, assigned).pathsOf(nodeOf(built, 4)));

    Path file = dir.resolve("index.nann");
    SnapshotFormat.write(built.withPaths(paths), file);
    ItemPaths read = SnapshotFormat.read(file).paths();
    assertEquals(2, read.perItem());
    int[] onPath = read.nodesOf(1 * 4 + 2);
    assertEquals(2, onPath.length, "items 2 and 4 share path 1.2");
    assertTrue(read.nodesOf(9 * 4 + 9).length == 0);

    Files.writeString(dir.resolve("paths.tsv"), "1\t0.9\n");
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> DrPathTable.load(dir));
    assertTrue(bad.getMessage().contains("node 9"), bad.getMessage());
  }

  /**
   * An item assigned before is not a source: a new item takes its nearest trained item's paths, so the
   * paths do not depend on the order the catalogue grew in.
   */
  @Test
  void newItemsTakeTheNearestTrainedItemsPathsNotAnAssignedOnes() throws IOException {
    Files.writeString(dir.resolve("dr.json"), "{\"format\": 1, \"depth\": 2, \"width\": 4, \"paths_per_item\": 1}");
    Files.writeString(dir.resolve("paths.tsv"), "1\t0.1\n2\t3.3\n");
    DrPathTable table = DrPathTable.load(dir);
    // trained 1 at x = 0 and 2 at x = 10; 3 at x = 4 was assigned 1's paths by an earlier build; 4 at x = 6
    float[] emb = {0, 0, 10, 0, 4, 0, 6, 0};
    HnswIndex built = new HnswIndexBuilder().m(4).efConstruction(8).seed(1).build(emb, 2, new long[] {1, 2, 3, 4});
    Map<Long, long[]> assigned = new HashMap<>(Map.of(3L, new long[] {1}));
    ItemPaths paths = table.forIndex(built, assigned);
    assertArrayEquals(new long[] {1}, paths.pathsOf(nodeOf(built, 3)), "3 keeps what it got");
    assertArrayEquals(new long[] {3 * 4 + 3}, paths.pathsOf(nodeOf(built, 4)), "4 takes 2's, its nearest trained item");
  }

  /**
   * New items find their nearest item with paths through the graph: the same item an exhaustive
   * comparison finds for nearly all of them, at a small share of the distances (a catalogue of a
   * million items after a retrain compared every new item with every trained one, for hours). Items
   * far from every item with paths still get paths.
   */
  @Test
  void theGraphFindsTheNearestItemWithPathsAtASmallShareOfTheWork() {
    int n = 12_000;
    int d = 16;
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
    float[] emb = new float[n * d];
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i + 1;
      for (int j = 0; j < d; j++) {
        emb[i * d + j] = (float) rnd.nextGaussian() + (i % 40 == j % 40 ? 3f : 0f);
      }
    }
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(100).seed(1).build(emb, d, ids);
    boolean[] known = new boolean[n];
    int knownCount = 0;
    for (int node = 0; node < n; node++) {
      known[node] = node % 3 == 0;
      knownCount += known[node] ? 1 : 0;
    }
    DrPathTable.NearestKnown walk = new DrPathTable.NearestKnown(built, known);
    DrPathTable.NearestKnown exhaustive = new DrPathTable.NearestKnown(built, known);
    int same = 0;
    int asked = 0;
    for (int node = 0; node < n; node++) {
      if (!known[node]) {
        asked++;
        int found = walk.find(node);
        assertTrue(found >= 0 && known[found], "node " + node + " found " + found);
        same += found == exhaustive.scan(node) ? 1 : 0;
      }
    }
    assertTrue(same >= 0.97 * asked, same + " of " + asked + " the exact nearest");
    assertTrue(walk.distances() < 0.35 * exhaustive.distances(), walk.distances() + " distances against "
        + exhaustive.distances() + " for comparing with all " + knownCount);

    // items with paths in one far cluster only: every other item still gets the nearest of them
    boolean[] far = new boolean[n];
    float[] shifted = emb.clone();
    for (int node = 0; node < n; node += 10) {
      far[node] = true;
      for (int j = 0; j < d; j++) {
        shifted[node * d + j] += 40f;
      }
    }
    HnswIndex apart = new HnswIndexBuilder().m(16).efConstruction(100).seed(1).build(shifted, d, ids);
    DrPathTable.NearestKnown across = new DrPathTable.NearestKnown(apart, far);
    int nearest = 0;
    int tried = 0;
    for (int node = 1; node < n; node += 37) {
      if (!far[node]) {
        tried++;
        int found = across.find(node);   // the walk goes on past its usual stop until it meets one
        nearest += found >= 0 && found == across.scan(node) ? 1 : 0;
      }
    }
    assertTrue(nearest >= 0.9 * tried, nearest + " of " + tried + " found the nearest item with paths across the gap");
  }

  private static int nodeOf(HnswIndex index, long id) {
    for (int node = 0; node < index.size(); node++) {
      if (index.itemId(node) == id) {
        return node;
      }
    }
    throw new AssertionError("no item " + id);
  }
}

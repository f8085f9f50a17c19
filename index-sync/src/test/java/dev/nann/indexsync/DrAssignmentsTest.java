package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.ItemPaths;
import dev.nann.graph.SnapshotFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.ValueState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * index-sync's nearest-path assignments across a retrain: state restored under another DR
 * structure (more paths per item, another K, or from before assignments named their structure) is
 * dropped and assigned again, instead of failing the build on every restart or reusing codes that
 * name other paths; under the same structure the assignments stay as they were.
 */
class DrAssignmentsTest {
  @TempDir
  Path dir;

  /** Items 1-3 are trained; 4 sits next to 2 and 5 next to 3, both new. */
  private static HnswIndex catalog() {
    float[] emb = {0, 0, 10, 0, 0, 10, 10.1f, 0.2f, 0.1f, 9.9f};
    return new HnswIndexBuilder().m(4).efConstruction(8).seed(1).build(emb, 2, new long[] {1, 2, 3, 4, 5});
  }

  @Test
  void aRetrainWithMorePathsPerItemReassignsInsteadOfFailingEveryBuild() throws Exception {
    DrPathTable before = table("before", 4, 2, "1\t0.1,3.3\n2\t1.2\n3\t2.0,2.1\n");
    FakeMapState assigned = new FakeMapState();
    FakeValueState structure = new FakeValueState();
    HnswIndex built = catalog();
    DrAssignments.assign(before, built, assigned, structure, "index version 1");
    assertEquals(2, assigned.map.size());
    assertEquals(2, assigned.map.get(4L).length);
    assertEquals(before.structure().key(), structure.value);

    // restart with a retrained structure of J = 3: the state's 2-code entries must not be copied as 3
    DrPathTable after = table("after", 4, 3, "1\t0.1,3.3,1.1\n2\t1.3\n3\t2.0,2.1,2.2\n");
    ItemPaths paths = DrAssignments.assign(after, built, assigned, structure, "index version 2");
    assertEquals(Optional.of(after.structure()), paths.structure());
    assertArrayEquals(new long[] {1 * 4 + 3, -1, -1}, paths.pathsOf(nodeOf(built, 4)), "4 takes 2's new paths");
    assertArrayEquals(new long[] {8, 9, 10}, paths.pathsOf(nodeOf(built, 5)), "5 takes 3's new paths");
    assertEquals(3, assigned.map.get(4L).length, "the state holds the new assignments");
    assertEquals(after.structure().key(), structure.value);

    // the snapshot names the structure its paths belong to
    Path file = dir.resolve("index.nann");
    SnapshotFormat.write(built.withPaths(paths), file);
    assertEquals(Optional.of(after.structure()), SnapshotFormat.read(file).paths().structure());
  }

  @Test
  void aRetrainWithAnotherWidthDoesNotReuseTheOldCodes() throws Exception {
    DrPathTable k4 = table("k4", 4, 1, "1\t0.1\n2\t1.2\n3\t2.0\n");
    DrPathTable k5 = table("k5", 5, 1, "1\t0.1\n2\t4.4\n3\t2.0\n");
    FakeMapState assigned = new FakeMapState();
    FakeValueState structure = new FakeValueState();
    HnswIndex built = catalog();
    DrAssignments.assign(k4, built, assigned, structure, "v1");
    assertArrayEquals(new long[] {1 * 4 + 2}, assigned.map.get(4L));
    ItemPaths paths = DrAssignments.assign(k5, built, assigned, structure, "v2");
    assertArrayEquals(new long[] {4 * 5 + 4}, paths.pathsOf(nodeOf(built, 4)), "item 2's path under K = 5");
    assertArrayEquals(new long[] {4 * 5 + 4}, assigned.map.get(4L));
  }

  @Test
  void aDeletedItemsAssignmentLeavesTheState() throws Exception {
    DrPathTable t = table("churn", 4, 1, "1\t0.1\n2\t1.2\n3\t2.0\n");
    FakeMapState assigned = new FakeMapState();
    FakeValueState structure = new FakeValueState();
    java.util.Random r = new java.util.Random(1);
    for (int build = 1; build <= 20; build++) {
      // the 3 trained items, and 10 new items each build: the previous build's 10 are deleted
      long[] ids = new long[13];
      float[] emb = new float[13 * 2];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i < 3 ? i + 1 : 1000L * build + i;
        emb[2 * i] = (float) r.nextGaussian();
        emb[2 * i + 1] = (float) r.nextGaussian();
      }
      DrAssignments.assign(t, new HnswIndexBuilder().m(4).efConstruction(8).seed(1).build(emb, 2, ids), assigned,
          structure, "v" + build);
      assertEquals(10, assigned.map.size(), "build " + build + ": the live items' assignments only");
    }
  }

  @Test
  void underTheSameStructureAssignmentsStayAndStateFromBeforeIsAssignedAgain() throws Exception {
    DrPathTable t = table("t", 4, 2, "1\t0.1,3.3\n2\t1.2\n3\t2.0,2.1\n");
    HnswIndex built = catalog();
    FakeMapState assigned = new FakeMapState();
    FakeValueState structure = new FakeValueState();
    structure.value = t.structure().key();
    assigned.map.put(4L, new long[] {7, -1});           // kept: the item's paths do not move between builds
    assigned.map.put(5L, new long[] {7, 8, 9});         // another J: dropped, assigned again
    assigned.map.put(6L, new long[] {99, -1});          // outside K^D = 16: dropped
    DrAssignments.Restored r = DrAssignments.restore(t.structure(), structure.value, assigned.map.entrySet());
    assertEquals(2, r.dropped());
    assertTrue(r.reason().contains("do not fit"), r.reason());
    ItemPaths paths = DrAssignments.assign(t, built, assigned, structure, "v3");
    assertArrayEquals(new long[] {7, -1}, paths.pathsOf(nodeOf(built, 4)));
    assertArrayEquals(new long[] {2 * 4, 2 * 4 + 1}, paths.pathsOf(nodeOf(built, 5)));
    assertNull(assigned.map.get(6L), "entries of another structure leave the state");
    assertArrayEquals(new long[] {7, -1}, assigned.map.get(4L), "the kept ones stay in it");

    // state written before assignments named their structure: nothing vouches for its codes
    FakeMapState old = new FakeMapState();
    old.map.put(4L, new long[] {7, -1});
    FakeValueState none = new FakeValueState();
    DrAssignments.Restored unknown = DrAssignments.restore(t.structure(), none.value, old.map.entrySet());
    assertEquals(1, unknown.dropped());
    assertTrue(unknown.reason().contains("before"), unknown.reason());
    paths = DrAssignments.assign(t, built, old, none, "v4");
    assertArrayEquals(new long[] {1 * 4 + 2, -1}, paths.pathsOf(nodeOf(built, 4)), "4 takes 2's paths again");
    assertEquals(t.structure().key(), none.value);

    // and a map handed to forIndex with an entry of another length never breaks the build
    Map<Long, long[]> direct = new HashMap<>(Map.of(4L, new long[] {1, 2, 3, 4}));
    assertArrayEquals(new long[] {1 * 4 + 2, -1}, t.forIndex(built, direct).pathsOf(nodeOf(built, 4)));
    assertEquals(2, direct.get(4L).length);
  }

  private DrPathTable table(String name, int width, int perItem, String paths) throws IOException {
    Path d = Files.createDirectories(dir.resolve(name));
    Files.writeString(d.resolve("dr.json"), "{\"format\": 1, \"depth\": 2, \"width\": " + width
        + ", \"paths_per_item\": " + perItem + "}");
    Files.writeString(d.resolve("paths.tsv"), paths);
    return DrPathTable.load(d);
  }

  private static int nodeOf(HnswIndex index, long id) {
    for (int node = 0; node < index.size(); node++) {
      if (index.itemId(node) == id) {
        return node;
      }
    }
    throw new AssertionError("no item " + id);
  }

  /** Keyed map state of one key, in memory. */
  private static final class FakeMapState implements MapState<Long, long[]> {
    final Map<Long, long[]> map = new HashMap<>();

    @Override
    public long[] get(Long key) {
      return map.get(key);
    }

    @Override
    public void put(Long key, long[] value) {
      map.put(key, value);
    }

    @Override
    public void putAll(Map<Long, long[]> all) {
      map.putAll(all);
    }

    @Override
    public void remove(Long key) {
      map.remove(key);
    }

    @Override
    public boolean contains(Long key) {
      return map.containsKey(key);
    }

    @Override
    public Iterable<Map.Entry<Long, long[]>> entries() {
      return map.entrySet();
    }

    @Override
    public Iterable<Long> keys() {
      return map.keySet();
    }

    @Override
    public Iterable<long[]> values() {
      return map.values();
    }

    @Override
    public Iterator<Map.Entry<Long, long[]>> iterator() {
      return map.entrySet().iterator();
    }

    @Override
    public boolean isEmpty() {
      return map.isEmpty();
    }

    @Override
    public void clear() {
      map.clear();
    }
  }

  /** Keyed value state of one key, in memory. */
  private static final class FakeValueState implements ValueState<String> {
    String value;

    @Override
    public String value() {
      return value;
    }

    @Override
    public void update(String v) {
      value = v;
    }

    @Override
    public void clear() {
      value = null;
    }
  }
}

package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot whose checksum is right but whose graph is not (written by a faulty or hostile
 * writer, which checksums what it wrote) is refused when it is read, with a message naming what is
 * wrong, instead of failing on every query later; and a section past 2 GiB is refused at write with
 * a message to shard instead of an int overflow.
 */
class SnapshotChecksTest {
  static HnswIndex built;

  @TempDir
  Path tmp;

  @BeforeAll
  static void build() {
    built = TestData.index(TestData.corpus(3000, 16, 11), 8);
  }

  /** What a test does to a copy of the built graph's arrays before it is written. */
  private interface Damage {
    void apply(int[][] nodes, int[][] offsets, BitSet tombstones);
  }

  /** The built index with {@code damage} done, written by the real writer (so checksummed) to a file. */
  private Path written(String name, Damage damage) {
    HnswGraphView g = built.graph();
    int levels = g.levels();
    int[][] nodes = new int[levels][];
    int[][] offsets = new int[levels][];
    int[][] neighbors = new int[levels][];
    for (int level = 0; level < levels; level++) {
      nodes[level] = level == 0 ? new int[0] : array(g.nodesBuffer(level));
      offsets[level] = array(g.offsetsBuffer(level));
      neighbors[level] = array(g.neighborsBuffer(level));
    }
    BitSet tombstones = new BitSet();
    damage.apply(nodes, offsets, tombstones);
    HnswGraphView view = new HnswGraphView(built.size(), g.entryPoint(), wrap(nodes), wrap(offsets), wrap(neighbors));
    HnswIndex damaged = new HnswIndex(built.meta(), view, built.embeddings(), built.itemIdBuffer(), tombstones, null);
    Path file = tmp.resolve(name + ".nann");
    HnswIndex w = SnapshotFormat.write(damaged, file);
    assertEquals(w.sha256(), SnapshotFormat.storedChecksum(file));
    return file;
  }

  private static void assertRefused(Path file, String expected) {
    SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.read(file));
    assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(file.toString()), e.getMessage());
  }

  @Test
  void anUndamagedCopyLoads() {
    assertTrue(built.graph().levels() >= 2, "the checks below need an upper level");
    SnapshotFormatTest.assertIndexEquals(built, SnapshotFormat.read(written("clean", (n, o, t) -> { })));
  }

  @Test
  void decreasingOffsetsAreRefused() {
    Path file = written("offsets", (n, o, t) -> o[0][1] = o[0][2] + 1);
    assertRefused(file, "level 0 offsets decrease at row 1");
  }

  @Test
  void anUnsortedUpperLevelIsRefused() {
    Path file = written("unsorted", (n, o, t) -> {
      int first = n[1][0];
      n[1][0] = n[1][1];
      n[1][1] = first;
    });
    assertRefused(file, "level 1 node list is not strictly ascending");
  }

  @Test
  void anUpperLevelNodeOutsideTheGraphIsRefused() {
    Path file = written("outside", (n, o, t) -> n[1][n[1].length - 1] = built.size());
    assertRefused(file, "node " + built.size() + " at position");
  }

  @Test
  void tombstonesPastTheLastNodeAreRefused() {
    assertTrue(built.size() % 64 != 0, "a last word with room past the last node");
    assertRefused(written("tomb-words", (n, o, t) -> t.set(built.size() + 100)), "tombstone past its last node");
    assertRefused(written("tomb-bit", (n, o, t) -> t.set(built.size())), "tombstone past its last node");
    assertEquals(1, SnapshotFormat.read(written("tomb-last", (n, o, t) -> t.set(built.size() - 1))).deletedCount());
  }

  @Test
  void aSectionPast2GiBIsRefusedWithAMessageToShard() {
    assertEquals(256_000_000, SnapshotChecks.sectionBytes(3, "embedding", 1_000_000L * 64, 4));
    // 8.4M items at d = 64: 2,150,400,000 bytes, where an int product went negative ("capacity < 0")
    SnapshotException e = assertThrows(SnapshotException.class,
        () -> SnapshotChecks.sectionBytes(7, "embedding", 8_400_000L * 64, 4));
    assertTrue(e.getMessage().contains("index version 7") && e.getMessage().contains("2,150,400,000")
        && e.getMessage().contains("2 GiB") && e.getMessage().contains("index.shards"), e.getMessage());
  }

  private static int[] array(IntBuffer b) {
    int[] a = new int[b.limit()];
    b.get(0, a);
    return a;
  }

  private static IntBuffer[] wrap(int[][] arrays) {
    IntBuffer[] out = new IntBuffer[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      out[i] = IntBuffer.wrap(arrays[i]);
    }
    return out;
  }
}

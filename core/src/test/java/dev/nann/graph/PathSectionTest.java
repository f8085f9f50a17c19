package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot's path section names the Deep Retrieval structure of its codes; a section in the
 * layout written before (codes only) still reads, as a table of unknown structure.
 */
class PathSectionTest {
  private static final DrStructureId STRUCTURE = new DrStructureId(2, 4, 2, "ab".repeat(32));

  @TempDir
  Path tmp;

  private static HnswIndex small() {
    float[] emb = {0, 0, 1, 0, 0, 1, 1, 1};
    return new HnswIndexBuilder().m(4).efConstruction(8).seed(1).version(3).build(emb, 2, new long[] {10, 11, 12, 13});
  }

  private static final long[] CODES = {1, 15, 6, -1, 1, -1, 0, 9};

  @Test
  void theStructureTravelsWithThePaths() {
    HnswIndex index = small().withPaths(ItemPaths.of(CODES, 2, STRUCTURE));
    ItemPaths read = SnapshotFormat.read(write(index, "a.nann")).paths();
    assertEquals(Optional.of(STRUCTURE), read.structure());
    assertEquals(2, read.perItem());
    for (int node = 0; node < 4; node++) {
      assertArrayEquals(index.paths().pathsOf(node), read.pathsOf(node), "node " + node);
    }
    assertEquals(2, read.nodesOf(1).length, "nodes 0 and 2 share path 1");
  }

  @Test
  void aSectionWithoutAStructureIsTheEarlierLayoutAndReadsAsUnknown() {
    ItemPaths unknown = ItemPaths.of(CODES, 2);
    ByteBuffer b = PathSection.bytes(unknown, 3).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(4 + 8 * CODES.length, b.remaining(), "i32 J | i64 codes, as snapshots were written before");
    assertEquals(2, b.getInt(0));
    assertEquals(15, b.getLong(4 + 8));

    ItemPaths read = SnapshotFormat.read(write(small().withPaths(unknown), "old.nann")).paths();
    assertTrue(read.structure().isEmpty(), "identity unknown");
    assertArrayEquals(new long[] {6, -1}, read.pathsOf(1));
  }

  @Test
  void aSectionOfAnotherLengthOrAMismatchedStructureIsRefused() {
    ByteBuffer identified = PathSection.bytes(ItemPaths.of(CODES, 2, STRUCTURE), 3);
    ByteBuffer longer = ByteBuffer.allocate(identified.remaining() + 3).put(identified.duplicate()).rewind();
    SnapshotException e = assertThrows(SnapshotException.class, () -> PathSection.read(tmp, longer, 4));
    assertTrue(e.getMessage().contains("malformed path section"), e.getMessage());
    assertEquals(Optional.of(STRUCTURE), PathSection.read(tmp, identified, 4).structure());

    // the identity's J is the section's: a structure of another J cannot name these codes
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> ItemPaths.of(CODES, 2, new DrStructureId(2, 4, 3, "ab".repeat(32))));
    assertTrue(bad.getMessage().contains("J=3"), bad.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new DrStructureId(2, 4, 2, "not hex"));
  }

  private Path write(HnswIndex index, String name) {
    Path file = tmp.resolve(name);
    SnapshotFormat.write(index, file);
    return file;
  }
}

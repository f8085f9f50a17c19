package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotFormatTest {
  static HnswIndex built;

  @TempDir
  Path tmp;

  @BeforeAll
  static void build() {
    Corpus c = TestData.corpus(3000, 16, 11);
    built = TestData.index(c, 8);
  }

  static void assertIndexEquals(HnswIndex a, HnswIndex b) {
    assertEquals(a.meta().version(), b.meta().version());
    assertEquals(a.meta().dim(), b.meta().dim());
    assertEquals(a.meta().m(), b.meta().m());
    assertEquals(a.size(), b.size());
    HnswGraphView ga = a.graph();
    HnswGraphView gb = b.graph();
    assertEquals(ga.levels(), gb.levels());
    assertEquals(ga.entryPoint(), gb.entryPoint());
    for (int level = 0; level < ga.levels(); level++) {
      assertEquals(ga.levelSize(level), gb.levelSize(level), "level size " + level);
      for (int i = 0; i < ga.levelSize(level); i++) {
        int node = ga.nodeOnLevel(level, i);
        assertEquals(node, gb.nodeOnLevel(level, i));
        assertArrayEquals(ga.neighbors(level, node), gb.neighbors(level, node), "level " + level + " node " + node);
      }
    }
    for (int node = 0; node < a.size(); node++) {
      assertEquals(a.itemId(node), b.itemId(node));
      assertArrayEquals(a.embeddings().row(node), b.embeddings().row(node));
    }
    assertEquals(a.tombstones(), b.tombstones());
  }

  /**
   * Serving reads snapshots onto the heap, hashing the very bytes it copies: the same index as the
   * mapped read, and any byte changed anywhere (a section, the padding, the table) or a file cut short
   * is refused before anything is checked or served.
   */
  @Test
  void theHeapReadServesExactlyTheBytesItHashed() throws IOException {
    Path f = tmp.resolve("heap.nann");
    SnapshotFormat.write(built, f);
    HnswIndex mapped = SnapshotFormat.read(f);
    HnswIndex heap = SnapshotFormat.readOnHeap(f);
    assertIndexEquals(mapped, heap);
    assertEquals(mapped.sha256(), heap.sha256());
    byte[] good = Files.readAllBytes(f);
    for (int at : new int[] {100, good.length / 3, good.length / 2, good.length - 41}) {
      byte[] bad = good.clone();
      bad[at] ^= 0x10;
      Files.write(f, bad);
      SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.readOnHeap(f), "byte " + at);
      // a changed table entry may fail its bounds first; anything else fails the checksum
      assertTrue(e.getMessage().contains("does not match the stored") || at < 200, e.getMessage());
    }
    Files.write(f, java.util.Arrays.copyOf(good, good.length - 1000));
    assertThrows(SnapshotException.class, () -> SnapshotFormat.readOnHeap(f));
  }

  /**
   * Behaviour lookups read rows from the file after it was verified: one whose header was rewritten
   * in place (the checksum trailer kept) is refused, not read with another dimension or row count.
   */
  @Test
  void embeddingRowsRefuseAFileWhoseHeaderChangedSinceItWasVerified() throws IOException {
    Path f = tmp.resolve("rows.nann");
    SnapshotFormat.write(built, f);
    HnswIndex verified = SnapshotFormat.read(f);
    float[] row = new float[16];
    try (EmbeddingRows rows = SnapshotFormat.embeddingRows(f, verified)) {
      rows.copyRow(5, row, 0);
      assertArrayEquals(verified.embeddings().row(5), row);
    }
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.seek(24);                       // dim 16 -> 32 (little-endian), count halved: same section bytes
      raf.write(new byte[] {32, 0, 0, 0});
      raf.writeInt(Integer.reverseBytes(verified.size() / 2));
    }
    SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.embeddingRows(f, verified));
    assertTrue(e.getMessage().contains("header changed"), e.getMessage());
  }

  @Test
  void builderProducesAMultiLevelGraphWithBoundedDegree() {
    HnswGraphView g = built.graph();
    assertTrue(g.levels() >= 2, "3000 nodes with M=8 should have upper levels, got " + g.levels());
    assertTrue(g.maxDegree(0) <= 16, "level 0 keeps at most 2M neighbours");
    for (int l = 1; l < g.levels(); l++) {
      assertTrue(g.maxDegree(l) <= 8, "upper levels keep at most M neighbours");
    }
    int top = g.levels() - 1;
    boolean entryOnTop = false;
    for (int i = 0; i < g.levelSize(top); i++) {
      entryOnTop |= g.nodeOnLevel(top, i) == g.entryPoint();
    }
    assertTrue(entryOnTop, "entry point lies on the top level");
  }

  @Test
  void roundTripIsExactAndMemoryMapped() {
    Path file = tmp.resolve("index.nann");
    HnswIndex written = SnapshotFormat.write(built, file);
    HnswIndex read = SnapshotFormat.read(file);
    assertIndexEquals(built, read);
    assertEquals(written.sha256(), read.sha256());
    assertEquals(64, read.sha256().length());
  }

  @Test
  void heapCopyOfAMappedSnapshotIsIdentical() {
    Path file = tmp.resolve("heap.nann");
    SnapshotFormat.write(built, file);
    HnswIndex mapped = SnapshotFormat.read(file);
    HnswIndex heap = mapped.onHeap();
    assertIndexEquals(mapped, heap);
    assertTrue(heap.embeddings().heapArray() != null && heap.graph().level0Neighbors() != null);
    assertTrue(mapped.embeddings().heapArray() == null, "a read snapshot is memory-mapped");
    assertTrue(!heap.itemIdBuffer().isDirect() && mapped.itemIdBuffer().isDirect(),
        "item ids are copied off the mapping, which a file deleted on a shared volume can fault");
  }

  @Test
  void tombstonesSurviveTheRoundTrip() {
    java.util.BitSet dead = new java.util.BitSet();
    dead.set(5);
    dead.set(2999);
    HnswIndex withDeletes = new HnswIndex(built.meta(), built.graph(), built.embeddings(),
        java.nio.LongBuffer.wrap(ids(built)), dead, null);
    Path file = tmp.resolve("deletes.nann");
    SnapshotFormat.write(withDeletes, file);
    HnswIndex read = SnapshotFormat.read(file);
    assertTrue(read.isDeleted(5) && read.isDeleted(2999) && !read.isDeleted(6));
    assertEquals(2, read.deletedCount());
  }

  @Test
  void attributesSurviveTheRoundTripAndFilter() {
    java.util.List<java.util.Map<String, String>> perNode = new java.util.ArrayList<>();
    for (int node = 0; node < built.size(); node++) {
      perNode.add(node % 7 == 0 ? null : java.util.Map.of("genre", "g" + node % 3, "lang", node % 2 == 0 ? "en" : "fr"));
    }
    Path file = tmp.resolve("attrs.nann");
    SnapshotFormat.write(built.withAttributes(ItemAttributes.of(perNode)), file);
    HnswIndex read = SnapshotFormat.read(file);
    java.util.BitSet enG1 = read.attributes().eligible(
        java.util.Map.of("genre", java.util.List.of("g1", "g2"), "lang", java.util.List.of("en")), read.size());
    for (int node = 0; node < read.size(); node++) {
      boolean want = node % 7 != 0 && node % 3 != 0 && node % 2 == 0;
      assertEquals(want, enG1.get(node), "node " + node);
    }
    assertTrue(read.attributes().eligible(java.util.Map.of("genre", java.util.List.of("nope")), read.size()).isEmpty());
    assertTrue(read.attributes().eligible(java.util.Map.of("color", java.util.List.of("red")), read.size()).isEmpty());
    assertEquals(read.size(), read.attributes().eligible(java.util.Map.of(), read.size()).cardinality());
    assertEquals(java.util.Set.of("genre", "lang"), read.attributes().keys());
  }

  @Test
  void aFlippedByteAnywhereIsDetected() throws IOException {
    Path file = tmp.resolve("corrupt.nann");
    SnapshotFormat.write(built, file);
    long size = Files.size(file);
    for (long pos : new long[] {100, size / 2, size - 50}) {
      Path copy = tmp.resolve("corrupt-" + pos + ".nann");
      Files.copy(file, copy);
      try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
        raf.seek(pos);
        int b = raf.read();
        raf.seek(pos);
        raf.write(b ^ 0x5a);
      }
      SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.read(copy));
      assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
    }
  }

  @Test
  void truncationIsDetected() throws IOException {
    Path file = tmp.resolve("trunc.nann");
    SnapshotFormat.write(built, file);
    for (long keep : new long[] {10, Files.size(file) / 3, Files.size(file) - 1}) {
      Path copy = tmp.resolve("trunc-" + keep + ".nann");
      Files.copy(file, copy);
      try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
        raf.setLength(keep);
      }
      SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.read(copy));
      assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("corrupt"), e.getMessage());
    }
  }

  @Test
  void foreignFilesAreRejectedByMagic() throws IOException {
    Path file = tmp.resolve("other.bin");
    Files.write(file, new byte[4096]);
    SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.read(file));
    assertTrue(e.getMessage().contains("bad magic"), e.getMessage());
  }

  @Test
  void nonFiniteEmbeddingsAreRefusedWithTheItem() {
    float[] emb = new float[4 * 3];
    emb[7] = Float.NaN;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new HnswIndexBuilder().build(emb, 3, new long[] {10, 11, 12, 13}));
    assertTrue(e.getMessage().contains("item 12") && e.getMessage().contains("non-finite"), e.getMessage());
    emb[7] = Float.POSITIVE_INFINITY;
    assertThrows(IllegalArgumentException.class, () -> new HnswIndexBuilder().build(emb, 3, new long[] {10, 11, 12, 13}));
  }

  @Test
  void shapeMismatchAndBadParametersAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new HnswIndexBuilder().build(new float[10], 3, new long[] {1, 2}));
    assertThrows(IllegalArgumentException.class, () -> new HnswIndexBuilder().m(1));
    assertThrows(IllegalArgumentException.class, () -> new HnswIndexBuilder().efConstruction(0));
  }

  private static long[] ids(HnswIndex index) {
    long[] ids = new long[index.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = index.itemId(i);
    }
    return ids;
  }
}

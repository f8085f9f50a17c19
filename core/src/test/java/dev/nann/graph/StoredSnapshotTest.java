package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot's live items read from its header and tombstone bitmap alone. */
class StoredSnapshotTest {
  @TempDir
  Path dir;

  @Test
  void liveItemsAreTheNodesLessTheTombstones() throws Exception {
    Corpus c = TestData.corpus(500, 8, 4);
    HnswIndex built = new HnswIndexBuilder().m(8).efConstruction(20).seed(1).version(3)
        .build(c.embeddings(), c.dim(), c.itemIds());
    BitSet dead = TestData.everyNth(built.size(), 7);
    Path file = dir.resolve("index-v000000000003.nann");
    SnapshotFormat.write(TestData.withTombstones(built, dead), file);
    assertEquals(500 - dead.cardinality(), StoredSnapshot.liveItems(file));
    Path plain = dir.resolve("index-v000000000004.nann");
    SnapshotFormat.write(built, plain);
    assertEquals(500, StoredSnapshot.liveItems(plain));
    Path junk = dir.resolve("junk");
    Files.write(junk, new byte[100]);
    assertThrows(SnapshotException.class, () -> StoredSnapshot.liveItems(junk));
  }
}

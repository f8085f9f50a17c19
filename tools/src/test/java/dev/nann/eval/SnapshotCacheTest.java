package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator's snapshot cache: a snapshot is reused only for the corpus it was built from. */
class SnapshotCacheTest {
  @TempDir
  Path dir;

  @Test
  void aCorpusWithTheSameVectorsUnderOtherIdsGetsItsOwnSnapshot() throws Exception {
    Corpus c = TestData.corpus(200, 4, 3);
    long[] remapped = new long[c.size()];
    for (int i = 0; i < remapped.length; i++) {
      remapped[i] = 37L * c.itemIds()[i] + 5;   // the same items renumbered
    }
    SnapshotCache cache = new SnapshotCache(dir, 8, 20, 1, 1, new PrintStream(java.io.OutputStream.nullOutputStream()));
    int itemsHash = Arrays.hashCode(c.embeddings());
    HnswIndex first = cache.buildOrLoad(new Corpus("dir:items", c.embeddings(), c.itemIds(), c.dim(), List.of()), itemsHash);
    HnswIndex second = cache.buildOrLoad(new Corpus("dir:items", c.embeddings(), remapped, c.dim(), List.of()), itemsHash);
    assertArrayEquals(sorted(c.itemIds()), sortedIds(first, c.size()));
    assertArrayEquals(sorted(remapped), sortedIds(second, c.size()), "not the first corpus's snapshot");
  }

  private static long[] sorted(long[] ids) {
    long[] s = ids.clone();
    Arrays.sort(s);
    return s;
  }

  private static long[] sortedIds(HnswIndex index, int n) {
    long[] out = new long[n];
    for (int node = 0; node < n; node++) {
      out[node] = index.itemId(node);
    }
    Arrays.sort(out);
    return out;
  }
}

package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator's snapshot cache: a snapshot is reused only for the corpus it was built from. */
class SnapshotCacheTest {
  @TempDir
  Path dir;

  @Test
  void aCorpusWithTheSameVectorsUnderOtherIdsGetsItsOwnSnapshot() throws Exception {
    int n = 200;
    int dim = 4;
    float[] emb = new float[n * dim];
    Random r = new Random(3);
    for (int i = 0; i < emb.length; i++) {
      emb[i] = r.nextFloat();
    }
    long[] ids = new long[n];
    long[] remapped = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
      remapped[i] = 37L * i + 5;   // the same items renumbered
    }
    SnapshotCache cache = new SnapshotCache(dir, 8, 20, 1, 1, new PrintStream(java.io.OutputStream.nullOutputStream()));
    HnswIndex first = cache.buildOrLoad(new Corpus("dir:items", emb, ids, dim, List.of()), Arrays.hashCode(emb));
    HnswIndex second = cache.buildOrLoad(new Corpus("dir:items", emb, remapped, dim, List.of()), Arrays.hashCode(emb));
    assertArrayEquals(ids, sortedIds(first, ids.length));
    assertArrayEquals(remapped, sortedIds(second, remapped.length), "not the first corpus's snapshot");
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

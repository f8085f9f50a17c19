package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NodeOrderTest {
  @Test
  void upperLevelNodesTakeTheFirstIdsAndEveryItemKeepsItsEmbedding() {
    Corpus c = SyntheticCorpus.generate(4000, 8, 1, 5);
    HnswIndex index = TestData.index(c, 4);       // small M: several levels
    HnswGraphView g = index.graph();
    assertTrue(g.levels() >= 3, "levels: " + g.levels());
    for (int level = 1; level < g.levels(); level++) {
      int[] nodes = new int[g.levelSize(level)];
      for (int i = 0; i < nodes.length; i++) {
        nodes[i] = g.nodeOnLevel(level, i);
      }
      Arrays.sort(nodes);
      for (int i = 0; i < nodes.length; i++) {
        assertEquals(i, nodes[i], "level " + level + " holds exactly the ids [0, " + nodes.length + ")");
      }
    }
    for (int node = 0; node < index.size(); node++) {
      int row = (int) index.itemId(node);          // synthetic item ids are their input rows
      assertTrue(Arrays.equals(Arrays.copyOfRange(c.embeddings(), row * 8, row * 8 + 8), index.embeddings().row(node)));
    }
  }
}

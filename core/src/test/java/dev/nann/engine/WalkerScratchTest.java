package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.search.Searcher;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

/** A walker's searchers follow a swap and let the old index version go once the swap is over. */
class WalkerScratchTest {
  @Test
  void keepsTheOlderPairWhileRequestsInterleaveThenLetsItGo() throws Exception {
    try (OnnxModel model = OnnxModel.load(TestData.model("two-sided", 16))) {
      OnnxScorer scorer = new OnnxScorer(model);
      WalkerScratch scratch = new WalkerScratch(null, 5);
      LoadedIndex v1 = loaded(1);
      LoadedIndex v2 = loaded(2);
      Searcher s1 = scratch.searcher(v1, scorer);
      Searcher s2 = scratch.searcher(v2, scorer);
      assertNotSame(s1, s2);
      assertSame(s1, scratch.searcher(v1, scorer), "a request still on v1 during the swap reuses its searcher");
      assertSame(s2, scratch.searcher(v2, scorer));
      for (int i = 1; i < WalkerScratch.KEEP_PREVIOUS_FOR; i++) {
        assertTrue(scratch.holds(v1, scorer), "kept while the swap may still interleave: " + i);
        scratch.searcher(v2, scorer);
      }
      assertFalse(scratch.holds(v1, scorer), "let go after " + WalkerScratch.KEEP_PREVIOUS_FOR + " requests on v2");
      WeakReference<LoadedIndex> gone = new WeakReference<>(v1);
      v1 = null;
      s1 = null;
      for (int i = 0; i < 10 && gone.get() != null; i++) {
        System.gc();
        Thread.sleep(50);
      }
      assertNull(gone.get(), "the walker no longer keeps the old index version on the heap");
      assertSame(s2, scratch.searcher(v2, scorer));
    }
  }

  private static LoadedIndex loaded(long version) {
    Corpus c = TestData.corpus(300, 16, (int) version);
    HnswIndex index = TestData.index(c, 16);
    return new LoadedIndex(version, index, ItemIdLookup.of(index), 0L);
  }
}

package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The evaluation warns when every user gets nearly the same items: the real attention fixture gives
 * personal answers and passes; the same network's items scored without the user (a score that only
 * depends on the item, as a popularity ranking's does) is flagged.
 */
class AnswerVarietyTest {
  private static final String WARNING = "WARNING: nearly every user gets the same items";

  @Test
  void aModelThatRanksWithoutTheUserIsFlaggedAndARealOneIsNot() {
    Corpus corpus = TestData.corpus(2000, 16, 3);
    HnswIndex index = TestData.index(corpus, 8);
    Evaluator.Config cfg = new Evaluator.Config(List.of(SearchMode.BRUTE), SearchParams.DEFAULTS, 20, 40, 1, 7, 1);
    try (OnnxModel model = OnnxModel.load(TestData.model("attention", 16))) {
      OnnxScorer real = new OnnxScorer(model);
      String personal = run(index, real, corpus, cfg);
      assertTrue(personal.contains("[eval] brute: ") && personal.contains("distinct items in"), personal);
      assertFalse(personal.contains(WARNING), personal);

      String same = run(index, new ItemsOnly(real), corpus, cfg);
      assertTrue(same.contains(WARNING) && same.contains("20 distinct items in the top-20 answers of"), same);
    }
  }

  private static String run(HnswIndex index, Scorer scorer, Corpus corpus, Evaluator.Config cfg) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new Evaluator(index, scorer, corpus, new PrintStream(out, true)).run(cfg);
    return out.toString();
  }

  /** Scores an item by its own embedding alone (the sum of its coordinates): the same ranking for every user. */
  private static final class ItemsOnly extends WrappedScorer {
    ItemsOnly(Scorer inner) {
      super(inner);
    }

    @Override
    public void score(UserState user, ScoreBatch batch, int n) {
      FloatBuffer items = batch.items();
      int d = batch.dim();
      for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < d; j++) {
          s += items.get(i * d + j);
        }
        batch.scores()[i] = s;
      }
    }
  }
}

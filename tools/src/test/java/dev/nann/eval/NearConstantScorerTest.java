package dev.nann.eval;

import dev.nann.corpus.Corpus;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/**
 * The evaluation warns when a model barely tells items apart: the real attention fixture passes;
 * the same network behind a large constant bias (its differences lost in float rounding, a classic
 * export mistake) is flagged; the same network's scores on top of a large bias, their differences
 * well above rounding, are not (check-model's rule).
 */
class NearConstantScorerTest {
  @Test
  void aScorerThatCannotTellItemsApartIsFlaggedAndARealOneIsNot() {
    Corpus corpus = TestData.corpus(2000, 16, 3);
    HnswIndex index = TestData.index(corpus, 8);
    try (OnnxModel model = OnnxModel.load(TestData.model("attention", 16))) {
      OnnxScorer real = new OnnxScorer(model);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      assertFalse(new Evaluator(index, real, corpus, null).warnIfNearConstant(new PrintStream(out, true)),
          out.toString());
      assertTrue(out.toString().isEmpty(), out.toString());

      Scorer biased = new Shifted(real, 1e6f);
      assertTrue(new Evaluator(index, biased, corpus, null).warnIfNearConstant(new PrintStream(out, true)));
      assertTrue(out.toString().contains("near-constant across items"), out.toString());

      // a large user bias with small item differences still ranks items: check-model passes such a
      // model, and the evaluation must not call its rankings noise
      ByteArrayOutputStream shiftedOut = new ByteArrayOutputStream();
      assertFalse(new Evaluator(index, new Shifted(real, 50f), corpus, null)
          .warnIfNearConstant(new PrintStream(shiftedOut, true)), shiftedOut.toString());
    }
  }

  /**
   * The real network's scores shrunk a thousandfold on top of {@code offset}: on top of 1e6 every
   * difference is below float resolution at that size; on top of 50 the spread is small but far
   * above rounding.
   */
  private static final class Shifted extends WrappedScorer {
    private final float offset;

    Shifted(Scorer inner, float offset) {
      super(inner);
      this.offset = offset;
    }

    @Override
    public void score(UserState user, ScoreBatch batch, int n) {
      inner.score(user, batch, n);
      for (int i = 0; i < n; i++) {
        batch.scores()[i] = offset + batch.scores()[i] * 1e-3f;
      }
    }
  }
}

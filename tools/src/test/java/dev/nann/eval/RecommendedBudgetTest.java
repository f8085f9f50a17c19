package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The recommended budget: the most items a converged query scored, rounded up to two significant digits. */
class RecommendedBudgetTest {
  @Test
  void roundsUpToTwoSignificantDigitsAndNeverPastTheCorpus() {
    assertEquals(18_000, Evaluator.recommendedBudget(17_340, 1_000_000));
    assertEquals(17_000, Evaluator.recommendedBudget(17_000, 1_000_000), "a round figure stays");
    assertEquals(420, Evaluator.recommendedBudget(412, 1_682), "a small catalogue is not rounded to a thousand");
    assertEquals(99, Evaluator.recommendedBudget(99, 1_682));
    assertEquals(1_682, Evaluator.recommendedBudget(1_650, 1_682), "never above the corpus");
    assertEquals(0, Evaluator.recommendedBudget(0, 10));
  }

  /** A budget above serving's default cap names the cap too: a job with search.budget over it refuses to start. */
  @Test
  void aBudgetAboveTheDefaultCapNamesTheCap() {
    assertEquals("", Evaluator.maxBudgetNote(dev.nann.engine.EngineConfig.DEFAULT_MAX_BUDGET));
    assertEquals(", and search.max-budget >= 120000 (its default is 100000)", Evaluator.maxBudgetNote(120_000));
  }
}

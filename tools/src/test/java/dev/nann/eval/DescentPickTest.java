package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nann.search.Descent;
import org.junit.jupiter.api.Test;

/** Which descent the evaluator recommends from both measured at one width against the exact answers. */
class DescentPickTest {
  private static final double TARGET = 0.99;

  @Test
  void narrowOnlyWhenItCoversAsMuchWithNoMoreItemsOrClearlyMoreWhereWideFallsShort() {
    // as much (both past the target), fewer items: narrow
    assertEquals(Descent.NARROW, Evaluator.pickDescent(0.990, 11_419, 0.990, 13_368, TARGET));
    // within the tie of the wide one's coverage below the target, fewer items: narrow
    assertEquals(Descent.NARROW, Evaluator.pickDescent(0.951, 2_000, 0.952, 2_500, TARGET));
    // as much coverage but more items: wide (the narrow one was picked for its coverage alone)
    assertEquals(Descent.WIDE, Evaluator.pickDescent(0.989, 12_000, 0.995, 10_000, TARGET));
    assertEquals(Descent.WIDE, Evaluator.pickDescent(0.995, 12_000, 0.995, 10_000, TARGET));
    // fewer items but under the target, where the wide one reaches it: wide (the tie is not the target's)
    assertEquals(Descent.WIDE, Evaluator.pickDescent(0.9885, 9_000, 0.995, 10_000, TARGET));
    assertEquals(Descent.WIDE, Evaluator.pickDescent(0.9886, 9_000, 0.9905, 10_000, TARGET), "within the tie of wide");
    // clearly more where the wide one falls short: narrow, whatever the items
    assertEquals(Descent.NARROW, Evaluator.pickDescent(0.97, 12_000, 0.90, 10_000, TARGET));
    // less: wide
    assertEquals(Descent.WIDE, Evaluator.pickDescent(0.80, 8_000, 0.95, 10_000, TARGET));
  }
}

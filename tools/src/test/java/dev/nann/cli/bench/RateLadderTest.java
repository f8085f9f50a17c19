package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.function.DoublePredicate;
import org.junit.jupiter.api.Test;

class RateLadderTest {
  /** Runs the ladder against a job that holds its budget exactly where {@code holds} says; the rates offered. */
  private static List<Double> run(RateLadder ladder, DoublePredicate holds, double cap) {
    List<Double> offered = new ArrayList<>();
    for (OptionalDouble next = ladder.next(cap); next.isPresent(); next = ladder.next(cap)) {
      double rate = next.getAsDouble();
      offered.add(rate);
      boolean held = holds.test(rate);
      ladder.record(rate, held, !held && ladder.best() > 0 && rate > 1.5 * ladder.best());   // far over: stop
      assertTrue(offered.size() < 100, "the ladder ends: " + offered);
    }
    return offered;
  }

  @Test
  void climbsPastTheListUntilTheBudgetBreaksThenNarrowsTheGap() {
    RateLadder ladder = new RateLadder(List.of(25.0, 50.0, 100.0), 1.2);
    List<Double> offered = run(ladder, r -> r <= 333, 10_000);
    assertEquals(List.of(25.0, 50.0, 100.0, 120.0, 144.0, 173.0, 208.0, 250.0, 300.0, 360.0, 330.0, 345.0), offered);
    assertEquals(330, ladder.best());
    assertTrue(345 - ladder.best() <= RateLadder.PRECISION * ladder.best());
  }

  @Test
  void aMissInsideTheListIsNarrowedToo() {
    RateLadder ladder = new RateLadder(List.of(100.0, 200.0, 300.0), 1.2);
    List<Double> offered = run(ladder, r -> r <= 260, 10_000);
    assertEquals(List.of(100.0, 200.0, 300.0, 250.0, 275.0, 263.0, 257.0), offered);
    assertEquals(257, ladder.best());
    assertEquals(257, ladder.steadyBest(), "no miss below it: the same");
  }

  @Test
  void neverClimbsPastTheCap() {
    RateLadder ladder = new RateLadder(List.of(100.0), 2);
    assertEquals(List.of(100.0, 200.0, 400.0), run(ladder, r -> true, 500));
    assertEquals(400, ladder.best());
  }

  @Test
  void withoutAClimbItRunsTheListOnlyAndStopsWhereTheJobFellBehind() {
    RateLadder ladder = new RateLadder(List.of(100.0, 200.0, 300.0, 400.0), 1);
    List<Double> offered = new ArrayList<>();
    for (OptionalDouble next = ladder.next(10_000); next.isPresent(); next = ladder.next(10_000)) {
      double rate = next.getAsDouble();
      offered.add(rate);
      ladder.record(rate, rate < 300, rate >= 300);   // 300 falls behind: 400 is never offered
    }
    assertEquals(List.of(100.0, 200.0, 300.0), offered);
    assertEquals(200, ladder.best());
  }

  @Test
  void aMissBelowARateThatHeldIsNoise() {
    RateLadder ladder = new RateLadder(List.of(200.0, 250.0, 300.0), 1.2);
    List<Double> offered = run(ladder, r -> r != 250 && r <= 300, 10_000);
    assertEquals(List.of(200.0, 250.0, 300.0, 360.0, 330.0, 315.0), offered);
    assertEquals(300, ladder.best());
    assertEquals(200, ladder.steadyBest(), "the highest rate with no miss at or below it");
  }

  @Test
  void nothingHeldNothingClimbed() {
    RateLadder ladder = new RateLadder(List.of(100.0, 200.0), 1.2);
    assertEquals(List.of(100.0, 200.0), run(ladder, r -> false, 10_000));
    assertEquals(0, ladder.best());
    assertEquals(0, ladder.steadyBest());
    assertThrows(IllegalArgumentException.class, () -> new RateLadder(List.of(), 1.2));
    assertThrows(IllegalArgumentException.class, () -> new RateLadder(List.of(0.0), 1.2));
  }
}

package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ScorerCeilingTest {
  private static final Path MODEL = Path.of(System.getProperty("nann.repo", ".")).resolve("models/fixtures/attention-d16");

  @Test
  void theFittedCallCostPricesARequestByItsCallsAndItems() throws Exception {
    ScorerCeiling.CallCost cost = ScorerCeiling.measure(MODEL, 1, 8, 64, 1, 0.3);
    assertTrue(cost.nanosPerRow() > 0, "a row costs something: " + cost);
    assertTrue(cost.nanosPerCall() >= 0, cost.toString());
    // a request of 10 calls scoring 640 items costs what 10 calls of 64 rows cost
    double perRequest = cost.requestsPerSecond(10, 640);
    assertEquals(cost.itemsPerSecond(64) / 640, perRequest, 1e-9 * perRequest);
    // the same items in more, smaller calls pay the fixed part more often
    assertTrue(cost.requestsPerSecond(80, 640) <= perRequest, cost.toString());
  }

  @Test
  void twoThreadsScoreTwiceTheItemsOfOneAtTheSameCostPerThread() {
    ScorerCeiling.CallCost one = new ScorerCeiling.CallCost(20_000, 1_000, 1);
    ScorerCeiling.CallCost two = new ScorerCeiling.CallCost(20_000, 1_000, 2);
    assertEquals(256 * 1e9 / (20_000 + 256 * 1_000.0), one.itemsPerSecond(256), 1e-6);
    assertEquals(2 * one.requestsPerSecond(12, 2_000), two.requestsPerSecond(12, 2_000), 1e-6);
  }

  @Test
  void theFastestOfTwoMeasurementsKeepsEachSizesFasterTiming() {
    ScorerCeiling.CallCost calm = new ScorerCeiling.CallCost(20_000, 1_000, 2);
    ScorerCeiling.CallCost disturbedSmallCalls = ScorerCeiling.CallCost.fit(32, 3 * calm.callNanos(32), 256,
        calm.callNanos(256), 2);
    assertTrue(disturbedSmallCalls.nanosPerCall() > 3 * calm.nanosPerCall(), "a slow small call inflates the fixed part");
    ScorerCeiling.CallCost both = disturbedSmallCalls.fastest(calm, 32, 256);
    assertEquals(calm.nanosPerCall(), both.nanosPerCall(), 1e-6);
    assertEquals(calm.nanosPerRow(), both.nanosPerRow(), 1e-9);
    assertEquals(both.nanosPerCall(), calm.fastest(disturbedSmallCalls, 32, 256).nanosPerCall(), 1e-6);
  }
}

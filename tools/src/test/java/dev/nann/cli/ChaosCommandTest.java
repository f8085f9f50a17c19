package dev.nann.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.cluster.ChaosRun;
import dev.nann.cluster.Fault;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * What makes `./nann chaos` fail: a run answered in full but only with TIMEOUT, or one whose fault
 * never struck, is not a pass (counting answers alone let both through).
 */
class ChaosCommandTest {
  private static ChaosRun.Summary summary(Map<String, Integer> statuses, int faultsPlanned) {
    List<ChaosRun.FaultResult> faults = List.of(new ChaosRun.FaultResult(Fault.TASK_MANAGER_KILL, 10, "tm-1", 2.5, 4.0, 3, ""));
    int sent = statuses.values().stream().mapToInt(Integer::intValue).sum();
    return new ChaosRun.Summary(sent, sent, 0, 0, 1, 0, faults, "at-least-once", 0, 0, new TreeMap<>(statuses),
        12, 80, 0, 1, faultsPlanned);
  }

  @Test
  void aCleanRunPassesAndShedRequestsAreAllowed() {
    assertEquals(List.of(), ChaosCommand.failures(summary(Map.of("OK", 980, "OVERLOADED", 20), 1)));
  }

  @Test
  void timeoutsOnlyErrorStatusesAndFaultsNotInjectedFail() {
    assertTrue(ChaosCommand.failures(summary(Map.of("TIMEOUT", 1000), 1)).get(0)
        .startsWith("only 0 of 1000 requests answered with items"));
    assertTrue(ChaosCommand.failures(summary(Map.of("OK", 990, "SCORER_ERROR", 10), 1)).get(0)
        .equals("10 answers SCORER_ERROR: no fault explains that status"));
    assertEquals(List.of("1 of 2 faults could not be injected (see the log)"),
        ChaosCommand.failures(summary(Map.of("OK", 1000), 2)));
  }
}

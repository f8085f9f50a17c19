package dev.nann.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job jar on a real multi-process cluster through a crash: one JobManager and two TaskManager
 * processes, a broker process, index-sync and serving (parallelism 2, exactly-once responses)
 * submitted with Flink's own client; 2,000 requests at 50/s while a TaskManager running serving is
 * killed with {@code kill -9} and a new one is started. Every request must be answered exactly
 * once, as seen by a {@code read_committed} consumer, and every feed trigger pushed once.
 */
class ClusterChaosTest {
  @TempDir
  Path dir;

  @Test
  void everyRequestAnsweredExactlyOnceThroughATaskManagerKill() throws Exception {
    Path repo = Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();
    Path jobJar = repo.resolve("flink-jobs/target/nann-job.jar");
    assertTrue(Files.isRegularFile(jobJar), "the job jar must be built first (test.sh does): " + jobJar);
    ChaosRun.Options o = new ChaosRun.Options(dir.resolve("cluster"), 2000, 50, 1, 0, false, false, 0, false, 0,
        "exactly-once", 0, 200, 10, 20, 2000, 2, 2, 90, false);
    ChaosRun.Summary s = ChaosRun.run(o, repo, repo.resolve("flink-cluster/target/lib"),
        System.getProperty("java.class.path"), jobJar, System.err);

    assertEquals(2000, s.sent());
    assertEquals(2000, s.answered(), "requests answered");
    assertEquals(0, s.lost());
    assertEquals(0, s.duplicates(), "answers seen twice by a read_committed consumer");
    // the backlog after the restore may be shed at once (OVERLOADED: the engine's bounded queue),
    // which is an answer too; nothing else may come back
    assertTrue(java.util.Set.of("OK", "OVERLOADED").containsAll(s.statuses().keySet()), "statuses " + s.statuses());
    assertTrue(s.statuses().getOrDefault("OK", 0) >= 1000, "most requests answered with items: " + s.statuses());
    assertEquals(1, s.tmKills());
    assertTrue(s.servingFailovers() >= 1, "the kill must have hit the serving job: failovers " + s.servingFailovers());
    assertFalse(Double.isNaN(s.faults().get(0).recoveryS()), "answers resumed after the kill");
    // feed pushes are exactly-once per trigger event answered with items; a trigger shed like the
    // requests around it (OVERLOADED) is dropped from the feed, not pushed as an empty list
    assertTrue(s.feedDelivered() <= s.feedTriggers(), "no trigger pushed twice: " + s.feedDelivered() + " of "
        + s.feedTriggers());
    if (s.statuses().keySet().equals(java.util.Set.of("OK"))) {
      assertEquals(s.feedTriggers(), s.feedDelivered(), "nothing shed: every trigger pushed once");
    }
    assertEquals(0, s.indexVersionsReused());
  }
}

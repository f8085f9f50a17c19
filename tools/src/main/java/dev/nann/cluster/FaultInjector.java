package dev.nann.cluster;

import dev.nann.jobs.ServingOptions;
import dev.nann.graph.SnapshotStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Injects one {@link Fault} into a {@link LocalCluster} running a {@link ClusterDeployment}: picks
 * the target from the JobManager's view of where subtasks run, waits for the moment the fault is
 * about (a snapshot just published, a checkpoint just completed), strikes, and starts replacement
 * TaskManagers as a supervisor would.
 */
final class FaultInjector {
  /** What the run has observed so far, and the one thing it can change: the catalogue. */
  interface Observations {
    /** The newest index version seen on {@code index-updates}, or -1. */
    long newestPublished();

    /** The newest index version an answer has carried. */
    long newestAnswered();

    /** Moves {@code items} catalogue items, so index-sync publishes a new snapshot. */
    void changeCatalog(int items);
  }

  /** A fault struck at {@code atNanos} ({@link System#nanoTime}) on {@code target}. */
  record Injected(long atNanos, String target, String note) {
  }

  private final LocalCluster cluster;
  private final ClusterDeployment deployment;
  private final Observations seen;

  FaultInjector(LocalCluster cluster, ClusterDeployment deployment, Observations seen) {
    this.cluster = cluster;
    this.deployment = deployment;
    this.seen = seen;
  }

  Injected inject(Fault f) throws Exception {
    switch (f) {
      case TASK_MANAGER_KILL -> {
        String victim = servingTaskManager();
        return killAndReplace(victim, "");
      }
      case BROKER_RESTART -> {
        long t = System.nanoTime();
        cluster.stopBroker();
        double down = (System.nanoTime() - t) / 1e9;
        Thread.sleep(2000);
        cluster.startBroker();
        return new Injected(t, "broker", String.format("stopped in %.1f s, restarted after %.1f s", down, (System.nanoTime() - t) / 1e9));
      }
      case INDEX_SYNC_KILL -> {
        long before = seen.newestPublished();
        seen.changeCatalog(100);
        LocalCluster.await("index-sync to publish a snapshot above v" + before, 120, 20,
            () -> seen.newestPublished() > before);
        String victim = cluster.rest().taskManagersOf(deployment.indexSyncJob(), "rebuild").get(0);
        return killAndReplace(victim, "right after index-sync published v" + seen.newestPublished());
      }
      case BROKEN_SNAPSHOT -> {
        long newest = seen.newestPublished();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (seen.newestAnswered() < newest && System.nanoTime() < deadline) {
          Thread.sleep(50);
        }
        damage(cluster.home().snapshots().resolve(SnapshotStore.fileName(newest)));
        return killAndReplace(servingTaskManager(), "v" + newest + " damaged in the store, then");
      }
      case COMMIT_WINDOW_KILL -> {
        String victim = servingTaskManager();
        long completedAt = awaitCheckpoint();
        long t = System.nanoTime();
        cluster.killTaskManager(victim);
        String fresh = cluster.startTaskManager();
        return new Injected(t, victim, String.format("kill -9 %s %.1f ms after a serving checkpoint was seen complete, started %s",
            victim, (t - completedAt) / 1e6, fresh));
      }
      case TIMEOUT_RESTORE -> {
        servingTaskManagers();   // fails early when serving runs nowhere
        long completedAt = awaitCheckpoint();
        List<String> victims = cluster.taskManagers();   // all: nothing may restore before the timeout
        long t = System.nanoTime();
        for (String v : victims) {
          cluster.killTaskManager(v);
        }
        long timeout = deployment.serving().get(ServingOptions.TRANSACTION_TIMEOUT_MS);
        Thread.sleep(timeout + 15_000);
        List<String> fresh = new ArrayList<>();
        for (int i = 0; i < victims.size(); i++) {
          fresh.add(cluster.startTaskManager());
        }
        return new Injected(t, String.join("+", victims), String.format("kill -9 %s %.1f ms after a serving checkpoint "
            + "was seen complete; %s started %.0f s later, past the %d ms transaction timeout", victims, (t - completedAt) / 1e6,
            fresh, (System.nanoTime() - t) / 1e9, timeout));
      }
      default -> throw new IllegalArgumentException(f.toString());
    }
  }

  /**
   * Waits for the serving job's next completed checkpoint and returns when it was seen: the
   * JobManager writes a checkpoint's {@code _metadata} when it completes, before it tells the
   * tasks (whose sinks then commit their transactions), so polling the shared checkpoint directory
   * every millisecond catches the moment before the commit.
   */
  private long awaitCheckpoint() throws Exception {
    // read as Flink reads it (LocalStack.flinkDir writes it unencoded: a space is no URI character)
    Path dir = Path.of(new org.apache.flink.core.fs.Path(deployment.serving().get(ServingOptions.CHECKPOINT_DIR)).toUri()
        .getPath()).resolve(deployment.servingJob());
    long before = newestCheckpoint(dir);
    LocalCluster.await("a serving checkpoint to complete under " + dir, 120, 1, () -> newestCheckpoint(dir) > before);
    return System.nanoTime();
  }

  private static long newestCheckpoint(Path jobDir) {
    if (!Files.isDirectory(jobDir)) {
      return -1;
    }
    try (var dirs = Files.list(jobDir)) {
      return dirs.filter(d -> d.getFileName().toString().startsWith("chk-") && Files.exists(d.resolve("_metadata")))
          .mapToLong(d -> Long.parseLong(d.getFileName().toString().substring(4))).max().orElse(-1);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private Injected killAndReplace(String victim, String note) throws IOException {
    long t = System.nanoTime();
    cluster.killTaskManager(victim);
    String fresh = cluster.startTaskManager();
    return new Injected(t, victim, (note.isEmpty() ? "" : note + " ") + "kill -9 " + victim + ", started " + fresh);
  }

  /** A TaskManager running the serving job's walk (the busiest target). */
  private String servingTaskManager() throws Exception {
    return servingTaskManagers().get(0);
  }

  /** The running TaskManagers that run the serving job's walk. */
  private List<String> servingTaskManagers() throws Exception {
    List<String> alive = cluster.taskManagers();
    List<String> serving = new ArrayList<>();
    for (String tm : cluster.rest().taskManagersOf(deployment.servingJob(), "async retrieval")) {
      if (alive.contains(tm) && !serving.contains(tm)) {
        serving.add(tm);
      }
    }
    if (serving.isEmpty()) {
      throw new IllegalStateException("no running TaskManager runs the serving job (alive: " + alive + ")");
    }
    return serving;
  }

  /** Overwrites 4 KiB in the middle of a snapshot file: its checksum no longer verifies. */
  private static void damage(Path snapshot) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(snapshot.toFile(), "rw")) {
      f.seek(f.length() / 2);
      f.write(new byte[(int) Math.min(4096, f.length() / 2)]);
    }
  }
}
